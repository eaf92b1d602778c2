# The two commands: `make run` and `make test`. Both create the virtualenv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint translations extract-messages clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

translations: $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -q -d validation/translations

run: $(STAMP) translations
	$(BIN)/validation db upgrade
	$(BIN)/validation demo
	$(BIN)/validation run --host $(HOST) --port $(PORT)

test: $(STAMP) translations
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

extract-messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o validation/translations/messages.pot .
	$(BIN)/pybabel update -i validation/translations/messages.pot -d validation/translations

clean:
	rm -rf $(VENV) .pytest_cache
