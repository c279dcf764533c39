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

test: venv chromium nodejs sam-venv bench-deps axe-core ## run every test (installs what it needs first)
	TALKSEARCH_REQUIRE_SAM=1 $(PY) -m pytest

screenshot: venv chromium ## rewrite docs/screenshot.png (the page) and docs/widget.png (the widget on a plain page)
	TALKSEARCH_SCREENSHOT=1 $(PY) -m pytest tests/test_page_browser.py tests/test_widget_browser.py -k screenshot -q

# --- the page's audits: axe-core and Lighthouse from npm, into .cache/ (never committed) ------------------
AXE_CORE_VERSION := 4.14.1
LIGHTHOUSE_VERSION := 12.8.2
LIGHTHOUSE_CONTENT ?= $(firstword $(wildcard ../shared/corpora/pyvideo-talks-fr.jsonl) $(CONTENT_DIR))
LIGHTHOUSE_ARGS ?=

npm: nodejs ## install Debian's npm if missing (root, once)
	@command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq npm >/dev/null; }

.cache/axe-core/.installed-$(AXE_CORE_VERSION):
	mkdir -p $(@D)
	npm install --prefix $(@D) --no-audit --no-fund --save-exact --loglevel=error axe-core@$(AXE_CORE_VERSION)
	touch $@

axe-core: npm .cache/axe-core/.installed-$(AXE_CORE_VERSION) ## axe-core for the page's accessibility test, in .cache/axe-core

.cache/lighthouse/.installed-$(LIGHTHOUSE_VERSION):
	mkdir -p $(@D)
	npm install --prefix $(@D) --no-audit --no-fund --save-exact --loglevel=error lighthouse@$(LIGHTHOUSE_VERSION)
	touch $@

lighthouse: venv chromium npm .cache/lighthouse/.installed-$(LIGHTHOUSE_VERSION) ## Lighthouse scores of the page, desktop and mobile, over the local stack
	$(PY) -m bench.page --lighthouse --content "$(LIGHTHOUSE_CONTENT)" $(LIGHTHOUSE_ARGS)

.PHONY: screenshot npm axe-core lighthouse

lint: venv ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $@

bench-deps: $(VENV)/.bench-installed ## install the benchmark's peers and plotting (.[bench]) and hey (root, once)
	@command -v hey >/dev/null || { apt-get update -qq && apt-get install -y -qq hey >/dev/null; }

bench: bench-deps ## talksearch vs SQLite FTS5 and tantivy on the shared corpus (≤ 15 min), rewrites docs/benchmarks.md
	$(PY) -m bench $(BENCH_ARGS)

bench-quick: bench-deps ## the same benchmark on 1k synthetic talks in under two minutes, while developing
	$(PY) -m bench --quick $(BENCH_ARGS)

bench-100k: bench-deps ## talksearch vs tantivy on 100,000 synthetic talks (about 15 min): docs/benchmarks.md's 100k section
	$(PY) -m bench --corpus synthetic --size 100000 --engines talksearch,tantivy --load-requests 0 $(BENCH_ARGS)

soak: bench-deps ## make dev over the 21.7k-talk corpus under bounded hey load for SOAK_SECONDS (600) while content changes every 15 s
	$(PY) -m bench.soak $(SOAK_ARGS)

.PHONY: bench-deps bench bench-quick bench-100k soak

dev: venv ## run the whole product locally: page, widget, API on 127.0.0.1:$PORT (8000), indexing $CONTENT_DIR live; ALLOWED_ORIGINS=... for other sites' pages
	$(PY) -m devstack --content-dir "$(CONTENT_DIR)" --port "$(PORT)"

.PHONY: dev

SINCE ?= 7d
# STACK=<name> [REGION=...] reads that stack's CloudWatch logs instead; STATS_ARGS=--json (or --top N) passes options on
STATS_ARGS ?=
stats: venv ## what visitors look for over SINCE (7d): top, zero-hit and unopened queries; make dev's logs, or STACK=<name>'s
	$(PY) -m stats --since "$(SINCE)" $(if $(STACK),--stack "$(STACK)" --config "$(SAMCONFIG_PATH)") $(if $(REGION),--region "$(REGION)") $(STATS_ARGS)

