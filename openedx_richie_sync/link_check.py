"""
Prove, without changing Richie, that Richie reads this instance's resource links (``--check``).

A signed empty list proves the URL and the secret, not the resource link: Richie only reads a
link through the ``COURSE_REGEX`` of its LMS backends, and a link it cannot read fails every
sync with "No LMS configuration found". So ``--check`` also sends one course run, valid in every
field, for a course code that no Richie course page can have (Richie limits course codes to 100
characters; the probe's has 101). Richie's answer then tells the regex apart (docs/richie.md):

- ``Unknown course: CODE.``: the link matched, the fields passed validation, and Richie looked
  for the course page; it raises before creating anything, so nothing is written;
- ``Unknown course run when creation is deactivated.``: the link matched, but this Richie only
  updates course runs that already exist (its default sync mode is "manual");
- ``No LMS configuration found for this resource link.``: ``COURSE_REGEX`` does not match.
"""

from .configuration import get_config
from .data import CourseRun, DeliveryOutcome, LinkCheck
from .delivery import RichieClient, format_answer, truncate
from .payload import MAX_RESOURCE_LINK_LENGTH, PayloadError, format_resource_link, resource_link
from .platform_api import lms_root_url

# Richie's Course.code holds at most 100 characters (CODE_MAX_LENGTH): a longer code has no page.
RICHIE_CODE_MAX_LENGTH = 100
# Letters, digits and single hyphens, neither first nor last: Richie's normalization (slugify,
# upper case) leaves it as is, so the code Richie looks up is 101 characters long too.
PROBE_CODE = "RICHIE-SYNC-CHECK-" + "0" * (RICHIE_CODE_MAX_LENGTH + 1 - len("RICHIE-SYNC-CHECK-"))
PROBE_ORG = "RichieSyncCheck"
PROBE_RUN = "check"
# What Richie's LMS backend for Open edX matches by default, and the template that agrees with it.
RICHIE_DEFAULT_COURSE_REGEX = r"^.*/courses/(?P<course_id>.*)/course/?$"
MATCHING_TEMPLATE = "{lms_root_url}/courses/{course_id}/course/"

UNKNOWN_COURSE = "Unknown course:"
CREATION_DEACTIVATED = "Unknown course run when creation is deactivated."
NO_LMS = "No LMS configuration found"


def probe_course_id(code=PROBE_CODE):
    """The made-up course run the probe is sent for."""
    return f"course-v1:{PROBE_ORG}+{code}+{PROBE_RUN}"


def probe_link(instance, root_url):
    """
    ``(link, collision_proof)``: the instance's resource link for the made-up course.

    When the 101-character code makes the link longer than Richie accepts (a long LMS host or
    template), the code is shortened to fit: still made up, but no longer impossible in Richie.
    """
    run = CourseRun(course_id=probe_course_id(), org=PROBE_ORG, lms_root_url=root_url)
    link = format_resource_link(run, instance)  # may be too long: shortened below
    excess = len(link) - MAX_RESOURCE_LINK_LENGTH
    if excess <= 0:
        return link, True
    code = PROBE_CODE[:max(len(PROBE_CODE) - excess, len("RICHIE-SYNC-CHECK-0"))]
    run = CourseRun(course_id=probe_course_id(code), org=PROBE_ORG, lms_root_url=root_url)
    return resource_link(run, instance), False


def _answer_text(delivery):
    """Richie's field errors for the probe's link, as one string."""
    items = delivery.items or {}
    return format_answer(items) if items else delivery.detail


def check_resource_link(instance, client=None, root_url=None, language=None):
    """
    Send the probe to ``instance`` and say whether Richie's COURSE_REGEX reads its links.

    Never raises for network errors; the secret never appears in the result.
    """
    root_url = lms_root_url() if root_url is None else root_url
    language = language or get_config().default_language
    template = instance.resource_link_template
    try:
        link, collision_proof = probe_link(instance, root_url)
    except PayloadError as error:
        return LinkCheck(ok=False, line=f"NOT CHECKED — {error}")
    delivery = (client or RichieClient(instance)).post({"resource_link": link, "languages": [language]})
    answer = _answer_text(delivery)
    if delivery.status == 400 and UNKNOWN_COURSE in answer:
        note = "" if collision_proof else (
            " (the probe's course code was shortened to fit Richie's 200-character limit on links: "
            "consider a shorter RESOURCE_LINK_TEMPLATE)"
        )
        return LinkCheck(
            ok=True,
            line=f"OK — Richie's COURSE_REGEX matches {link} (it answered \"Unknown course\" for this made-up course "
            f"code): runs of courses that have a course page in Richie will be created; nothing was written{note}",
        )
    if delivery.status == 400 and CREATION_DEACTIVATED in answer:
        return LinkCheck(
            ok=True,
            line=f"OK, UPDATES ONLY — Richie's COURSE_REGEX matches {link}, but this Richie creates no course runs "
            "(its LMS backend's DEFAULT_COURSE_RUN_SYNC_MODE, or RICHIE_DEFAULT_COURSE_RUN_SYNC_MODE, is 'manual'): "
            "only runs already in Richie will be updated; set it to 'sync_to_public' for new runs to appear",
        )
    if delivery.status == 400 and NO_LMS in answer:
        return LinkCheck(
            ok=False,
            line=f"COURSE_REGEX MISMATCH — Richie answered {truncate(answer, 200)} for {link}: no COURSE_REGEX of its "
            f"RICHIE_LMS_BACKENDS matches this instance's RESOURCE_LINK_TEMPLATE {template!r}, so every sync will "
            "fail. Align them: Richie's Open edX backend expects by default "
            f"{RICHIE_DEFAULT_COURSE_REGEX} (EDX_COURSE_REGEX on sites made with Richie's site factory), which "
            f"RESOURCE_LINK_TEMPLATE {MATCHING_TEMPLATE!r} matches; or change Richie's COURSE_REGEX to match {link}.",
        )
    if delivery.outcome == DeliveryOutcome.SUCCESS:
        return LinkCheck(
            ok=False,
            line=f"UNEXPECTED — Richie created a course run for the made-up course of {link}: it has a course page "
            "with that code. COURSE_REGEX matches; delete that course run (and the course page) in Richie's admin.",
        )
    if delivery.status and delivery.status >= 500:
        return LinkCheck(
            ok=False,
            line=f"RICHIE FAILED — HTTP {delivery.status} for {link}: Richie's COURSE_REGEX may match but capture "
            "something that is not a course key (its course_id group must capture course-v1:ORG+CODE+RUN); "
            "read Richie's logs and align COURSE_REGEX with RESOURCE_LINK_TEMPLATE "
            f"{template!r}.",
        )
    return LinkCheck(ok=False, line=f"NOT PROVEN — {link}: {delivery.describe()}")
