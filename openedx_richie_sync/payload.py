"""
Map a course run to the JSON object Richie's course-run sync API reads.

Everything here is pure: ``data.CourseRun`` is a plain snapshot built by ``platform_api`` from the
platform's CourseOverview, and :func:`build_payload` turns it into a dict for one instance.
"""

from datetime import timezone
from decimal import Decimal
from functools import lru_cache

from django.utils.module_loading import import_string

from .languages import RICHIE_LANGUAGE_CODES, richie_languages

# Open edX's CourseOverview.catalog_visibility → Richie's own values.
CATALOG_VISIBILITY = {
    "both": "course_and_search",
    "about": "course_only",
    "none": "hidden",
}
DEFAULT_CATALOG_VISIBILITY = "course_and_search"
MAX_RESOURCE_LINK_LENGTH = 200


class PayloadError(ValueError):
    """The course cannot be expressed as a valid Richie payload (the message says why and what to do)."""

    retryable = False


class HookError(PayloadError):
    """PAYLOAD_HOOK raised: it may call a service that is down, so the delivery is retried."""

    retryable = True


@lru_cache(maxsize=4096)
def iso_datetime(value):
    """ISO 8601 in UTC with an explicit ``Z``: Richie reads offset-less dates in its own time zone."""
    if value is None:
        return None
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(timezone.utc)
    return value.replace(tzinfo=None).isoformat() + "Z"


def richie_visibility(catalog_visibility):
    """Richie's ``catalog_visibility`` for Open edX's value (``None`` or unknown: shown everywhere)."""
    value = (catalog_visibility or "").strip().lower()
    if value in CATALOG_VISIBILITY.values():
        return value
    return CATALOG_VISIBILITY.get(value, DEFAULT_CATALOG_VISIBILITY)


def format_resource_link(run, instance):
    """The instance's RESOURCE_LINK_TEMPLATE filled for ``run``, whatever its length."""
    root = run.lms_root_url.rstrip("/")
    lms_base = root.split("://", 1)[-1]
    return instance.resource_link_template.format(
        lms_root_url=root, lms_base=lms_base, lms_domain=lms_base, course_id=run.course_id, org=run.org
    )


def resource_link(run, instance):
    """The run's identity in Richie, from the instance's RESOURCE_LINK_TEMPLATE."""
    link = format_resource_link(run, instance)
    if len(link) > MAX_RESOURCE_LINK_LENGTH:
        raise PayloadError(
            f"Course {run.course_id}: resource link {link!r} is {len(link)} characters long; Richie accepts "
            f"at most {MAX_RESOURCE_LINK_LENGTH}. Shorten RESOURCE_LINK_TEMPLATE of instance {instance.name!r}."
        )
    return link


FREE_MODES_WITH_CERTIFICATE = frozenset({"honor"})


def _decimal(amount):
    return f"{Decimal(amount):.2f}"


def next_refresh(modes):
    """
    When the price fields of ``modes`` will change by themselves (the first mode to expire), or None.

    An expiring mode sends no signal: the sweep asks for a delivery at that time.
    """
    return min((mode[3] for mode in modes or () if len(mode) > 3 and mode[3] is not None), default=None)


def price_fields(modes):
    """
    Richie's offer and price fields from the course's modes (``(slug, min_price, currency)``).

    No paid mode: the course and its certificate are free. Free and paid modes: the course is
    free (``partially_free`` when the free mode gives no certificate, like ``audit``) and the
    certificate costs the cheapest paid mode. Only paid modes: the course costs the cheapest one
    and the certificate comes with it. A currency is sent only with a price (Richie rejects it
    alone); prices that do not apply are cleared, since Richie keeps fields a sync omits.
    """
    free = [mode for mode in modes if not mode[1]]
    paid = sorted((mode for mode in modes if mode[1]), key=lambda mode: mode[1])
    fields = {"price": None, "certificate_price": None}
    if not paid:
        fields.update(offer="free", certificate_offer="free")
    elif free:
        certificate = any(mode[0] in FREE_MODES_WITH_CERTIFICATE for mode in free)
        fields.update(
            offer="free" if certificate else "partially_free",
            certificate_offer="paid",
            certificate_price=_decimal(paid[0][1]),
            price_currency=paid[0][2].upper(),
        )
    else:
        fields.update(
            offer="paid", price=_decimal(paid[0][1]), price_currency=paid[0][2].upper(), certificate_offer="free"
        )
    return fields


