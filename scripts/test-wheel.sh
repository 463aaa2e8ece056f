#!/usr/bin/env bash
# `make test-wheel`: what PyPI users get is what was tested.
# 1. builds the sdist and the wheel of both distributions (python -m build) and checks their
#    metadata (twine check --strict: the READMEs are the PyPI long descriptions);
# 2. checks the wheel holds the migrations and no test code;
# 3. installs the wheel (not editable) into a fresh virtualenv with requirements/test.txt;
# 4. runs the suite from a copy of tests/ and test_support/ (the platform stand-ins, on
#    PYTHONPATH as in `make test`), where the source package cannot be imported.
# Arguments are passed to pytest (`make test-wheel PYTEST_ARGS=...`). The Tutor render tests are
# left out (they test the Tutor plugin, from its folder).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/var/wheel
python=${PYTHON:-python3}
# The Makefile puts the source tree on PYTHONPATH: not here, where only the wheel may be imported.
unset PYTHONPATH
rm -rf "$work"
mkdir -p "$work/run/var"

echo "== build"
$python -m venv "$work/build-venv"
"$work/build-venv/bin/pip" install --quiet -r requirements/doc.txt
"$work/build-venv/bin/python" -m build --outdir "$work/dist" . >"$work/build.log"
"$work/build-venv/bin/python" -m build --outdir "$work/dist/tutor" tutor-contrib-richie-sync >>"$work/build.log"
ls -1 "$work/dist" "$work/dist/tutor"
"$work/build-venv/bin/twine" check --strict "$work/dist"/*.* "$work/dist/tutor"/*

echo "== wheel contents"
"$work/build-venv/bin/python" - "$work/dist" <<'PYTHON'
import glob, sys, zipfile
dist = sys.argv[1]
names = zipfile.ZipFile(glob.glob(f"{dist}/openedx_richie_sync-*.whl")[0]).namelist()
tutor = zipfile.ZipFile(glob.glob(f"{dist}/tutor/tutor_contrib_richie_sync-*.whl")[0]).namelist()
required = ["openedx_richie_sync/migrations/0001_initial.py", "openedx_richie_sync/migrations/0002_refresh_at.py",
            "openedx_richie_sync/management/commands/sync_courses_to_richie.py"]
missing = [name for name in required if name not in names]
missing += [] if any(name.startswith("tutorrichiesync/patches/") for name in tutor) else ["tutorrichiesync/patches/*"]
stray = [name for name in names if name.split("/")[0] in ("tests", "test_support", "tutorrichiesync")]
print(f"{len(names)} files in the wheel; missing: {missing or 'none'}; test or Tutor code: {stray or 'none'}")
sys.exit(1 if missing or stray else 0)
PYTHON

echo "== install the wheel into a fresh virtualenv"
$python -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet -r requirements/test.txt "$(grep -i '^django==' requirements/base.txt)"
"$work/venv/bin/pip" install --quiet "$work"/dist/openedx_richie_sync-*.whl

echo "== run the suite against it"
cp -r tests test_support tox.ini .coveragerc "$work/run/"
# The Tutor render tests concern the other distribution and read its source folder: `make test`
# runs them; here only this package's wheel is under test.
rm -rf "$work/run/tests/tutor"
cd "$work/run"
export PYTHONPATH="$work/run" DJANGO_SETTINGS_MODULE=test_support.settings RICHIE_SYNC_DB="$work/run/var/test.sqlite3"
installed=$("$work/venv/bin/python" -c 'import openedx_richie_sync; print(openedx_richie_sync.__file__)')
echo "openedx_richie_sync imported from $installed"
case $installed in
  "$work/venv/"*) ;;
  *) echo "not the installed wheel: stop"; exit 1 ;;
esac
"$work/venv/bin/pytest" "$@"
