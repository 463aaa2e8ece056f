"""
Test stand-in for ``common.djangoapps.course_modes.models``; mirrors the platform's module of that name.

``Mode`` has the platform's fields, in the platform's order. The default mode
comes from ``settings.COURSE_MODE_DEFAULTS`` when set, else from the platform's
default value of that setting (an "audit" mode, free, in "usd").
``modes_for_course`` is request-cached in the ``CourseMode.CACHE_NAMESPACE`` namespace, and that
namespace is cleared whenever a CourseMode is saved or deleted, as in the platform. Saving a mode
sends no ``course_published``. Left out: validation (``clean``), history, the deprecated fields
and the other class methods.
"""

from collections import namedtuple

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.dispatch import receiver
from django.utils.timezone import now
from edx_django_utils.cache import RequestCache
from openedx.core.djangoapps.content.course_overviews.models import CourseOverview
from openedx.core.lib.cache_utils import request_cached

Mode = namedtuple(
    "Mode",
    [
        "slug",
        "name",
        "min_price",
        "suggested_prices",
        "currency",
        "expiration_datetime",
        "description",
        "sku",
        "android_sku",
        "ios_sku",
        "bulk_sku",
    ],
)

# The platform's own value of settings.COURSE_MODE_DEFAULTS.
_PLATFORM_COURSE_MODE_DEFAULTS = {
    "android_sku": None,
    "bulk_sku": None,
    "currency": "usd",
    "description": None,
    "expiration_datetime": None,
    "ios_sku": None,
    "min_price": 0,
    "name": "Audit",
    "sku": None,
    "slug": "audit",
    "suggested_prices": "",
}
_DEFAULTS = getattr(settings, "COURSE_MODE_DEFAULTS", _PLATFORM_COURSE_MODE_DEFAULTS)


class CourseMode(models.Model):
    """An enrollment mode (track) offered by a course run, with its price."""

    course = models.ForeignKey(
        CourseOverview,
        db_constraint=False,
        db_index=True,
        related_name="modes",
        on_delete=models.DO_NOTHING,
    )
    mode_slug = models.CharField(max_length=100)
    mode_display_name = models.CharField(max_length=255)
    min_price = models.IntegerField(default=0)
    currency = models.CharField(default="usd", max_length=8)
    _expiration_datetime = models.DateTimeField(
        default=None, null=True, blank=True, db_column="expiration_datetime"
    )
    expiration_datetime_is_explicit = models.BooleanField(default=False)
    suggested_prices = models.CharField(max_length=255, blank=True, default="")
    description = models.TextField(null=True, blank=True)
    sku = models.CharField(max_length=255, null=True, blank=True)
    android_sku = models.CharField(max_length=255, null=True, blank=True)
    ios_sku = models.CharField(max_length=255, null=True, blank=True)
    bulk_sku = models.CharField(max_length=255, null=True, blank=True, default=None)

    HONOR = "honor"
    PROFESSIONAL = "professional"
    VERIFIED = "verified"
    AUDIT = "audit"
    NO_ID_PROFESSIONAL_MODE = "no-id-professional"
    CREDIT_MODE = "credit"
    MASTERS = "masters"
    EXECUTIVE_EDUCATION = "executive-education"
    PAID_EXECUTIVE_EDUCATION = "paid-executive-education"
    UNPAID_EXECUTIVE_EDUCATION = "unpaid-executive-education"
    PAID_BOOTCAMP = "paid-bootcamp"
    UNPAID_BOOTCAMP = "unpaid-bootcamp"

    DEFAULT_MODE = Mode(
        _DEFAULTS["slug"],
        _DEFAULTS["name"],
        _DEFAULTS["min_price"],
        _DEFAULTS["suggested_prices"],
        _DEFAULTS["currency"],
        _DEFAULTS["expiration_datetime"],
        _DEFAULTS["description"],
        _DEFAULTS["sku"],
        _DEFAULTS.get("android_sku"),
        _DEFAULTS.get("ios_sku"),
        _DEFAULTS["bulk_sku"],
    )
    DEFAULT_MODE_SLUG = _DEFAULTS["slug"]

    CREDIT_MODES = [CREDIT_MODE]

    CACHE_NAMESPACE = "course_modes.CourseMode.cache."

    class Meta:
        app_label = "course_modes"
        unique_together = ("course", "mode_slug", "currency")

    def __str__(self):
        return f"{self.course_id} : {self.mode_slug}, min={self.min_price}"

    def save(self, *args, **kwargs):
        """Save, with the currency in lower case (as the platform does)."""
        self.currency = self.currency.lower()
        super().save(*args, **kwargs)

    @property
    def slug(self):
        """The mode slug (same name as in ``Mode``)."""
        return self.mode_slug

    @property
    def expiration_datetime(self):
        """Upgrade deadline of this mode (``None``: none)."""
        return self._expiration_datetime

    @expiration_datetime.setter
    def expiration_datetime(self, new_datetime):
        if new_datetime is not None:
            self.expiration_datetime_is_explicit = True
        self._expiration_datetime = new_datetime

    @classmethod
    def get_default_mode_slug(cls):
        """Default for ``CourseEnrollment.mode``."""
        return cls.DEFAULT_MODE_SLUG

    @classmethod
    @request_cached(CACHE_NAMESPACE)
    def modes_for_course(
        cls, course_id=None, include_expired=False, only_selectable=True, course=None,
    ):
        """
        Return the course's modes as ``Mode`` tuples (``[DEFAULT_MODE]`` if none).

        Expired modes are left out unless ``include_expired``; credit modes are
        left out while ``only_selectable``. Request-cached (cleared when a mode is
        saved or deleted). Rows come in id order here; the platform's query has no ORDER BY.
        """
        if course_id is None and course is None:
            raise ValueError("One of course_id or course must not be None.")
        if course is not None and not isinstance(course, CourseOverview):
            course_id, course = course.id, None
        if course is not None:
            course_id = course.id
        found = cls.objects.filter(course_id=course_id)
        if not include_expired:
            found = found.filter(
                Q(_expiration_datetime__isnull=True) | Q(_expiration_datetime__gte=now())
            )
        if only_selectable:
            found = found.exclude(mode_slug__in=cls.CREDIT_MODES)
        modes = [mode.to_tuple() for mode in found.order_by("id")]
        return modes or [cls.DEFAULT_MODE]

    def to_tuple(self):
        """Return this row as a ``Mode`` tuple."""
        return Mode(
            self.mode_slug,
            self.mode_display_name,
            self.min_price,
            self.suggested_prices,
            self.currency,
            self.expiration_datetime,
            self.description,
            self.sku,
            self.android_sku,
            self.ios_sku,
            self.bulk_sku,
        )


@receiver(models.signals.post_save, sender=CourseMode)
@receiver(models.signals.post_delete, sender=CourseMode)
def invalidate_course_mode_cache(sender, **kwargs):  # pylint: disable=unused-argument
    """Clear the request cache of course modes."""
    RequestCache(namespace=CourseMode.CACHE_NAMESPACE).clear()
