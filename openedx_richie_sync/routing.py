"""
Which Richie instances serve a course, and with which LMS URL.

The settings, plus each organisation's site configuration (multi-site platforms).

Routes are cached per process for ``ROUTE_CACHE_SECONDS``: a publish must not read and parse
site configurations each time. A site-configuration save or deletion clears the cache of the
process that makes it at once (``signals.site_configuration_changed``); other processes (the
other service, workers) follow within ``ROUTE_CACHE_SECONDS``. A changed ``RICHIE_SYNC`` is a new
configuration object, hence new cache entries.
"""

import logging
import time
from dataclasses import dataclass, replace

from .configuration import get_config, parse_org_policy
from .platform_api import lms_root_url, org_site_values

log = logging.getLogger(__name__)

ROUTE_CACHE_SECONDS = 30.0
_routes = {}  # (id of the configuration, LMS root URL, org) -> (configuration, expiry, Route)


def clear_route_cache():
    """Forget every cached route (a site configuration changed)."""
    _routes.clear()


@dataclass(frozen=True)
class Route:
    """The instances serving one organisation's courses, and the LMS URL of its resource links."""

    instances: tuple
    lms_root_url: str

    def names(self):
        return [instance.name for instance in self.instances]

    def get(self, name):
        """The instance of the route named ``name``, or None."""
        return next((instance for instance in self.instances if instance.name == name), None)


class Router:
    """Routes of organisations under one parsed configuration and this process's LMS root URL."""

    def __init__(self, config=None):
        self.config = config or get_config()
        self.root_url = lms_root_url()

    def for_org(self, org):
        """The route of ``org``; cached by exact code, as site configurations match organisations case-sensitively."""
        key = (id(self.config), self.root_url, org or "")
        cached = _routes.get(key)
        now = time.monotonic()
        if cached is None or cached[0] is not self.config or cached[1] < now:
            cached = _routes[key] = (self.config, now + ROUTE_CACHE_SECONDS, self._route(org))
        return cached[2]

    def instance(self, name, org):
        """The instance ``name`` if it serves ``org``, else None."""
        return self.for_org(org).get(name)

    def _route(self, org):
        """Read ``org``'s site configuration and apply its policy to the configured instances."""
        scheme = self.root_url.split("://", 1)[0] if "://" in self.root_url else "https"
        policy, problems = parse_org_policy(org, org_site_values(org), scheme)
        for problem in problems:
            log.error("%s %s", problem.message, problem.hint)
        root_url = (policy.lms_root_url or self.root_url).rstrip("/")
        if not policy.enabled:
            return Route((), root_url)
        if policy.instances is None:
            instances = self.config.instances_for_org(org)
        else:
            instances = []
            for item in policy.instances:
                if isinstance(item, str):
                    instance = next((i for i in self.config.instances if i.name == item and i.enabled), None)
                    if instance is None:
                        log.error(
                            "Site configuration of %s names Richie instance %r, which RICHIE_SYNC does not define "
                            "(or disables): its courses are not sent there.", org, item,
                        )
                        continue
                    instances.append(instance)
                elif item.enabled:
                    instances.append(item)
        if policy.send_prices is not None:
            instances = [replace(instance, send_prices=policy.send_prices) for instance in instances]
        return Route(tuple(instances), root_url)
