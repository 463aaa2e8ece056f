"""
Turn a raw ``RICHIE_SYNC`` value into a ``SyncConfig`` and a list of problems (pure; never raises).

Each key is read by the reader its row of ``INSTANCE_FIELDS`` or ``GLOBAL_FIELDS`` names, so a
new key is one row and, at most, one small reader. A reader reports what is wrong with its value
and returns what to use, or ``INVALID``. An instance with an Error is left out, so that one typo
never stops delivery to the healthy ones; a global knob with an Error keeps its default.
"""

import ipaddress
import math
import string
from typing import Callable, NamedTuple
from urllib.parse import urlsplit

from ..languages import RICHIE_LANGUAGE_CODES, normalize_code
from .schema import (
    DEFAULT_RESOURCE_LINK_TEMPLATE,
    ENROLLMENT_START_FALLBACKS,
    MAX_NAME_LENGTH,
    NUMBER_RANGES,
    RESOURCE_LINK_FIELDS,
    Instance,
    Problem,
    SyncConfig,
)

INVALID = object()  # a reader's answer for a value it reported as unusable


def _invalid(problems, code, message, hint=""):
    """Report an unusable value as an error ``code``; return ``INVALID``, the reader's answer for it."""
    problems.append(Problem("error", code, message, hint))
    return INVALID


GLOBAL_WHERE = "RICHIE_SYNC"


class Field(NamedTuple):
    """How one key is read: the attribute it fills, its reader, the code of its errors, its default."""

    key: str
    attr: str
    read: Callable  # (value, where, field, problems) -> value to use, or INVALID
    code: str
    default: object = None  # an instance's value when the key is absent (global knobs keep the dataclass's)

    def label(self, where):
        """How messages name the key: ``Richie instance 'x' TIMEOUT`` or ``RICHIE_SYNC['MAX_RETRIES']``."""
        return f"RICHIE_SYNC['{self.key}']" if where == GLOBAL_WHERE else f"{where} {self.key}"


def redact_url(url):
    """``url`` without any ``user:password@`` part, whatever its scheme, for messages and logs."""
    text = str(url)
    scheme, sep, rest = text.partition("://")
    if not sep:
        return text
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    return f"{scheme}{sep}{authority}{slash}{path}"


def _has_control_characters(text):
    return any(ord(char) < 32 or ord(char) == 127 for char in text)


def _is_loopback(host):
    """Whether ``host`` is this machine, where plain http exposes nothing on the network."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- readers ------------------------------------------------------------------------------------


def _is_number_within(value, low, high, integral):
    """Whether ``value`` is a finite number (not a bool) from ``low`` to ``high``, whole when ``integral``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return low <= value <= high and not (integral and value != int(value))


def _number(value, where, field, problems):
    """A finite number within ``NUMBER_RANGES[key]`` (a whole one when the range is)."""
    low, high = NUMBER_RANGES[field.key]
    integral = isinstance(low, int)
    if not _is_number_within(value, low, high, integral):
        kind = "a whole number" if integral else "a number"
        message = f"{field.label(where)} must be {kind} from {low} to {high}, got {value!r}."
        return _invalid(problems, field.code, message)
    return int(value) if integral else float(value)


def _url(value, where, field, problems):  # pylint: disable=unused-argument  # every reader's signature
    """The instance's endpoint; its Errors leave the instance out."""
    problems.extend(url_problems(value, where))
    return value


def url_problems(url, where):
    """Problems of an instance ``URL`` (errors make the instance unusable)."""
    hint = "Set URL to https://<richie>/api/v1.0/course-runs-sync."
    if not isinstance(url, str) or not url:
        return [Problem("error", "E004", f"{where} has no URL.", hint)]
    shown = redact_url(url)
    if _has_control_characters(url) or url != url.strip():
        return [Problem("error", "E004", f"{where} URL {shown!r} contains spaces or control characters.", hint)]
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port  # .port raises ValueError for a bad port
    except ValueError as error:
        return [Problem("error", "E004", f"{where} URL {shown!r} is not a valid URL ({error}).", hint)]
    if parts.username or parts.password:
        return [
            Problem(
                "error", "E004",
                f"{where} URL {shown!r} has credentials (user:password@): they would replace the signature in "
                "the Authorization header and Richie would answer 401.",
                "Remove them from URL; Richie authenticates the plugin by SECRET alone.",
            )
        ]
    if parts.scheme not in ("http", "https") or not host:
        return [Problem("error", "E004", f"{where} URL {shown!r} is not an http(s) URL.", hint)]
    problems = []
    if parts.scheme == "http" and not _is_loopback(host):
        problems.append(
            Problem(
                "warning", "W001",
                f"{where} URL {url!r} uses plain http to a non-loopback host: course data and the "
                "signature travel unencrypted.",
                "Use https.",
            )
        )
    if "course-runs-sync" not in parts.path:
        problems.append(
            Problem(
                "warning", "W003", f"{where} URL {url!r} does not look like Richie's sync endpoint.",
                "The endpoint is https://<richie>/api/v1.0/course-runs-sync.",
            )
        )
    return problems


