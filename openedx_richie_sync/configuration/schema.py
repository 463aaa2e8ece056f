"""
What a valid configuration is made of: the typed, frozen objects ``parse`` returns, and its limits.

Pure data: nothing here reads settings or reports problems (``parsing`` does).
"""

from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_RESOURCE_LINK_TEMPLATE = "{lms_root_url}/courses/{course_id}/info"
RESOURCE_LINK_FIELDS = frozenset({"lms_root_url", "lms_base", "lms_domain", "course_id", "org"})
ENROLLMENT_START_FALLBACKS = ("start", "none")
MAX_NAME_LENGTH = 100  # the sync-state table's instance column

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
