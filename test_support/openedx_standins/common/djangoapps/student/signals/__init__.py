"""Test stand-in for ``common.djangoapps.student.signals``; mirrors the platform's package (re-exports its signals)."""

from common.djangoapps.student.signals.signals import ENROLL_STATUS_CHANGE, ENROLLMENT_TRACK_UPDATED, UNENROLL_DONE

__all__ = ["ENROLL_STATUS_CHANGE", "ENROLLMENT_TRACK_UPDATED", "UNENROLL_DONE"]
