"""Test stand-in for the platform's ``cms`` project package (only ``cms.urls``)."""
