"""
Read and validate the ``RICHIE_SYNC`` setting.

Parsing is pure: :func:`parse` turns the raw setting into typed, frozen objects plus a list of
problems. System checks (``checks.py``) report the problems; the runtime (:func:`get_config`)
skips invalid instances so that one typo never stops delivery to the healthy ones.

.. setting_name: RICHIE_SYNC
.. setting_default: {"INSTANCES": []}
.. setting_description: Richie instances to keep in sync with this platform, and the global knobs
   of the synchronization (retries, Celery queue, languages, payload hook). See docs/configuration.md.
"""

import copy
import ipaddress
import json
import logging
import math
import string
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings

DEFAULT_RESOURCE_LINK_TEMPLATE = "{lms_root_url}/courses/{course_id}/info"
RESOURCE_LINK_FIELDS = frozenset({"lms_root_url", "lms_base", "lms_domain", "course_id", "org"})
ENROLLMENT_START_FALLBACKS = ("start", "none")

INSTANCE_KEYS = frozenset(
    {"NAME", "URL", "SECRET", "RESOURCE_LINK_TEMPLATE", "TIMEOUT", "ORGS", "ENABLED", "VERIFY_TLS", "SEND_PRICES"}
)
GLOBAL_KEYS = frozenset(
    {
        "INSTANCES",
        "MAX_RETRIES",
        "RETRY_BACKOFF",
        "RETRY_BACKOFF_MAX",
        "CELERY_QUEUE",
        "PAYLOAD_HOOK",
        "DEFAULT_LANGUAGE",
        "LANGUAGE_MAPPING",
        "ENROLLMENT_START_FALLBACK",
        "COALESCE_SECONDS",
        "ENROLLMENT_COUNT_INTERVAL",
        "PENDING_GRACE",
        "RETRY_FAILED_AFTER",
    }
)


@dataclass(frozen=True)
class Instance:
    """One Richie site to deliver to. ``secret`` is kept out of ``repr`` so it never reaches a log."""

    name: str
    url: str
    secret: str = field(repr=False)
    resource_link_template: str = DEFAULT_RESOURCE_LINK_TEMPLATE
    timeout: float = 10.0
    orgs: frozenset | None = None
    enabled: bool = True
    verify_tls: bool | str = True
    send_prices: bool = False

    @property
    def safe_url(self):
        """The URL without any ``user:password@`` part, for messages."""
        parts = urlsplit(self.url)
        return parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")).geturl()

    def serves(self, org):
        """Whether courses of ``org`` go to this instance (org allow-lists are case-insensitive)."""
        return self.enabled and (self.orgs is None or (org or "").lower() in self.orgs)


@dataclass(frozen=True)
class SyncConfig:
    """The whole validated configuration."""

    instances: tuple = ()
    max_retries: int = 8
    retry_backoff: float = 5.0
    retry_backoff_max: float = 600.0
    celery_queue: str | None = None
    payload_hook: str | None = None
    default_language: str = "en"
    language_mapping: tuple = ()  # (normalized Studio code, Richie code) pairs: hashable, so cacheable
    enrollment_start_fallback: str = "start"
    coalesce_seconds: float = 3.0  # a burst of publishes within this window gives one delivery
    enrollment_count_interval: float = 3600.0  # enrollment changes update Richie at most this often
    pending_grace: float = 300.0  # the sweep re-queues deliveries overdue by this much
    retry_failed_after: float = 1800.0  # the sweep retries deliveries that failed transiently after this

    def instance(self, name):
        """The enabled instance called ``name``, or None."""
        for instance in self.instances:
            if instance.name == name and instance.enabled:
                return instance
        return None

    def instances_for_org(self, org):
        return [instance for instance in self.instances if instance.serves(org)]


@dataclass(frozen=True)
class Problem:
    """A configuration problem, reported by ``manage.py check`` (see ``checks.py``)."""

    level: str  # "error" or "warning"
    code: str  # stable check id suffix, e.g. "E003"
    message: str
    hint: str = ""


