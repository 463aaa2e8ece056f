"""Test stand-in for the platform's ``lms`` project package (only ``lms.urls``)."""
