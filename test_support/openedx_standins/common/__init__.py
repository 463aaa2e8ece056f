"""Test stand-in for common; mirrors the platform's module of that name."""