def hidden_payload(run, instance):
    """
    What to send for a course that no longer exists in Open edX: hide its run in Richie.

    A partial update (Richie keeps the other fields), so it needs nothing but the resource link;
    publishing the course again later sends a full payload that shows it again.
    """
    return {"resource_link": resource_link(run, instance), "catalog_visibility": "hidden"}


def build_payload(run, instance, config):
    """
    The sync payload for ``run`` on ``instance``.

    A missing ``enrollment_start`` means "enrollment open" in Open edX but "to be scheduled" in
    Richie, so it falls back to the course start unless ENROLLMENT_START_FALLBACK is "none".
    """
    if run.load_error:
        raise PayloadError(run.load_error)
    enrollment_start = run.enrollment_start
    if enrollment_start is None and config.enrollment_start_fallback == "start":
        enrollment_start = run.start
    payload = {
        "resource_link": resource_link(run, instance),
        "start": iso_datetime(run.start),
        "end": iso_datetime(run.end),
        "enrollment_start": iso_datetime(enrollment_start),
        "enrollment_end": iso_datetime(run.enrollment_end),
        "languages": list(_languages(run.language, config.language_mapping, config.default_language)),
        "enrollment_count": max(int(run.enrollment_count or 0), 0),
        "catalog_visibility": richie_visibility(run.catalog_visibility),
    }
    if instance.send_prices and run.modes is not None:
        payload.update(price_fields(run.modes))
    return apply_hook(payload, run, instance, config)


@lru_cache(maxsize=1024)
def _languages(language, mapping, default):
    """``richie_languages``, cached: a resync meets the same few codes thousands of times."""
    return tuple(richie_languages(language, dict(mapping), default))


def apply_hook(payload, run, instance, config):
    """
    Let the operator's PAYLOAD_HOOK amend the payload; it must keep the resource link and languages.

    Every way the hook can fail becomes a ``PayloadError`` on that course, never an exception
    that escapes the delivery: a hook that raises may depend on a service that is down, so that
    one is retried (``HookError.retryable``); the others need the hook fixed.
    """
    if not config.payload_hook:
        return payload
    where = f"Course {run.course_id}: PAYLOAD_HOOK {config.payload_hook}"
    try:
        hook = import_string(config.payload_hook)
    except ImportError as error:
        raise PayloadError(f"{where} cannot be imported ({error}). Install it, or remove PAYLOAD_HOOK.") from error
    if not callable(hook):
        raise PayloadError(f"{where} is not callable. Point PAYLOAD_HOOK at a function.")
    try:
        amended = hook(dict(payload), course_run=run, instance_name=instance.name)
    except Exception as error:  # a hook may raise anything: it becomes the run's HookError
        raise HookError(
            f"{where} raised {type(error).__name__}: {str(error)[:300]}. Fix the hook; the delivery is retried "
            "up to MAX_RETRIES times, then resync the course."
        ) from error
    if not isinstance(amended, dict):
        raise PayloadError(
            f"Course {run.course_id}: PAYLOAD_HOOK {config.payload_hook} returned {type(amended).__name__}, "
            "not a dict. Make the hook return the payload."
        )
    if amended.get("resource_link") != payload["resource_link"] or not amended.get("languages"):
        raise PayloadError(
            f"Course {run.course_id}: PAYLOAD_HOOK {config.payload_hook} removed or changed resource_link, "
            "or emptied languages (an empty list corrupts the run in Richie). Leave those keys alone."
        )
    languages = amended["languages"]
    if isinstance(languages, list):
        rejected = [code for code in languages if not isinstance(code, str) or code not in RICHIE_LANGUAGE_CODES]
    else:
        rejected = [languages]
    if rejected:
        raise PayloadError(
            f"Course {run.course_id}: PAYLOAD_HOOK {config.payload_hook} set languages {rejected!r}, which Richie "
            "rejects (it takes a list of lower-case Django language codes such as 'en', 'pt-br', 'zh-hans'). "
            "Fix the hook."
        )
    return amended