def _secret(value, where, field, problems):
    """The shared secret Richie checks the signature with: any non-empty string."""
    if isinstance(value, str) and value:
        return value
    return _invalid(
        problems, field.code, f"{where} has no SECRET.",
        "Use one of the secrets listed in Richie's RICHIE_COURSE_RUN_SYNC_SECRETS setting.",
    )


def _template(value, where, field, problems):
    """A resource link format string, checked now so that no delivery fails on it later."""
    if not isinstance(value, str):
        message = f"{where} RESOURCE_LINK_TEMPLATE must be a string, got {value!r}."
        return _invalid(problems, field.code, message)
    try:
        fields = list(string.Formatter().parse(value))
    except ValueError as error:
        return _invalid(
            problems, field.code, f"{where} RESOURCE_LINK_TEMPLATE {value!r} is malformed: {error}.",
            "Use Python format fields, e.g. '{lms_root_url}/courses/{course_id}/info'.",
        )
    what = _template_fault(fields)
    if what:
        return _invalid(
            problems, field.code, f"{where} RESOURCE_LINK_TEMPLATE {value!r} {what}",
            f"Allowed fields: {', '.join(sorted(RESOURCE_LINK_FIELDS))}; {{course_id}} is required. "
            "Richie's COURSE_REGEX must match the resulting link.",
        )
    return value


def _template_fault(fields):
    """What is wrong with a template's parsed fields, or ``""``."""
    names = {name for _, name, _, _ in fields if name is not None}
    unknown = names - RESOURCE_LINK_FIELDS
    formatted = sorted({name for _, name, spec, conversion in fields if name is not None and (spec or conversion)})
    if formatted:
        return f"formats fields {formatted} (format specs and conversions such as ':>20' or '!r' are not allowed)."
    if unknown:
        return f"uses unknown fields {sorted(unknown)}."
    return "" if "course_id" in names else "has no {course_id} field."


