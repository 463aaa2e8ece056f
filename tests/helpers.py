"""Helpers shared by the test modules (imported, never through ``conftest``)."""


def delivery(course_id, instance_name, generation, force=False):
    """The keyword arguments of the ``sync_course_run`` message for one delivery."""
    kwargs = {"course_id": course_id, "instance_name": instance_name, "generation": generation}
    if force:
        kwargs["force"] = True
    return kwargs
