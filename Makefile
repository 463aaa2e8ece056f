# openedx-richie-sync: `make demo` and `make test` set up everything on a fresh machine.
.PHONY: help requirements services test test-unit test-tutor test-mysql test-wheel demo bench bench-publish quality upgrade tox clean
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export DJANGO_SETTINGS_MODULE := test_support.settings
export PYTHONPATH := $(CURDIR)
export RICHIE_SYNC_DB ?= $(CURDIR)/var/test.sqlite3

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

# requirements/test.txt leaves Django out (tox installs the one under test); elsewhere, base.txt's pin.
DJANGO_PIN = $(shell grep -i '^django==' requirements/base.txt)

$(BIN)/.installed: requirements/test.txt requirements/base.txt setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements/test.txt $(DJANGO_PIN)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

requirements: $(BIN)/.installed ## create the virtualenv with the pinned test requirements

services: ## make sure redis-server (used by the integration tests, demo and bench) is installed
	@command -v redis-server >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	  else echo "redis-server is missing: install Debian's redis-server package (sudo apt-get install redis-server)"; exit 2; fi; }
	@redis-server --version

var:
	mkdir -p var

test: requirements services var ## run every test, integration tests included (real Redis, Celery worker, HTTP)
	$(BIN)/pytest --cov-fail-under=90

test-mysql: requirements services ## the whole suite again on MariaDB, the platform's database family
	bash scripts/test-mysql.sh

test-unit: requirements var ## run the tests that need no Redis
	$(BIN)/pytest -m "not integration"

test-tutor: requirements var ## render the Tutor plugin with Tutor 19, 20, 21 and 22 (virtualenvs kept in var/tutor-venvs)
	$(BIN)/pytest -m tutor

demo: requirements services var ## publish sample courses through the real path and show what Richie received
	$(BIN)/python -m test_support.demo

bench: requirements services var ## resync benchmark (N=10000 by default; `make bench N=100000`)
	$(BIN)/python -m test_support.bench --courses $(or $(N),10000)

bench-publish: requirements services var ## publish path: Studio's cost, commit -> Richie latency, bursts (`QUICK=1`, `DB=mysql`)
	$(BIN)/python -m test_support.bench_publish --db $(or $(DB),sqlite) $(if $(QUICK),--quick)

test-wheel: requirements services ## build sdist + wheel, install the wheel in a fresh virtualenv, run the suite against it
	bash scripts/test-wheel.sh $(PYTEST_ARGS)

$(BIN)/.quality-installed: $(BIN)/.installed requirements/quality.txt
	$(BIN)/pip install --quiet -r requirements/quality.txt
	touch $@

quality: $(BIN)/.quality-installed ## pylint (edx-lint), pycodestyle, isort, ruff (D rules), code annotations
	bash scripts/quality.sh $(BIN)

# pip-compile keeps the current pins unless told otherwise: `make upgrade` moves every pin to the
# newest release in range; `make upgrade PIP_COMPILE_OPTS=` only recompiles (after editing a .in).
PIP_COMPILE_OPTS ?= --upgrade
upgrade: export CUSTOM_COMPILE_COMMAND = make upgrade
upgrade: ## recompile requirements/*.txt from requirements/*.in (each set after the ones it includes)
	$(BIN)/pip install --quiet pip-tools
	cd requirements && for name in base test quality doc dev mysql; do \
	  ../$(BIN)/pip-compile --quiet $(PIP_COMPILE_OPTS) --no-emit-index-url --no-emit-find-links --strip-extras \
	    --allow-unsafe -o $$name.txt $$name.in || exit 1; done
	# tox installs the Django under test; `make requirements` adds base.txt's pin.
	sed -i '/^[dD]jango==/d' requirements/test.txt

tox: requirements ## the Python 3.11/3.12 x Django 4.2/5.2 matrix
	$(BIN)/pip install --quiet tox && $(BIN)/tox

clean:
	rm -rf $(VENV) var .tox build dist *.egg-info .coverage .coverage.*