# Each number's accepted range: a value outside it is reported, never used (a timeout of 1e12
# seconds or a NaN would pass a ">= 0" test and hang or crash a worker later).
NUMBER_RANGES = {
    "TIMEOUT": (0.1, 300.0),
    "MAX_RETRIES": (0, 100),
    "RETRY_BACKOFF": (0.0, 3600.0),
    "RETRY_BACKOFF_MAX": (0.0, 86400.0),
    "COALESCE_SECONDS": (0.0, 3600.0),
    "ENROLLMENT_COUNT_INTERVAL": (0.0, 604800.0),
    "PENDING_GRACE": (0.0, 86400.0),
    "RETRY_FAILED_AFTER": (0.0, 604800.0),
}
MAX_NAME_LENGTH = 100  # the sync-state table's instance column


def _number(value, key, label, problems, code):
    """``value`` as a finite number within ``NUMBER_RANGES[key]``, or None with a problem naming ``label``."""
    low, high = NUMBER_RANGES[key]
    integral = isinstance(low, int)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not (
        low <= value <= high
    ) or (integral and value != int(value)):
        kind = "a whole number" if integral else "a number"
        problems.append(Problem("error", code, f"{label} must be {kind} from {low} to {high}, got {value!r}."))
        return None
    return int(value) if integral else float(value)


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


def _sorted_keys(keys):
    """Keys of a user-given dict in a stable order, whatever their types."""
    return sorted(keys, key=repr)


def _has_control_characters(text):
    return any(ord(char) < 32 or ord(char) == 127 for char in text)


def _check_template(template, where, problems):
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as error:
        problems.append(
            Problem(
                "error",
                "E006",
                f"{where} RESOURCE_LINK_TEMPLATE {template!r} is malformed: {error}.",
                "Use Python format fields, e.g. '{lms_root_url}/courses/{course_id}/info'.",
            )
        )
        return False
    names = {name for _, name, _, _ in fields if name is not None}
    unknown = names - RESOURCE_LINK_FIELDS
    formatted = sorted({name for _, name, spec, conversion in fields if name is not None and (spec or conversion)})
    if unknown or "course_id" not in names or formatted:
        if formatted:
            what = f"formats fields {formatted} (format specs and conversions such as ':>20' or '!r' are not allowed)."
        elif unknown:
            what = f"uses unknown fields {sorted(unknown)}."
        else:
            what = "has no {course_id} field."
        problems.append(
            Problem(
                "error",
                "E006",
                f"{where} RESOURCE_LINK_TEMPLATE {template!r} {what}",
                f"Allowed fields: {', '.join(sorted(RESOURCE_LINK_FIELDS))}; {{course_id}} is required. "
                "Richie's COURSE_REGEX must match the resulting link.",
            )
        )
        return False
    return True


def _is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_problems(url, where):
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
                "error",
                "E004",
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
                "warning",
                "W001",
                f"{where} URL {url!r} uses plain http to a non-loopback host: course data and the "
                "signature travel unencrypted.",
                "Use https.",
            )
        )
    if "course-runs-sync" not in parts.path:
        problems.append(
            Problem(
                "warning",
                "W003",
                f"{where} URL {url!r} does not look like Richie's sync endpoint.",
                "The endpoint is https://<richie>/api/v1.0/course-runs-sync.",
            )
        )
    return problems


def _parse_orgs(orgs, where, problems):
    """``ORGS`` as a frozenset of lower-case codes (None: every organisation), or False when invalid."""
    if orgs is None:
        return None
    if not isinstance(orgs, (list, tuple)) or not all(isinstance(org, str) for org in orgs):
        problems.append(
            Problem("error", "E008", f"{where} ORGS must be a list of organisation codes, got {orgs!r}.", 'e.g. ["DemoX"].')
        )
        return False
    return frozenset(org.lower() for org in orgs)


