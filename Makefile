# The two commands: `make run` and `make test`. Both create the virtualenv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000
# Tests run in parallel, one process per core; each has its own database (see tests/conftest.py).
PYTEST_ARGS ?= -n auto

.PHONY: run test lint translations extract-messages clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

translations: $(STAMP)
	$(BIN)/pybabel compile -d validation/translations

run: $(STAMP) translations
	$(BIN)/validation db upgrade
	$(BIN)/validation demo
	$(BIN)/validation run --host $(HOST) --port $(PORT)

test: $(STAMP) translations
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

# Besides the gettext helpers, the refusals that services raise (Invalid("...") and its siblings) are
# messages: the error page translates them by value. Workflow labels come from YAML (see babel.cfg).
MESSAGE_KEYWORDS := -k _l -k lazy_gettext -k N_ -k Invalid -k Conflict -k Forbidden -k NotFound -k ServiceError -k Message -k ContentRefused -k ProofError

extract-messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg $(MESSAGE_KEYWORDS) --project=validation \
		-o validation/translations/messages.pot .
	$(BIN)/pybabel update -i validation/translations/messages.pot -d validation/translations --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV) .pytest_cache