.PHONY: stats

eval: venv ## relevance: judged queries through the search path vs SQLite FTS5 (needs ../shared), rewrites docs/relevance.md
	$(PY) -m relevance

.PHONY: eval

.PHONY: help venv chromium nodejs test lint

# --- AWS deployment (SAM) ----------------------------------------------------------------------------
# The SAM CLI pins many packages, so it lives in its own venv. `sam build` needs the Lambda runtime's
# Python (the template's Runtime) on PATH; pyenv's is used when there is one.
SAM_VENV ?= .venv-sam
SAM := $(SAM_VENV)/bin/sam
LAMBDA_PYTHON_VERSION := $(shell sed -n 's/^ *Runtime: python\([0-9.]*\)$$/\1/p' template.yaml | head -1)
LAMBDA_PYTHON := python$(LAMBDA_PYTHON_VERSION)
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)
LAMBDA_PYTHON_BIN ?= $(lastword $(wildcard $(PYENV_ROOT)/versions/$(LAMBDA_PYTHON_VERSION).*/bin))
SAM_BUILD_DIR ?= .aws-sam/build
SAM_ENV := PATH="$(if $(LAMBDA_PYTHON_BIN),$(LAMBDA_PYTHON_BIN):)$$PATH" SAM_CLI_TELEMETRY=0
# The first, guided deploy saves its answers (stack name, region, parameters) here, at the project root, and every
# later deploy and destroy reads them. --config-file is needed: given --template-file, SAM looks for samconfig.toml
# beside the built template, in .aws-sam/build/, which the next `sam build` wipes.
SAMCONFIG ?= samconfig.toml
SAMCONFIG_PATH = $(abspath $(SAMCONFIG))
# STACK=... REGION=... override the saved stack name and region
SITE_DIR ?= frontend
# more options for sam deploy, e.g. SAM_DEPLOY_ARGS=--debug
SAM_DEPLOY_ARGS ?=
STACK_ARGS = --config "$(SAMCONFIG_PATH)" $(if $(STACK),--stack "$(STACK)") $(if $(REGION),--region "$(REGION)")

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet 'aws-sam-cli>=1.130'  # python3.13 runtime, --build-in-source
	touch $@

sam-venv: $(SAM_VENV)/.installed ## install the SAM CLI into its own venv (.venv-sam)

build: sam-venv ## sam build: both Lambda packages (arm64 wheels, precompiled bytecode), no containers
	$(SAM_ENV) $(SAM) build --build-in-source --build-dir $(SAM_BUILD_DIR)

# Called by `sam build` (BuildMethod: makefile) with ARTIFACTS_DIR: copy only what the function imports,
# install its requirements as Lambda arm64 wheels, and precompile bytecode with the runtime's Python.
# unchecked-hash .pyc are used as they are: zip timestamps would make timestamp-checked ones look stale,
# and Lambda's read-only file system would then recompile every module at every cold start.
define lambda_package
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is unset: run 'make build', which calls sam build" >&2; exit 1; }
	cp -r --parents functions/__init__.py $(1) talksearch "$(ARTIFACTS_DIR)"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -prune -exec rm -rf {} +
	$(LAMBDA_PYTHON) -m pip install --quiet --no-compile --target "$(ARTIFACTS_DIR)" --only-binary=:all: \
		--implementation cp --python-version $(LAMBDA_PYTHON_VERSION) \
		--platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64 -r $(2)
	$(LAMBDA_PYTHON) -m compileall -q -j 0 --invalidation-mode unchecked-hash "$(ARTIFACTS_DIR)"
endef

build-SearchFunction:
	$(call lambda_package,functions/search,functions/search/requirements.txt)

# The builder ships the search function's engine too: it answers the most frequent words and two-letter prefixes
# over the pack it writes (index_builder/answers.py), so their precomputed answers are the engine's own.
build-IndexBuilderFunction:
	$(call lambda_package,functions/rebuild functions/search index_builder,functions/rebuild/requirements.txt)

