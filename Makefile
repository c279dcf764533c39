# talksearch: every task starts here. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
CONTENT_DIR ?= content/sample

.DEFAULT_GOAL := help

help: ## list the tasks
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.installed ## create .venv with everything the tests need

chromium: ## install Debian's Chromium for the browser tests (root, once)
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

nodejs: ## install Debian's Node.js for the page's pure-logic tests (root, once)
	@command -v node >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs >/dev/null; }

test: venv chromium nodejs ## run every test (installs what it needs first)
	$(PY) -m pytest

lint: venv ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

dev: venv ## run the whole product locally: page + API on 127.0.0.1:$PORT (8000), indexing $CONTENT_DIR live
	$(PY) -m devstack --content-dir "$(CONTENT_DIR)" --port "$(PORT)"

.PHONY: dev

.PHONY: help venv chromium nodejs test lint
