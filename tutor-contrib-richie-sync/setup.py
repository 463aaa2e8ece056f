"""Packaging for tutor-contrib-richie-sync, the Tutor plugin that deploys openedx-richie-sync."""

import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read(*parts):
    with open(os.path.join(HERE, *parts), encoding="utf-8") as handle:
        return handle.read()


def version():
    return re.search(r'^__version__ = "([^"]+)"', read("tutorrichiesync", "__about__.py"), re.M).group(1)


setup(
    name="tutor-contrib-richie-sync",
    version=version(),
    description="Tutor plugin that installs openedx-richie-sync: Studio publishes keep Richie catalogs in step.",
    long_description=read("README.md"),
    long_description_content_type="text/markdown",
    license="AGPL-3.0",
    packages=find_packages(include=["tutorrichiesync", "tutorrichiesync.*"]),
    package_data={"tutorrichiesync": ["patches/*"]},
    # Tutor 19 (Sumac) to 22 (Verawood); Tutor 22 itself needs Python 3.10 or later.
    python_requires=">=3.9",
    install_requires=["tutor>=19.0.0,<23.0.0"],
    classifiers=[
        "License :: OSI Approved :: GNU Affero General Public License v3",
        "Operating System :: OS Independent",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.9",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
    ],
    entry_points={"tutor.plugin.v1": ["richie-sync = tutorrichiesync.plugin"]},
)
