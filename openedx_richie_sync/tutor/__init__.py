"""
Tutor plugin for openedx-richie-sync (``tutor plugins enable richie-sync``).

It runs in the operator's Tutor environment, where neither Django nor the Open edX platform is
installed: nothing in this package may import them. See ``plugin.py``.
"""
