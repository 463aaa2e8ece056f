"""Test stand-in for xmodule.modulestore; mirrors the platform's module of that name."""