def _parse_flags(raw, where, problems):
    """``ENABLED``, ``SEND_PRICES`` and ``VERIFY_TLS``, or None when one is invalid."""
    enabled, send_prices = raw.get("ENABLED", True), raw.get("SEND_PRICES", False)
    verify_tls = raw.get("VERIFY_TLS", True)
    if not isinstance(enabled, bool) or not isinstance(send_prices, bool):
        problems.append(Problem("error", "E009", f"{where}: ENABLED and SEND_PRICES must be booleans (True or False)."))
        return None
    if isinstance(verify_tls, str) and (not verify_tls.strip() or _has_control_characters(verify_tls)):
        # requests reads "" as "do not verify": refuse it rather than turn verification off silently.
        problems.append(
            Problem(
                "error", "E009", f"{where} VERIFY_TLS is an empty string.",
                "Use True (verify with the system's certificate authorities) or the path of a CA bundle file.",
            )
        )
        return None
    if not isinstance(verify_tls, (bool, str)):
        problems.append(Problem("error", "E009", f"{where} VERIFY_TLS must be True, False or a CA bundle path."))
        return None
    if verify_tls is False:
        problems.append(
            Problem(
                "warning",
                "W006",
                f"{where} has VERIFY_TLS = False: anyone on the path can impersonate Richie.",
                "Keep TLS verification on; for a private certificate authority set VERIFY_TLS to its CA bundle path.",
            )
        )
    return enabled, send_prices, verify_tls


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


def _parse_instance(raw, index, problems):
    if not isinstance(raw, dict):
        problems.append(
            Problem("error", "E002", f"RICHIE_SYNC['INSTANCES'][{index}] must be a dict, got {type(raw).__name__}.")
        )
        return None
    name = _parse_name(raw, index, problems)
    if name is None:
        return None
    where = f"Richie instance {name!r}"
    for key in _sorted_keys(set(raw) - INSTANCE_KEYS):
        problems.append(
            Problem("warning", "W002", f"{where}: unknown key {key!r} is ignored.", f"Known keys: {sorted(INSTANCE_KEYS)}.")
        )
    found = []
    found.extend(_url_problems(raw.get("URL"), where))
    secret = raw.get("SECRET")
    if not isinstance(secret, str) or not secret:
        found.append(
            Problem(
                "error",
                "E005",
                f"{where} has no SECRET.",
                "Use one of the secrets listed in Richie's RICHIE_COURSE_RUN_SYNC_SECRETS setting.",
            )
        )
    template = raw.get("RESOURCE_LINK_TEMPLATE", DEFAULT_RESOURCE_LINK_TEMPLATE)
    if not isinstance(template, str):
        found.append(Problem("error", "E006", f"{where} RESOURCE_LINK_TEMPLATE must be a string, got {template!r}."))
    else:
        _check_template(template, where, found)
    timeout = _number(raw.get("TIMEOUT", 10), "TIMEOUT", f"{where} TIMEOUT", found, "E007")
    orgs = _parse_orgs(raw.get("ORGS"), where, found)
    flags = _parse_flags(raw, where, found)
    problems.extend(found)
    if any(problem.level == "error" for problem in found) or flags is None:
        return None
    enabled, send_prices, verify_tls = flags
    return Instance(
        name=name,
        url=raw["URL"],
        secret=secret,
        resource_link_template=template,
        timeout=timeout,
        orgs=orgs,
        enabled=enabled,
        verify_tls=verify_tls,
        send_prices=send_prices,
    )


GLOBAL_NUMBERS = (
    ("MAX_RETRIES", "max_retries"),
    ("RETRY_BACKOFF", "retry_backoff"),
    ("RETRY_BACKOFF_MAX", "retry_backoff_max"),
    ("COALESCE_SECONDS", "coalesce_seconds"),
    ("ENROLLMENT_COUNT_INTERVAL", "enrollment_count_interval"),
    ("PENDING_GRACE", "pending_grace"),
    ("RETRY_FAILED_AFTER", "retry_failed_after"),
)


def parse(raw):
    """
    Return ``(SyncConfig, [Problem, ...])`` for a raw ``RICHIE_SYNC`` value. Never raises.

    Any value of any key gives a problem, not an exception: ``manage.py check``, ``migrate`` and
    every publish run with whatever the setting holds. The last-resort ``except`` turns a bug in
    this function into a reported problem rather than a crash of the platform's commands.
    """
    try:
        return _parse(raw)
    except Exception as error:  # pylint: disable=broad-except
        return SyncConfig(), [
            Problem(
                "error", "E001", f"RICHIE_SYNC could not be read ({type(error).__name__}); no instance is used.",
                "Check the setting's shape against docs/configuration.md, and report this as a bug of openedx-richie-sync.",
            )
        ]


