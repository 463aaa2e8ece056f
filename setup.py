"""Packaging for openedx-richie-sync, an Open edX plugin."""

import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read(*parts):
    with open(os.path.join(HERE, *parts), encoding="utf-8") as handle:
        return handle.read()


def version():
    return re.search(r'^__version__ = "([^"]+)"', read("openedx_richie_sync", "__init__.py"), re.M).group(1)


def requirements_from(path):
    """Unpinned runtime requirements, with the ranges of requirements/constraints.txt applied."""
    ranges = {}
    for line in read("requirements", "constraints.txt").splitlines():
        line = line.split("#")[0].strip()
        if line:
            name = re.split(r"[<>=!~]", line, maxsplit=1)[0].strip().lower()
            ranges[name] = line
    names = [
        line.strip() for line in read("requirements", path).splitlines()
        if line.strip() and not line.startswith(("#", "-"))
    ]
    return [ranges.get(name.lower(), name) for name in names]


setup(
    name="openedx-richie-sync",
    version=version(),
    description="Open edX plugin that keeps Richie course catalogs in step with Studio.",
    long_description=read("README.md"),
    long_description_content_type="text/markdown",
    license="AGPL-3.0",
    packages=find_packages(include=["openedx_richie_sync", "openedx_richie_sync.*"]),
    include_package_data=True,
    python_requires=">=3.11",
    install_requires=requirements_from("base.in"),
    classifiers=[
        "Framework :: Django",
        "Framework :: Django :: 4.2",
        "Framework :: Django :: 5.2",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
    ],
    entry_points={
        "lms.djangoapp": ["openedx_richie_sync = openedx_richie_sync.apps:RichieSyncConfig"],
        "cms.djangoapp": ["openedx_richie_sync = openedx_richie_sync.apps:RichieSyncConfig"],
    },
)
