"""The Celery application of the stand-in CMS, configured like the platform's (openedx/core/lib/celery)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "test_support.settings")

app = Celery("cms")
app.config_from_object("django.conf:settings")
app.autodiscover_tasks()