def _parse(raw):
    problems = []
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return SyncConfig(), [Problem("error", "E001", f"RICHIE_SYNC must be a dict, got {type(raw).__name__}.")]
    for key in _sorted_keys(set(raw) - GLOBAL_KEYS):
        problems.append(Problem("warning", "W002", f"RICHIE_SYNC: unknown key {key!r} is ignored.", f"Known keys: {sorted(GLOBAL_KEYS)}."))
    raw_instances = raw.get("INSTANCES", [])
    if not isinstance(raw_instances, (list, tuple)):
        problems.append(Problem("error", "E001", "RICHIE_SYNC['INSTANCES'] must be a list of dicts."))
        raw_instances = []
    instances, seen = [], set()
    for index, raw_instance in enumerate(raw_instances):
        instance = _parse_instance(raw_instance, index, problems)
        if instance is None:
            continue
        if instance.name in seen:
            problems.append(
                Problem("error", "E010", f"Richie instance name {instance.name!r} is used twice.", "NAME must be unique.")
            )
            continue
        seen.add(instance.name)
        instances.append(instance)
    if not instances and not problems:
        problems.append(
            Problem(
                "warning",
                "W004",
                "RICHIE_SYNC has no instance: nothing will be sent to Richie.",
                "Add at least one entry to RICHIE_SYNC['INSTANCES'].",
            )
        )

    kwargs = {}
    for key, attr in GLOBAL_NUMBERS:
        if key in raw:
            value = _number(raw[key], key, f"RICHIE_SYNC['{key}']", problems, "E011")
            if value is not None:
                kwargs[attr] = value
    for key, attr in (("CELERY_QUEUE", "celery_queue"), ("PAYLOAD_HOOK", "payload_hook")):
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip() or _has_control_characters(value)):
            problems.append(Problem("error", "E012", f"RICHIE_SYNC['{key}'] must be a non-empty string or None, got {value!r}."))
        elif value is not None:
            kwargs[attr] = value
    if "payload_hook" in kwargs and "." not in kwargs["payload_hook"]:
        problems.append(
            Problem("error", "E013", f"RICHIE_SYNC['PAYLOAD_HOOK'] {kwargs['payload_hook']!r} is not a dotted path.")
        )
    kwargs.update(_parse_languages(raw, problems))
    fallback = raw.get("ENROLLMENT_START_FALLBACK", "start")
    if not isinstance(fallback, str) or fallback not in ENROLLMENT_START_FALLBACKS:
        problems.append(
            Problem(
                "error",
                "E015",
                f"RICHIE_SYNC['ENROLLMENT_START_FALLBACK'] must be one of {ENROLLMENT_START_FALLBACKS}, got {fallback!r}.",
            )
        )
    else:
        kwargs["enrollment_start_fallback"] = fallback
    return SyncConfig(instances=tuple(instances), **kwargs), problems


def _parse_languages(raw, problems):
    from .languages import RICHIE_LANGUAGE_CODES, normalize_code  # pylint: disable=import-outside-toplevel

    result = {}
    default = raw.get("DEFAULT_LANGUAGE", "en")
    if not isinstance(default, str) or default not in RICHIE_LANGUAGE_CODES:
        problems.append(
            Problem(
                "error",
                "E014",
                f"RICHIE_SYNC['DEFAULT_LANGUAGE'] {default!r} is not a language code Richie accepts.",
                "Use a lower-case Django language code such as 'en', 'fr' or 'pt-br'.",
            )
        )
    else:
        result["default_language"] = default
    mapping = raw.get("LANGUAGE_MAPPING", {})
    if not isinstance(mapping, dict):
        problems.append(Problem("error", "E014", "RICHIE_SYNC['LANGUAGE_MAPPING'] must be a dict."))
        return result
    bad = {
        source: target for source, target in mapping.items()
        if not isinstance(target, str) or target not in RICHIE_LANGUAGE_CODES
    }
    if bad:
        problems.append(
            Problem(
                "error",
                "E014",
                f"RICHIE_SYNC['LANGUAGE_MAPPING'] maps to codes Richie rejects: {bad}.",
                "Targets must be lower-case Django language codes such as 'es', 'pt-br' or 'zh-hans'.",
            )
        )
    result["language_mapping"] = tuple(
        sorted((normalize_code(str(source)), target) for source, target in mapping.items() if source not in bad)
    )
    return result


