"""Test stand-in for common.djangoapps.student.signals; mirrors FACTS.md."""

from common.djangoapps.student.signals.signals import ENROLL_STATUS_CHANGE

__all__ = ["ENROLL_STATUS_CHANGE"]
