"""
Django settings standing in for the Open edX CMS (tests, demo and benchmark).

Like the platform, they load the plugin through edx-django-utils (``get_plugin_apps`` and
``add_plugins``) rather than naming it in INSTALLED_APPS, and apply "YAML" values between the
plugin's common and production settings. The platform stand-ins live in ``openedx_standins/``.
"""

import json
import os
import sys
from pathlib import Path

from edx_django_utils.plugins import add_plugins, get_plugin_apps

STANDINS = Path(__file__).resolve().parent / "openedx_standins"
if str(STANDINS) not in sys.path:
    sys.path.insert(0, str(STANDINS))

PROJECT_TYPE = os.environ.get("RICHIE_SYNC_PROJECT_TYPE", "cms.djangoapp")
SECRET_KEY = "test-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
# The platform's PluginsConfig tells the LMS from the CMS by ROOT_URLCONF, as the stand-in does.
ROOT_URLCONF = "lms.urls" if PROJECT_TYPE == "lms.djangoapp" else "cms.urls"
ALLOWED_HOSTS = ["*"]
LMS_BASE = "lms.example.com"
LMS_ROOT_URL = "https://lms.example.com"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.sites",
    "django.contrib.admin",
    "waffle",
    "openedx.core.djangoapps.content.course_overviews",
    "openedx.core.djangoapps.site_configuration",
    "common.djangoapps.student",
    "common.djangoapps.course_modes",
    "openedx.core.djangoapps.plugins",
    "openedx.core.djangoapps.util",
    *get_plugin_apps(PROJECT_TYPE),
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
SITE_ID = 1

# The same SQLite file is shared by the test process and the Celery worker it starts.
DATABASE_PATH = os.environ.get(
    "RICHIE_SYNC_DB", str(Path(os.environ.get("TMPDIR", "/tmp")) / "richie_sync_test.sqlite3")
)
DATABASES = {
    "default": {
        "ENGINE": "test_support.sqlite_backend",
        "NAME": DATABASE_PATH,
        "TEST": {"NAME": DATABASE_PATH},
        "OPTIONS": {"timeout": 30},
        "ATOMIC_REQUESTS": True,  # as the platform does
    }
}

if os.environ.get("RICHIE_SYNC_MYSQL"):
    # The platform's own database engine, for a run against MySQL/MariaDB (``make test-mysql``):
    # RICHIE_SYNC_MYSQL=host:port:user:password:database. The platform's driver, mysqlclient, when
    # it is installed (`make test-mysql` builds it); PyMySQL stands in for it otherwise.
    try:
        import MySQLdb  # pylint: disable=unused-import  # imported only to learn whether mysqlclient is installed
    except ImportError:
        import pymysql

        pymysql.install_as_MySQLdb()
    _host, _port, _user, _password, _name = os.environ["RICHIE_SYNC_MYSQL"].split(":")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "HOST": _host, "PORT": _port, "USER": _user, "PASSWORD": _password, "NAME": _name,
            "TEST": {"NAME": f"test_{_name}", "CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"},
            "OPTIONS": {"charset": "utf8mb4"},
            "ATOMIC_REQUESTS": True,
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

# Celery as the platform configures it: ``config_from_object("django.conf:settings")`` without a
# namespace, so the old upper-case setting names. Tasks go to edx.cms.core.default unless routed.
BROKER_URL = os.environ.get("RICHIE_SYNC_BROKER_URL", "memory://")
CELERY_DEFAULT_QUEUE = "edx.cms.core.default" if PROJECT_TYPE == "cms.djangoapp" else "edx.lms.core.default"
CELERY_ACKS_LATE = True
CELERYD_PREFETCH_MULTIPLIER = 1
CELERY_IGNORE_RESULT = True
# The platform clears the request cache after every task (openedx.core.djangoapps.util.signals).
CLEAR_REQUEST_CACHE_ON_TASK_COMPLETION = True
# The sweep, as an operator schedules it with beat (the integration tests run beat every second).
CELERYBEAT_SCHEDULE = {
    "richie-sync-sweep": {
        "task": "openedx_richie_sync.tasks.sweep_richie_sync",
        "schedule": float(os.environ.get("RICHIE_SYNC_SWEEP_EVERY", "300")),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "openedx_richie_sync": {"handlers": ["console"], "level": os.environ.get("RICHIE_SYNC_LOG_LEVEL", "WARNING")},
    },
}

add_plugins(__name__, PROJECT_TYPE, "common")

# What the platform's YAML file would set: top-level keys override settings of the same name.
if os.environ.get("RICHIE_SYNC_SETTINGS_JSON"):
    RICHIE_SYNC = json.loads(os.environ["RICHIE_SYNC_SETTINGS_JSON"])

add_plugins(__name__, PROJECT_TYPE, "production")