LEGACY_DEFAULT_TEMPLATE = "https://{lms_domain}/courses/{course_id}/info"
LEGACY_FALSE_STRINGS = frozenset({"", "0", "false", "no", "off", "none", "null"})


def legacy_flag(value):
    """
    A flag of the earlier plugin, read with its meaning: YAML files and site configurations
    often hold ``"false"`` or ``"0"`` as strings, which must not turn prices on.
    """
    if isinstance(value, str):
        return value.strip().lower() not in LEGACY_FALSE_STRINGS
    return bool(value)


def from_legacy(hooks, language_mapping=None, include_payment_fields=False):
    """
    ``RICHIE_SYNC``-shaped settings from the earlier ``richie-openedx-sync`` plugin's.

    Its ``RICHIE_OPENEDX_SYNC_COURSE_HOOKS`` items (``url``, ``secret``, ``timeout``,
    ``resource_link_template`` with ``{lms_domain}`` and ``{course_id}``) become instances named
    after their host, so that their sync state survives restarts.
    """
    instances, names = [], set()
    if not isinstance(hooks, (list, tuple)):
        hooks = [hooks] if hooks else []  # a lone dict, or garbage that parse() reports
    for hook in hooks:
        if not isinstance(hook, dict):
            instances.append(hook)  # reported by parse() as an invalid instance
            continue
        host = urlsplit(str(hook.get("url", ""))).hostname or "richie"
        name, index = host, 2
        while name in names:
            name, index = f"{host}-{index}", index + 1
        names.add(name)
        timeout = hook.get("timeout", 5)
        try:
            timeout = float(timeout)
        except (TypeError, ValueError):
            pass  # parse() reports it
        instances.append(
            {
                "NAME": name,
                "URL": hook.get("url"),
                "SECRET": hook.get("secret"),
                "TIMEOUT": timeout,
                "RESOURCE_LINK_TEMPLATE": hook.get("resource_link_template") or LEGACY_DEFAULT_TEMPLATE,
                "SEND_PRICES": legacy_flag(include_payment_fields),
                # HTTP basic auth would replace the signature header: reported as an ignored key.
                **({"auth_user": "(ignored)"} if "auth_user" in hook else {}),
            }
        )
    raw = {"INSTANCES": instances}
    if isinstance(language_mapping, str):  # a JSON string, as some YAML files hold it
        try:
            language_mapping = json.loads(language_mapping)
        except ValueError:
            language_mapping = {"<RICHIE_OPENEDX_SYNC_LANGUAGE_MAPPING is not valid JSON>": None}
    if language_mapping:
        raw["LANGUAGE_MAPPING"] = language_mapping  # parse() reports a value that is not a dict
    return raw


def raw_setting():
    """
    The raw setting (``settings/production.py`` already folded ``ENV_TOKENS`` into it).

    Without ``RICHIE_SYNC`` instances, the settings of the earlier ``richie-openedx-sync`` plugin
    are read with the same meaning, so that replacing that plugin needs no configuration change.
    """
    raw = getattr(settings, "RICHIE_SYNC", None)
    if isinstance(raw, dict) and raw.get("INSTANCES"):
        return raw
    hooks = getattr(settings, "RICHIE_OPENEDX_SYNC_COURSE_HOOKS", None)
    if not hooks:
        return raw
    legacy = from_legacy(
        hooks,
        getattr(settings, "RICHIE_OPENEDX_SYNC_LANGUAGE_MAPPING", None),
        getattr(settings, "RICHIE_OPENEDX_SYNC_INCLUDE_PAYMENT_FIELDS", False),
    )
    if isinstance(raw, dict):  # global knobs of RICHIE_SYNC still apply to the legacy instances
        legacy.update({key: value for key, value in raw.items() if key != "INSTANCES"})
    return legacy


log = logging.getLogger(__name__)
_cache = {"raw": None, "parsed": None}
_logged = set()


def get_config_and_problems():
    """
    ``(SyncConfig, problems)`` of the current settings, parsed once per distinct value.

    Publishes and deliveries ask for the configuration on every call; parsing it each time cost
    more than the rest of the receiver. The raw value is kept as a deep copy and compared by
    equality, so a setting changed in place (tests, ``override_settings``) is parsed again.
    """
    raw = raw_setting()
    if _cache["parsed"] is None or _cache["raw"] != raw:
        parsed = parse(raw)
        _cache["raw"], _cache["parsed"] = copy.deepcopy(raw), parsed
        _log_problems(parsed[1])
    return _cache["parsed"]