# What Lambda's runtime itself puts on sys.path (boto3), to run the built packages here as Lambda would.
LAMBDA_RUNTIME_DIR := .cache/lambda-runtime-$(LAMBDA_PYTHON)
$(LAMBDA_RUNTIME_DIR)/.installed:
	$(SAM_ENV) $(LAMBDA_PYTHON) -m pip install --quiet --target $(LAMBDA_RUNTIME_DIR) boto3
	touch $@

lambda-runtime: $(LAMBDA_RUNTIME_DIR)/.installed ## boto3 for the runtime's Python in .cache/, as Lambda provides it

package-stats: build lambda-runtime ## size of each built package, and the search function's cold import time
	@for f in SearchFunction IndexBuilderFunction; do \
		$(PY) -c 'import io, os, sys, zipfile; root = sys.argv[1]; buf = io.BytesIO(); \
			files = [os.path.join(d, n) for d, _, ns in os.walk(root) for n in ns]; \
			z = zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED); [z.write(p, os.path.relpath(p, root)) for p in files]; \
			z.close(); print(f"{os.path.basename(root)}: {sum(map(os.path.getsize, files)) / 1e6:.1f} MB unzipped, " \
			f"{len(buf.getvalue()) / 1e6:.1f} MB zipped, {len(files)} files")' $(SAM_BUILD_DIR)/$$f; done
	@echo "SearchFunction: import functions.search.app in 10 fresh $(LAMBDA_PYTHON) -I -S processes (ms):"
	@for i in 1 2 3 4 5 6 7 8 9 10; do $(SAM_ENV) $(LAMBDA_PYTHON) -I -S -B -c 'import sys, time; \
		sys.path[:0] = sys.argv[1:]; t = time.perf_counter(); import functions.search.app; \
		print(round((time.perf_counter() - t) * 1000))' $(SAM_BUILD_DIR)/SearchFunction $(LAMBDA_RUNTIME_DIR); \
	done | sort -n | tr '\n' ' ' | awk '{print "  " $$0 " (min " $$1 ", median " $$5 ")"}'

# --no-fail-on-empty-changeset: a deploy that changes only frontend/ has nothing for CloudFormation to do (SAM's
# zips are deterministic), and the page must still be published.
SAM_DEPLOY = $(SAM_ENV) $(SAM) deploy --template-file $(SAM_BUILD_DIR)/template.yaml --config-file "$(SAMCONFIG_PATH)" \
	--no-fail-on-empty-changeset $(if $(REGION),--region "$(REGION)") $(SAM_DEPLOY_ARGS)

# Guided until samconfig.toml names a stack. SAM refuses a --config-file that does not exist, so an empty one
# (just its version line) is made first; the guided deploy writes its answers into it.
deploy: build venv ## deploy to AWS (guided the first time, samconfig.toml after), then publish frontend/ and prune old function versions
	test -f "$(SAMCONFIG_PATH)" || printf 'version = 0.1\n' > "$(SAMCONFIG_PATH)"
	if grep -qs '^stack_name *=' "$(SAMCONFIG_PATH)"; then $(SAM_DEPLOY) $(if $(STACK),--stack-name "$(STACK)"); \
	else $(SAM_DEPLOY) --guided --stack-name "$(or $(STACK),talksearch)"; fi
	$(PY) -m deploy publish $(STACK_ARGS) --site "$(SITE_DIR)"
	$(PY) -m deploy prune-versions $(STACK_ARGS)

destroy: venv sam-venv ## delete the stack and everything in its buckets (asks first)
	@target=$$($(PY) -m deploy stack $(STACK_ARGS)) || exit 1; set -- $$target; stack=$$1; region=$$2; \
	printf 'Delete stack %s (%s) with its talks, index and page? Type the stack name: ' "$$stack" "$$region"; read -r answer; \
	test "$$answer" = "$$stack" || { echo "not deleted"; exit 1; }; \
	$(PY) -m deploy empty-buckets --stack "$$stack" --region "$$region" && \
	$(SAM_ENV) $(SAM) delete --stack-name "$$stack" --region "$$region" --no-prompts

.PHONY: sam-venv build build-SearchFunction build-IndexBuilderFunction lambda-runtime package-stats deploy destroy
