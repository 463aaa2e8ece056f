"""
STAND-IN for tutor-contrib-richie-site-factory (fccn, 20.0.1), loaded by Tutor as a file plugin.

Not the real plugin: a few lines that reproduce what richie-sync relies on, so that ``make test``
renders the integration on every Tutor major without the real one (whose metadata pins Tutor 20;
test_site_factory_contract.py renders with it). Same setting names, same patch names, same shapes:

- ``RICHIE_SITES`` read from config.yml when the module is imported (``TUTOR_ROOT`` must be set);
- per site: ``RICHIE_<site>_HOST`` (default ``<site>.{{ LMS_HOST }}``) and the generated
  ``RICHIE_<site>_COURSE_RUN_SYNC_SECRETS`` (12 characters);
- the site's environment file ``plugins/richie-<site>/apps/env.d/production``, ending with the
  patch ``richie-<site>-production-env-additional`` unless ``richie-<site>-production-env``
  replaces the whole file; ``DJANGO_ALLOWED_HOSTS=richie,<host>``; no secret, no course regex;
- Caddy serves ``<host>`` by proxying to ``richie-<site>:8000``;
- the earlier connector: ``pip install richie-openedx-sync==1.4.0`` in the openedx image, its app
  and ``RICHIE_OPENEDX_SYNC_COURSE_HOOKS`` in ``openedx-auth``, hooks signed with the site's secret.
"""

import os

from tutor import config as tutor_config
from tutor import hooks

SITES = tutor_config.get_user(os.environ["TUTOR_ROOT"]).get("RICHIE_SITES", [])
TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "site-factory-standin-templates")

ENV_FILE = """{%- if patch("richie-SITE-production-env") %}
{{ patch("richie-SITE-production-env") }}
{%- else %}
DJANGO_SETTINGS_MODULE=SITE.settings
DJANGO_CONFIGURATION=Production
DJANGO_ALLOWED_HOSTS=richie,{{ RICHIE_SITE_HOST }}
EDX_BASE_URL={% if ENABLE_HTTPS %}https{% else %}http{% endif %}://{{ LMS_HOST }}
{{ patch("richie-SITE-production-env-additional") }}
{%- endif %}
"""

hooks.Filters.CONFIG_DEFAULTS.add_item(("RICHIE_SITES", []))
hooks.Filters.ENV_PATCHES.add_items(
    [
        (
            "openedx-dockerfile-post-python-requirements",
            "# Install Richie Open edx Synchronization\n"
            "RUN --mount=type=cache,target=/openedx/.cache/pip,sharing=shared \\\n"
            "    pip install richie-openedx-sync==1.4.0\n",
        ),
        (
            "openedx-auth",
            "# Additionally add the `richie_openedx_sync` application to the LMS/CMS to `INSTALLED_APPS`\n"
            "ADDL_INSTALLED_APPS:\n- richie_openedx_sync\nRICHIE_OPENEDX_SYNC_COURSE_HOOKS:\n"
            '{{ patch("richie-openedx-sync-course-hooks") }}\n',
        ),
    ]
)
for site in SITES:
    hooks.Filters.CONFIG_DEFAULTS.add_item((f"RICHIE_{site}_HOST", site + ".{{ LMS_HOST }}"))
    hooks.Filters.CONFIG_UNIQUE.add_item((f"RICHIE_{site}_COURSE_RUN_SYNC_SECRETS", "{{ 12|random_string }}"))
    target = os.path.join(TEMPLATES, f"richie-{site}", "apps", "env.d")
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(target, "production"), "w", encoding="utf-8") as env_file:
        env_file.write(ENV_FILE.replace("SITE", site))
    hooks.Filters.ENV_TEMPLATE_TARGETS.add_item((f"richie-{site}/apps", "plugins"))
    hooks.Filters.ENV_PATCHES.add_items(
        [
            (
                "caddyfile",
                f"# Richie for {site} site\n{{{{ RICHIE_{site}_HOST }}}}{{$default_site_port}} {{\n"
                f'    import proxy "richie-{site}:8000"\n}}\n',
            ),
            (
                "local-docker-compose-services",
                f"richie-{site}:\n  image: fundocker/richie-demo\n  env_file:\n"
                f"    - ../plugins/richie-{site}/apps/env.d/production\n",
            ),
            (
                "richie-openedx-sync-course-hooks",
                f"- secret: {{{{ RICHIE_{site}_COURSE_RUN_SYNC_SECRETS }}}}\n"
                "  resource_link_template: https://{lms_domain}/course_modes/choose/{course_id}/\n"
                f"  url: https://{{{{ RICHIE_{site}_HOST }}}}/api/v1.0/course-runs-sync/\n",
            ),
        ]
    )
if SITES:
    hooks.Filters.ENV_TEMPLATE_ROOTS.add_item(TEMPLATES)
