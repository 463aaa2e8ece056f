"""URLs of the stand-in CMS: just the Django admin, where the plugin's models show."""

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
