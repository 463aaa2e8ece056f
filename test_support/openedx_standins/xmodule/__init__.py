"""Test stand-in for xmodule; mirrors the platform's module of that name."""