def _orgs(value, where, field, problems):
    """``ORGS`` as a frozenset of lower-case codes (None: every organisation)."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not all(isinstance(org, str) for org in value):
        return _invalid(
            problems, field.code, f"{where} ORGS must be a list of organisation codes, got {value!r}.",
            'e.g. ["DemoX"].',
        )
    return frozenset(org.lower() for org in value)


def _boolean(value, where, field, problems):
    """A real bool: a string such as ``"False"`` would be true, so it is refused."""
    if isinstance(value, bool):
        return value
    message = f"{where}: {field.key} must be a boolean (True or False), got {value!r}."
    return _invalid(problems, field.code, message)


def _verify_tls(value, where, field, problems):
    """True, False (warned) or a CA bundle path; ``""`` is refused: requests reads it as "do not verify"."""
    if isinstance(value, str) and (not value.strip() or _has_control_characters(value)):
        return _invalid(
            problems, field.code, f"{where} VERIFY_TLS is an empty string.",
            "Use True (verify with the system's certificate authorities) or the path of a CA bundle file.",
        )
    if not isinstance(value, (bool, str)):
        return _invalid(problems, field.code, f"{where} VERIFY_TLS must be True, False or a CA bundle path.")
    if value is False:
        problems.append(
            Problem(
                "warning", "W006", f"{where} has VERIFY_TLS = False: anyone on the path can impersonate Richie.",
                "Keep TLS verification on; for a private certificate authority set VERIFY_TLS to its CA bundle path.",
            )
        )
    return value


def _optional_string(value, where, field, problems):
    """A non-empty string without control characters, or None."""
    if value is not None and (not isinstance(value, str) or not value.strip() or _has_control_characters(value)):
        message = f"{field.label(where)} must be a non-empty string or None, got {value!r}."
        return _invalid(problems, field.code, message)
    return value


def _hook(value, where, field, problems):
    """A dotted path (still used when it is not one: each delivery then reports the hook)."""
    value = _optional_string(value, where, field, problems)
    if isinstance(value, str) and "." not in value:
        problems.append(Problem("error", "E013", f"{field.label(where)} {value!r} is not a dotted path."))
    return value


def _language(value, where, field, problems):
    """A language code Richie accepts, taken as written (``LANGUAGE_MAPPING`` is what normalizes)."""
    if isinstance(value, str) and value in RICHIE_LANGUAGE_CODES:
        return value
    return _invalid(
        problems, field.code, f"{field.label(where)} {value!r} is not a language code Richie accepts.",
        "Use a lower-case Django language code such as 'en', 'fr' or 'pt-br'.",
    )


def _language_mapping(value, where, field, problems):
    """``(normalized Studio code, Richie code)`` pairs; pairs whose target Richie rejects are reported and left out."""
    if not isinstance(value, dict):
        return _invalid(problems, field.code, f"{field.label(where)} must be a dict.")
    bad = {
        source: target for source, target in value.items()
        if not isinstance(target, str) or target not in RICHIE_LANGUAGE_CODES
    }
    if bad:
        problems.append(
            Problem(
                "error", field.code, f"{field.label(where)} maps to codes Richie rejects: {bad}.",
                "Targets must be lower-case Django language codes such as 'es', 'pt-br' or 'zh-hans'.",
            )
        )
    return tuple(sorted((normalize_code(str(source)), target) for source, target in value.items() if source not in bad))


def _fallback(value, where, field, problems):
    """One of ``ENROLLMENT_START_FALLBACKS``: what a course run without enrollment start sends."""
    if isinstance(value, str) and value in ENROLLMENT_START_FALLBACKS:
        return value
    message = f"{field.label(where)} must be one of {ENROLLMENT_START_FALLBACKS}, got {value!r}."
    return _invalid(problems, field.code, message)


# -- the tables ----------------------------------------------------------------------------------

INSTANCE_FIELDS = (  # NAME is read first, on its own: every other message names the instance
    Field("URL", "url", _url, "E004"),
    Field("SECRET", "secret", _secret, "E005"),
    Field("RESOURCE_LINK_TEMPLATE", "resource_link_template", _template, "E006", DEFAULT_RESOURCE_LINK_TEMPLATE),
    Field("TIMEOUT", "timeout", _number, "E007", 10),
    Field("ORGS", "orgs", _orgs, "E008"),
    Field("ENABLED", "enabled", _boolean, "E009", True),
    Field("SEND_PRICES", "send_prices", _boolean, "E009", False),
    Field("VERIFY_TLS", "verify_tls", _verify_tls, "E009", True),
)
GLOBAL_FIELDS = (  # INSTANCES is read on its own
    Field("MAX_RETRIES", "max_retries", _number, "E011"),
    Field("RETRY_BACKOFF", "retry_backoff", _number, "E011"),
    Field("RETRY_BACKOFF_MAX", "retry_backoff_max", _number, "E011"),
    Field("COALESCE_SECONDS", "coalesce_seconds", _number, "E011"),
    Field("ENROLLMENT_COUNT_INTERVAL", "enrollment_count_interval", _number, "E011"),
    Field("PENDING_GRACE", "pending_grace", _number, "E011"),
    Field("RETRY_FAILED_AFTER", "retry_failed_after", _number, "E011"),
    Field("CELERY_QUEUE", "celery_queue", _optional_string, "E012"),
    Field("PAYLOAD_HOOK", "payload_hook", _hook, "E012"),
    Field("DEFAULT_LANGUAGE", "default_language", _language, "E014"),
    Field("LANGUAGE_MAPPING", "language_mapping", _language_mapping, "E014"),
    Field("ENROLLMENT_START_FALLBACK", "enrollment_start_fallback", _fallback, "E015"),
)
INSTANCE_KEYS = frozenset({"NAME"} | {field.key for field in INSTANCE_FIELDS})
GLOBAL_KEYS = frozenset({"INSTANCES"} | {field.key for field in GLOBAL_FIELDS})


def _read_fields(fields, raw, where, problems, absent_keeps_default):
    """``{attribute: value}`` of the usable values of ``raw`` (absent keys: ``Field.default``, or left out)."""
    values = {}
    for field in fields:
        if absent_keeps_default and field.key not in raw:
            continue
        value = field.read(raw.get(field.key, field.default), where, field, problems)
        if value is not INVALID:
            values[field.attr] = value
    return values


def _unknown_keys(raw, known, where, problems):
    for key in sorted(set(raw) - known, key=repr):  # user-given keys, of any type: a stable order
        message = f"{where}: unknown key {key!r} is ignored."
        problems.append(Problem("warning", "W002", message, f"Known keys: {sorted(known)}."))


def _parse_name(raw, index, problems):
    """The instance's ``NAME``, or None with a problem."""
    name = raw.get("NAME")
    where = f"RICHIE_SYNC['INSTANCES'][{index}]"
    if not isinstance(name, str) or not name.strip():
        problems.append(Problem("error", "E003", f"{where} has no NAME.", "Give every instance a unique NAME."))
        return None
    if _has_control_characters(name) or len(name) > MAX_NAME_LENGTH:
        problems.append(
            Problem(
                "error", "E003", f"{where} NAME {name[:MAX_NAME_LENGTH]!r} has control characters or is longer than "
                f"{MAX_NAME_LENGTH} characters.", "Use a short name such as 'catalog'.",
            )
        )
        return None
    return name


