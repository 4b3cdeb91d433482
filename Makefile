# Two commands matter: `make run` (embedded default: SQLite, eager tasks) and
# `make test` (PostgreSQL + Redis, the whole suite). Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1:8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/portal
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
PYTEST_ARGS ?=
TEST_ENV := DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) DJANGO_SETTINGS_MODULE=tests.settings

.PHONY: run test install install-dev migrate seed lint format check-migrations \
        test-fast e2e worker beat messages bench clean .env

run: install .env
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py sync_schedules
	$(BIN)/python manage.py seed_demo --base-url http://$(HOST)
	$(BIN)/python manage.py runserver $(HOST)

test: install-dev
	$(BIN)/python scripts/check_services.py $(TEST_DATABASE_URL) $(TEST_REDIS_URL)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(TEST_ENV) $(BIN)/python manage.py makemigrations --check --dry-run
	$(TEST_ENV) $(BIN)/pytest $(PYTEST_ARGS)

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

$(VENV)/.runtime: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@if command -v pg_config >/dev/null 2>&1; then \
		$(BIN)/pip install -q -r requirements.txt; \
	else \
		echo "pg_config not found: skipping psycopg2 (SQLite needs none; apt install libpq-dev for PostgreSQL)"; \
		grep -v '^psycopg2' requirements.txt > $(VENV)/requirements-nopg.txt; \
		$(BIN)/pip install -q -r $(VENV)/requirements-nopg.txt; \
	fi
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

.env:  # phony: also adds keys a newer version needs to an existing .env
	$(PYTHON) scripts/ensure_env.py

migrate: install .env
	$(BIN)/python manage.py migrate --noinput

seed: install .env
	$(BIN)/python manage.py seed_demo

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check-migrations: install-dev
	$(TEST_ENV) $(BIN)/python manage.py makemigrations --check --dry-run

test-fast: install-dev
	$(TEST_ENV) $(BIN)/pytest -m "not e2e and not celery_live and not slow" $(PYTEST_ARGS)

e2e: install-dev
	$(TEST_ENV) $(BIN)/pytest -m e2e $(PYTEST_ARGS)

# Production-style processes against REDIS_URL / DATABASE_URL from the environment.
worker: install
	$(BIN)/celery -A portal worker -l INFO -Q default,otp,notifications,bulk

beat: install
	$(BIN)/celery -A portal beat -l INFO

# Extract UI strings into locale/en/LC_MESSAGES/django.po and compile the .mo.
# After running: translate new/changed entries (no empty or fuzzy ones), then commit
# both the .po and the .mo. Source language is zh-hans, so only `en` has a catalog.
# No JavaScript uses gettext (the few JS strings come from data-* attributes set in
# templates), so there is no djangojs domain.
# Runs under tests.settings (fixed dummy keys) so it needs no .env and no database.
messages: install-dev
	mkdir -p locale
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python manage.py makemessages -l en --no-obsolete --add-location file \
		--ignore '.venv/*' --ignore 'static/vendor/*' --ignore 'tests/*' --ignore 'bench/*' \
		--ignore 'node_modules/*' --ignore 'var/*' --ignore 'staticfiles/*'
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python manage.py compilemessages -l en --ignore '.venv/*'

clean:
	rm -rf $(VENV) db.sqlite3 var staticfiles
