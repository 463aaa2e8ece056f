"""Test support: Open edX platform stand-ins, a Richie-compatible receiver, Django settings."""