def parse_instance(raw, index, problems):
    """The ``Instance`` described by ``raw`` (item ``index`` of a list), or None when it has an Error."""
    if not isinstance(raw, dict):
        problems.append(
            Problem("error", "E002", f"RICHIE_SYNC['INSTANCES'][{index}] must be a dict, got {type(raw).__name__}.")
        )
        return None
    name = _parse_name(raw, index, problems)
    if name is None:
        return None
    where = f"Richie instance {name!r}"
    _unknown_keys(raw, INSTANCE_KEYS, where, problems)
    found = []
    values = _read_fields(INSTANCE_FIELDS, raw, where, found, absent_keeps_default=False)
    problems.extend(found)
    if any(problem.level == "error" for problem in found):
        return None
    return Instance(name=name, **values)


def _parse_instances(raw_instances, problems):
    """The usable instances, in order; the second of two with one name is an Error."""
    if not isinstance(raw_instances, (list, tuple)):
        problems.append(Problem("error", "E001", "RICHIE_SYNC['INSTANCES'] must be a list of dicts."))
        return ()
    instances, seen = [], set()
    for index, raw_instance in enumerate(raw_instances):
        instance = parse_instance(raw_instance, index, problems)
        if instance is None:
            continue
        if instance.name in seen:
            message = f"Richie instance name {instance.name!r} is used twice."
            problems.append(Problem("error", "E010", message, "NAME must be unique."))
            continue
        seen.add(instance.name)
        instances.append(instance)
    return tuple(instances)


def parse(raw):
    """
    Return ``(SyncConfig, [Problem, ...])`` for a raw ``RICHIE_SYNC`` value. Never raises.

    Any value of any key gives a problem, not an exception: ``manage.py check``, ``migrate`` and
    every publish run with whatever the setting holds. The last-resort ``except`` turns a bug in
    this function into a reported problem rather than a crash of the platform's commands.
    """
    try:
        return _parse(raw)
    except Exception as error:  # pylint: disable=broad-except  # never raise: see the docstring
        return SyncConfig(), [
            Problem(
                "error", "E001", f"RICHIE_SYNC could not be read ({type(error).__name__}); no instance is used.",
                "Check the setting's shape against docs/configuration.md, and report this as a bug of "
                "openedx-richie-sync.",
            )
        ]


def _parse(raw):
    """``parse`` without its safety net: the instances, then the global knobs, with their problems."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return SyncConfig(), [Problem("error", "E001", f"RICHIE_SYNC must be a dict, got {type(raw).__name__}.")]
    problems = []
    _unknown_keys(raw, GLOBAL_KEYS, GLOBAL_WHERE, problems)
    instances = _parse_instances(raw.get("INSTANCES", []), problems)
    if not instances and not problems:
        problems.append(
            Problem(
                "warning", "W004", "RICHIE_SYNC has no instance: nothing will be sent to Richie.",
                "Add at least one entry to RICHIE_SYNC['INSTANCES'].",
            )
        )
    values = _read_fields(GLOBAL_FIELDS, raw, GLOBAL_WHERE, problems, absent_keeps_default=True)
    return SyncConfig(instances=instances, **values), problems
