"""Test stand-in for ``openedx.core.lib`` (only ``cache_utils``)."""
