"""
Which Richie instances serve a course, and with which LMS URL: settings plus each
organisation's site configuration (multi-site platforms).

A ``Router`` caches each organisation's policy for its own lifetime: create one per task,
command or request, so that site-configuration changes apply to the next one.
"""

import logging
from dataclasses import dataclass, replace

from .configuration import get_config, parse_org_policy
from .platform_api import lms_root_url, org_site_values

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Route:
    """The instances serving one organisation's courses, and the LMS URL of its resource links."""

    instances: tuple
    lms_root_url: str

    def names(self):
        return [instance.name for instance in self.instances]

    def get(self, name):
        return next((instance for instance in self.instances if instance.name == name), None)


class Router:
    def __init__(self, config=None):
        self.config = config or get_config()
        self.root_url = lms_root_url()
        self._routes = {}

    def for_org(self, org):
        """The route of ``org``; cached by exact code, as site configurations match organisations case-sensitively."""
        key = org or ""
        if key not in self._routes:
            self._routes[key] = self._route(org)
        return self._routes[key]

    def instance(self, name, org):
        """The instance ``name`` if it serves ``org``, else None."""
        return self.for_org(org).get(name)

    def _route(self, org):
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
