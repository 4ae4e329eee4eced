# HealthNet — the README's commands are these targets.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
DEMO_RESIDENTS ?= 3000
DEMO_SEED ?= 20261129
PYTEST_WORKERS ?= 2

.PHONY: run test e2e lint fmt bench mutate worker beat migrate seed clean vendor messages screenshot

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py load_network data/wuhai.yaml
	$(BIN)/python manage.py generate_demo --residents $(DEMO_RESIDENTS) --seed $(DEMO_SEED) --if-empty
	$(BIN)/python manage.py seed_demo_users
	$(BIN)/python manage.py rebuild_reports --months 24 --if-empty

# Fresh clone → venv, install, migrate, load Wuhai, demo data, then serve the portal and API with a
# Celery worker (and beat) on the filesystem broker: no server needed.
run: seed
	@$(BIN)/python manage.py seed_demo_users --list
	@trap 'kill 0' EXIT INT TERM; \
	$(BIN)/celery -A config worker -B --loglevel=INFO --concurrency=1 \
		--schedule=var/celerybeat-schedule >var/celery-worker.log 2>&1 & \
	echo "Celery worker + beat: logging to var/celery-worker.log"; \
	echo "HealthNet: http://127.0.0.1:$(PORT)/  API docs: http://127.0.0.1:$(PORT)/api/v1/docs"; \
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

worker: install
	$(BIN)/celery -A config worker --loglevel=INFO

beat: install
	$(BIN)/celery -A config beat --loglevel=INFO --schedule=var/celerybeat-schedule

# The whole suite. pytest's exit code 5 (no tests collected) fails like any other failure.
test: install
	HEALTHNET_ENV=test $(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# Only the browser tests (Playwright driving Debian's chromium, tests/e2e).
e2e: install
	HEALTHNET_ENV=test $(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m e2e tests/e2e $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	HEALTHNET_ENV=test $(BIN)/python manage.py makemigrations --check --dry-run
	HEALTHNET_ENV=test $(BIN)/mypy

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python bench/run.py

# Mutation testing of the rule and transition modules and the verifier ([tool.mutmut] in
# pyproject.toml): a figure for bench/RESULTS.md, not a gate. MUTANTS narrows the run to names
# (globs), e.g. MUTANTS='signing.rules.*'; the counts end in mutants/mutmut-cicd-stats.json.
mutate: install
	HEALTHNET_ENV=test $(BIN)/mutmut run --max-children $(PYTEST_WORKERS) $(MUTANTS)
	$(BIN)/mutmut export-cicd-stats

# Front-end packages from the npm registry at the versions pinned in portal/vendor.json, checked
# against their integrity, copied with their licences into portal/static/vendor/ (commit the result).
vendor:
	$(BIN)/python -m portal.vendoring

# zh-hans is the source language; English lives in locale/en (the compiled .mo is committed).
messages: install
	$(BIN)/python manage.py makemessages -l en --no-obsolete \
		-i ".venv/*" -i "var/*" -i "bench/*" -i "tests/*" -i "portal/static/*"
	$(BIN)/python manage.py compilemessages -l en

# docs/img/workbench.png and docs/img/bureau-dashboard.png: the README's screenshots, taken by
# Playwright.
screenshot: install
	HEALTHNET_ENV=test HEALTHNET_README_SCREENSHOT=1 \
		$(BIN)/python -m pytest -p no:xdist -q tests/e2e/test_readme_screenshot.py \
		tests/e2e/test_bureau_dashboard.py

clean:
	rm -rf var
