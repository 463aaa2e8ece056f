"""
Test stand-in for ``xmodule.modulestore.django``; mirrors the platform's module of that name.

Mirrored: ``SwitchedSignal`` (a Django signal that can be disabled; ``send``/``send_robust`` then
return ``[]``), ``SignalHandler`` with the platform's five signals as class attributes, the
module-level upper-case aliases (``COURSE_PUBLISHED``, ``COURSE_DELETED``...), ``SignalHandler``
instances bound to a modulestore class whose ``send(name, **kwargs)`` calls
``send_robust(sender=<modulestore class>, ...)``, and ``modulestore()`` returning the process-wide
store (see ``xmodule.modulestore.mixed``). Left out: everything that builds a real modulestore
(settings.MODULESTORE, Mongo, XBlock runtime services, i18n).
"""

import logging
from contextlib import contextmanager

import django.dispatch

log = logging.getLogger(__name__)


class SwitchedSignal(django.dispatch.Signal):
    """A Django signal that can be turned off (then ``send``/``send_robust`` do nothing and return ``[]``)."""

    def __init__(self, name, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.name = name
        self._allow_signals = True

    def disable(self):
        self._allow_signals = False

    def enable(self):
        self._allow_signals = True

    @contextmanager
    def for_state(self, *, is_enabled: bool):
        """Turn the signal on or off for the ``with`` block, then restore its previous state."""
        old_state = self._allow_signals
        try:
            self._allow_signals = is_enabled
            yield
        finally:
            self._allow_signals = old_state

    def send(self, *args, **kwargs):
        if self._allow_signals:
            return super().send(*args, **kwargs)
        return []

    def send_robust(self, *args, **kwargs):
        if self._allow_signals:
            return super().send_robust(*args, **kwargs)
        return []

    def __repr__(self):
        return f"SwitchedSignal('{self.name}')"


class SignalHandler:
    """
    The modulestore signals.

    A modulestore owns ``SignalHandler(<its class>)`` and sends through it, so receivers get
    ``sender=<modulestore class>`` and ``course_key=<CourseLocator>``.
    """

    pre_publish = SwitchedSignal("pre_publish")
    course_published = SwitchedSignal("course_published")
    course_deleted = SwitchedSignal("course_deleted")
    library_updated = SwitchedSignal("library_updated")
    item_deleted = SwitchedSignal("item_deleted")

    _mapping = {
        signal.name: signal
        for signal in [pre_publish, course_published, course_deleted, library_updated, item_deleted]
    }

    def __init__(self, modulestore_class):
        self.modulestore_class = modulestore_class

    @classmethod
    def all_signals(cls):
        return cls._mapping.values()

    @classmethod
    def signal_by_name(cls, signal_name):
        return cls._mapping[signal_name]

    def send(self, signal_name, **kwargs):
        """Send the signal robustly with the modulestore class as sender (receivers' errors are logged)."""
        responses = self._mapping[signal_name].send_robust(sender=self.modulestore_class, **kwargs)
        for receiver, response in responses:
            log.info("Sent %s signal to %s with kwargs %s. Response was: %s", signal_name, receiver, kwargs, response)


# Module-level aliases, as the platform exposes them (COURSE_PUBLISHED, COURSE_DELETED, ...).
globals().update({signal.name.upper(): signal for signal in SignalHandler.all_signals()})
COURSE_PUBLISHED = SignalHandler.course_published
COURSE_DELETED = SignalHandler.course_deleted

_MIXED_MODULESTORE = None


def modulestore():
    """The process-wide modulestore (an in-memory stand-in: see ``xmodule.modulestore.mixed``)."""
    global _MIXED_MODULESTORE  # pylint: disable=global-statement
    if _MIXED_MODULESTORE is None:
        from xmodule.modulestore.mixed import MixedModuleStore  # pylint: disable=import-outside-toplevel

        _MIXED_MODULESTORE = MixedModuleStore(signal_handler=SignalHandler(MixedModuleStore))
    return _MIXED_MODULESTORE


def clear_existing_modulestores():
    """Forget the modulestore (the next ``modulestore()`` starts empty), as the platform's tests do."""
    global _MIXED_MODULESTORE  # pylint: disable=global-statement
    _MIXED_MODULESTORE = None
