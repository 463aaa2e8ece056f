"""
Test stand-in for the platform's ``cms.urls``: only the Django admin, where the plugin's models show.

Its name matters: ``PluginsConfig`` picks the project type from ``ROOT_URLCONF``.
"""

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
