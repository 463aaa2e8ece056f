#!/usr/bin/env bash
# `make quality` (and `tox -e quality`): the checks Open edX repositories run, over the package, the
# tests, the test support and the Tutor plugin. Every tool runs; the exit status is 1 if any failed.
# Usage: scripts/quality.sh BIN_DIR (the virtualenv's bin holding requirements/quality.txt)
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.venv/bin}
export DJANGO_SETTINGS_MODULE=test_support.settings PYTHONPATH="$PWD" RICHIE_SYNC_DB="${RICHIE_SYNC_DB:-$PWD/var/test.sqlite3}"
mkdir -p var
paths=(openedx_richie_sync tests test_support tutor-contrib-richie-sync/tutorrichiesync setup.py tutor-contrib-richie-sync/setup.py)
# The toggle and setting annotation formats ship with code-annotations (OEP-17, settings).
contrib=$("$bin/python" -c 'import code_annotations, os; print(os.path.join(os.path.dirname(code_annotations.__file__), "contrib", "config"))')
failed=()

run() {
  echo "== $*"
  "$@" || failed+=("$1")
}

run "$bin/edx_lint" check pylintrc
# The platform stand-ins are folders of modules under no package: named, and walked with --recursive.
run "$bin/pylint" --recursive=y "${paths[@]}" test_support/openedx_standins
run "$bin/pycodestyle" "${paths[@]}"
run "$bin/isort" --check-only --diff "${paths[@]}"
run "$bin/ruff" check "${paths[@]}"
run "$bin/code_annotations" django_find_annotations --config_file .pii_annotations.yml --lint --report --coverage
for config in feature_toggle_annotations setting_annotations; do
  run "$bin/code_annotations" static_find_annotations --config_file "$contrib/$config.yaml" \
    --source_path openedx_richie_sync --report_path var/annotations --lint --no_report
done

if ((${#failed[@]})); then
  echo "quality: FAILED (${failed[*]##*/})"
  exit 1
fi
echo "quality: clean"
