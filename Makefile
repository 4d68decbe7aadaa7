# nlwerktdoor — the two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
FLASK  := $(VENV)/bin/flask --app nlwerktdoor
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test test-postgres install install-test browser lint clean translations

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Debian's Chromium for the browser tests (Playwright drives it through executable_path).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium not found: install Debian's 'chromium' package for the browser tests (they are skipped without it)."; fi; }

# Set up, migrate, seed the demo on first run, and serve the site with the scheduler beside it.
run: install
	$(FLASK) db upgrade
	$(FLASK) demo seed --if-empty
	$(FLASK) match warm
	@echo "nlwerktdoor: http://$(HOST):$(PORT)  (demo accounts: see README)"
	@trap 'kill 0' INT TERM EXIT; \
	  DEV_SERVER=$(HOST):$(PORT) $(FLASK) scheduler run & \
	  $(FLASK) run --host $(HOST) --port $(PORT)

test: install-test browser
	$(PY) -m pytest -q
	$(VENV)/bin/lint-imports --no-cache

# The same suite against the local PostgreSQL (CI runs this after `make test`).
test-postgres: install-test browser
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} $(PY) -m pytest -q

clean:
	rm -rf $(VENV) instance .pytest_cache

# Re-extract the Dutch texts (the msgids), merge them into the English catalog and compile it.
# New texts arrive with an empty msgstr: translate them in nlwerktdoor/translations/en/LC_MESSAGES/messages.po
# and run `make translations` again (tests/test_translations.py fails until every text has its English).
PYBABEL := $(VENV)/bin/pybabel
translations:
	@test -x $(PYBABEL) || $(MAKE) install
	$(PYBABEL) --quiet extract -F babel.cfg -k _l -k lazy_gettext -o nlwerktdoor/translations/messages.pot .
	$(PYBABEL) update -i nlwerktdoor/translations/messages.pot -d nlwerktdoor/translations -l en --no-fuzzy-matching --ignore-obsolete
	$(PYBABEL) compile -d nlwerktdoor/translations --statistics