def _log_problems(problems):
    """Log each configuration error once per process: what is skipped, and where to look."""
    for problem in problems:
        if problem.level == "error" and problem.message not in _logged:
            _logged.add(problem.message)
            log.error(
                "Richie sync configuration error (richie_sync.%s): %s %s What it names is not used: deliveries skip it "
                "until RICHIE_SYNC is fixed. `./manage.py cms check` lists every problem.",
                problem.code, problem.message, problem.hint,
            )


def get_config():
    """The usable configuration; invalid instances are left out (``manage.py check`` says why)."""
    return get_config_and_problems()[0]


def error_problems():
    """The Error-level problems of the current configuration (for the command, admin and checks)."""
    return [problem for problem in get_config_and_problems()[1] if problem.level == "error"]


@dataclass(frozen=True)
class OrgPolicy:
    """
    What an organisation's site configuration changes (key ``RICHIE_SYNC``, or the earlier plugin's).

    ``instances`` None: the global instances whose ORGS admit the organisation.
    """

    enabled: bool = True
    instances: tuple | None = None  # names of global instances, or Instance objects of its own
    send_prices: bool | None = None
    lms_root_url: str | None = None


def parse_org_policy(org, values, root_scheme="https"):
    """
    The ``OrgPolicy`` of ``org`` from its site-configuration values (pure), and problems.

    ``values`` holds the org's ``RICHIE_SYNC``, ``RICHIE_OPENEDX_SYNC_COURSE_HOOKS``,
    ``RICHIE_OPENEDX_SYNC_INCLUDE_PAYMENT_FIELDS``, ``LMS_ROOT_URL`` and ``LMS_BASE`` values (None
    when unset). ``RICHIE_SYNC`` may hold ``ENABLED`` (False excludes the organisation),
    ``INSTANCES`` (names of instances declared in settings, so that secrets stay out of the
    database; or full instance dicts) and ``SEND_PRICES``.
    """
    problems = []
    root_url, base = values.get("LMS_ROOT_URL"), values.get("LMS_BASE")
    lms_root_url = root_url if isinstance(root_url, str) and root_url else None
    if lms_root_url is None and isinstance(base, str) and base:
        lms_root_url = f"{root_scheme}://{base}"
    own = values.get("RICHIE_SYNC")
    legacy_hooks = values.get("RICHIE_OPENEDX_SYNC_COURSE_HOOKS")
    legacy_prices = values.get("RICHIE_OPENEDX_SYNC_INCLUDE_PAYMENT_FIELDS")
    if not isinstance(own, dict):
        if own is not None:
            problems.append(Problem("error", "E020", "RICHIE_SYNC must be a dict."))
        own = {}
    if own.get("ENABLED") is False:
        return OrgPolicy(enabled=False, lms_root_url=lms_root_url), problems
    instances = None
    raw_instances = own.get("INSTANCES")
    if raw_instances is None and legacy_hooks:
        raw_instances = from_legacy(legacy_hooks, include_payment_fields=legacy_flag(legacy_prices))["INSTANCES"]
    if raw_instances is not None:
        instances = []
        for index, item in enumerate(raw_instances if isinstance(raw_instances, (list, tuple)) else [raw_instances]):
            if isinstance(item, str):
                instances.append(item)
            else:
                instance = _parse_instance(item, index, problems)
                if instance is not None:
                    instances.append(instance)
        instances = tuple(instances)
    send_prices = own.get("SEND_PRICES")
    if send_prices is not None and not isinstance(send_prices, bool):
        problems.append(Problem("error", "E020", f"RICHIE_SYNC['SEND_PRICES'] must be True or False, got {send_prices!r}."))
        send_prices = None
    if send_prices is None and legacy_prices is not None:
        send_prices = legacy_flag(legacy_prices)
    return OrgPolicy(
        instances=instances,
        send_prices=send_prices,
        lms_root_url=lms_root_url,
    ), [Problem(p.level, p.code, f"Site configuration of {org}: {p.message}", p.hint) for p in problems]
