"""
What an organisation's site configuration changes for its courses (multi-site platforms).

Pure: ``platform_api.org_site_values`` reads the values, ``routing`` applies the policy.
"""

from dataclasses import dataclass

from .legacy import from_legacy, legacy_flag
from .parsing import parse_instance
from .schema import Problem


@dataclass(frozen=True, kw_only=True)
class OrgPolicy:
    """
    What an organisation's site configuration changes (key ``RICHIE_SYNC``, or the earlier plugin's).

    Attributes:
        enabled: False excludes the organisation from every instance.
        instances: names of global instances, or ``Instance`` objects of its own; None: the
            global instances whose ORGS admit the organisation.
        send_prices: overrides each instance's SEND_PRICES when not None.
        lms_root_url: the LMS URL of its resource links, when it has its own.
    """

    enabled: bool = True
    instances: tuple | None = None
    send_prices: bool | None = None
    lms_root_url: str | None = None


def _lms_root_url(values, root_scheme):
    root_url, base = values.get("LMS_ROOT_URL"), values.get("LMS_BASE")
    if isinstance(root_url, str) and root_url:
        return root_url
    return f"{root_scheme}://{base}" if isinstance(base, str) and base else None


def _instances(raw_instances, problems):
    """Instance names and full instances of the organisation, or None when it names none."""
    if raw_instances is None:
        return None
    instances = []
    for index, item in enumerate(raw_instances if isinstance(raw_instances, (list, tuple)) else [raw_instances]):
        if isinstance(item, str):
            instances.append(item)
        else:
            instance = parse_instance(item, index, problems)
            if instance is not None:
                instances.append(instance)
    return tuple(instances)


def _send_prices(own, legacy_prices, problems):
    """The org's ``SEND_PRICES``, else the earlier plugin's payment flag; None keeps each instance's."""
    send_prices = own.get("SEND_PRICES")
    if send_prices is not None and not isinstance(send_prices, bool):
        message = f"RICHIE_SYNC['SEND_PRICES'] must be True or False, got {send_prices!r}."
        problems.append(Problem("error", "E020", message))
        send_prices = None
    if send_prices is None and legacy_prices is not None:
        send_prices = legacy_flag(legacy_prices)
    return send_prices


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
    lms_root_url = _lms_root_url(values, root_scheme)
    own = values.get("RICHIE_SYNC")
    legacy_hooks = values.get("RICHIE_OPENEDX_SYNC_COURSE_HOOKS")
    legacy_prices = values.get("RICHIE_OPENEDX_SYNC_INCLUDE_PAYMENT_FIELDS")
    if not isinstance(own, dict):
        if own is not None:
            problems.append(Problem("error", "E020", "RICHIE_SYNC must be a dict."))
        own = {}
    if own.get("ENABLED") is False:
        return OrgPolicy(enabled=False, lms_root_url=lms_root_url), problems
    raw_instances = own.get("INSTANCES")
    if raw_instances is None and legacy_hooks:
        raw_instances = from_legacy(legacy_hooks, include_payment_fields=legacy_flag(legacy_prices))["INSTANCES"]
    policy = OrgPolicy(
        instances=_instances(raw_instances, problems),
        send_prices=_send_prices(own, legacy_prices, problems),
        lms_root_url=lms_root_url,
    )
    return policy, [Problem(p.level, p.code, f"Site configuration of {org}: {p.message}", p.hint) for p in problems]
