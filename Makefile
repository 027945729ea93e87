# chartgate — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The newest supported Python that runs (3.13, 3.12, then 3.11; a pyenv shim of an
# uninstalled version does not); override with PYTHON=...
PYTHON ?= $(or $(shell for v in 3.13 3.12 3.11; do python$$v -c '' >/dev/null 2>&1 && { echo python$$v; break; }; done),python3.11)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
MEDPLUM := tests/ehr_medplum
OIDC_IDP := tests/idp_oidc_provider
AXE := tests/browser_axe
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

.PHONY: help install demo test test-second-python test-fast lint format bench soak clean services client

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (chartgate needs Python 3.11 or newer)"; exit 2; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

$(MEDPLUM)/node_modules/.package-lock.json: $(MEDPLUM)/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found (the Medplum test EHR needs Node.js 20 and npm)"; exit 2; }
	npm ci --prefix $(MEDPLUM) --no-audit --no-fund --loglevel=error

$(OIDC_IDP)/node_modules/.package-lock.json: $(OIDC_IDP)/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found (the oidc-provider test IdP needs Node.js 20 and npm)"; exit 2; }
	npm ci --prefix $(OIDC_IDP) --no-audit --no-fund --loglevel=error

$(AXE)/node_modules/.package-lock.json: $(AXE)/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found (the reviewer page's accessibility tests need axe-core from npm)"; exit 2; }
	npm ci --prefix $(AXE) --no-audit --no-fund --loglevel=error

install: $(STAMP) $(MEDPLUM)/node_modules/.package-lock.json $(OIDC_IDP)/node_modules/.package-lock.json $(AXE)/node_modules/.package-lock.json ## Create .venv, install chartgate + dev tools, the Medplum test EHR, the oidc-provider test IdP, axe-core (accessibility tests), Debian's chromium (reviewer page e2e), nginx (replica tests), graphviz (chartgate dataflow SVG), SoftHSM2 (PKCS#11 key tests), promtool (alert rules) and openssl (local TSA)
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)
	command -v nginx >/dev/null || test -x /usr/sbin/nginx || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nginx)
	command -v dot >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y graphviz)
	command -v softhsm2-util >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y softhsm2)
	command -v promtool >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus)
	command -v openssl >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y openssl)

demo: $(STAMP) ## Install, then run the main job on the embedded default (SQLite + sandbox EHR)
	$(VENV)/bin/chartgate demo

services: ## Check (and start when missing) PostgreSQL for the tests
	@scripts/ensure-services.sh

test: install services ## Install everything, run the whole suite (SQLite, PostgreSQL, Medplum) under branch coverage, then the per-layer coverage gate
	$(VENV)/bin/pytest --cov --cov-report=
	$(PY) scripts/coverage_gate.py

test-second-python: $(STAMP) ## Unit and CLI tests on a second supported Python (3.11-3.13), if one is installed
	@second="$$(scripts/second-python.sh)"; \
	if [ -z "$$second" ]; then echo "no second Python 3.11-3.13 found: skipped"; exit 0; fi; \
	echo "second Python: $$second"; \
	test -x .venv-second/bin/python || "$$second" -m venv .venv-second; \
	.venv-second/bin/pip install --quiet --upgrade pip && \
	.venv-second/bin/pip install --quiet -e '.[dev]' && \
	.venv-second/bin/pytest tests/unit tests/e2e/test_cli.py -q -p no:cacheprovider

test-fast: $(STAMP) ## Unit tests only (no sockets)
	$(VENV)/bin/pytest tests/unit -q

# openapi-python-client pins typer<0.28 while chartgate's CLI pins a newer typer: it gets a venv
# of its own, used only to regenerate tests/chartgate_client.
CLIENT_VENV := .venv-client
client: $(STAMP) ## Regenerate the typed API client in tests/chartgate_client from /openapi.json
	test -x $(CLIENT_VENV)/bin/openapi-python-client || { $(PYTHON) -m venv $(CLIENT_VENV) && $(CLIENT_VENV)/bin/pip install --quiet openapi-python-client==0.29.1; }
	mkdir -p test-output
	CHARTGATE_DEV_MODE=true $(PY) scripts/openapi.py > test-output/openapi.json
	$(CLIENT_VENV)/bin/openapi-python-client generate --path test-output/openapi.json --meta none \
		--output-path tests/chartgate_client --overwrite --fail-on-warning --config tests/chartgate_client.yaml
	sha256sum test-output/openapi.json | cut -d' ' -f1 > tests/chartgate_client/OPENAPI_SHA256

lint: $(STAMP) ## ruff, mypy --strict (src; tests relaxed), import-linter (layers, forbidden, acyclic), interrogate (tests documented)
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/interrogate tests

format: $(STAMP) ## Apply ruff's formatter and safe fixes
	$(VENV)/bin/ruff format src tests
	$(VENV)/bin/ruff check --fix src tests

bench: install services ## Benchmarks, printed as ratios against a baseline measured in the same run
	$(PY) bench/table.py

soak: install services ## The history check at soak size (>= 5,500 write-backs under faults and crashes), as a table
	@mkdir -p test-output && rm -f test-output/history-soak-*.txt
	CHARTGATE_HISTORY_SOAK=1 $(VENV)/bin/pytest tests/history -q -p no:cacheprovider -n 2 --dist loadfile; \
	  status=$$?; cat test-output/history-soak-*.txt 2>/dev/null; exit $$status

clean: ## Remove the virtualenv, caches and test output
	rm -rf $(VENV) $(MEDPLUM)/node_modules $(OIDC_IDP)/node_modules .pytest_cache .mypy_cache .ruff_cache test-output .coverage .coverage.*
