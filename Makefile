# The two commands: `make run` (set up and start the app) and `make test` (set up and test).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 3000

.PHONY: run test lint setup site infra-tools azurite clean bench fuzz audit prerequisites-run prerequisites-test azure-setup run-azure

# The prerequisites come first: make builds a target's prerequisites in the order listed.
run: prerequisites-run setup site
	$(PY) -m selfhost --host $(HOST) --port $(PORT)

# pytest exits 5 when it collects nothing, and make fails with it: an empty run fails. Three
# pytest runs (the worker and the old Azure harness each need a process of their own); the
# last line sums them (test-artifacts/results/*.xml).
RESULTS := test-artifacts/results
test: prerequisites-test setup site infra-tools azure-setup azurite
	$(PY) -m ruff check .
	$(PY) -m pytest $(addprefix --ignore=,$(AZURE_TESTS)) --junitxml=$(RESULTS)/main.xml $(PYTEST_ARGS)
	$(AZURE_PY) -m pytest tests/azure --junitxml=$(RESULTS)/azure.xml $(AZURE_PYTEST_ARGS)
	$(AZURE_PY) -m pytest tests/fuzz/test_fuzz_azure.py --junitxml=$(RESULTS)/azure-fuzz.xml  # the older harness: a process of its own
	$(PY) tools/test_totals.py $(RESULTS)/main.xml $(RESULTS)/azure.xml $(RESULTS)/azure-fuzz.xml

# What the machine itself must have (README.md's first lines), checked in one place:
# tools/prerequisites.sh names whatever is missing in one message and how to install it;
# for `make test`, as root on Debian, it installs Debian's chromium and redis-server itself.
# PYTHON313: a Python 3.13 (the Azure Function App's version, .python-version-azure), found
# in pyenv or on PATH; `make test` needs it for the Azure tests, `make run` does not.
PYTHON313 ?= $(shell tools/prerequisites.sh python313)
PREREQUISITES := PYTHON=$(PYTHON) PYTHON313=$(PYTHON313) tools/prerequisites.sh

prerequisites-run:
	@$(PREREQUISITES) run

prerequisites-test:
	@REQUIRE_PYTHON313=1 $(PREREQUISITES) test

# The full fuzz run (tests/fuzz): at least 10,000 generated cases; `make test` runs a fixed-seed sample.
# Then schemathesis on the HTTP API (tests/api) with ten times its examples.
fuzz: setup
	CODESTREAM_FUZZ_CASES=10000 CODESTREAM_FUZZ_MIN_CASES=10000 $(PY) -m pytest tests/fuzz -q --durations=10
	CODESTREAM_SCHEMATHESIS_EXAMPLES=300 $(PY) -m pytest tests/api/test_schemathesis.py -q

# Known vulnerabilities in the Python environment (pip-audit) and the web client (npm audit).
audit: setup azure-setup
	$(PY) .ci/audit.py

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

setup: $(VENV)/.installed

$(VENV)/.installed: requirements-selfhost.txt requirements-dev.txt requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# The web client: npm installs from the lock file, esbuild builds static_site/dist (not committed).
SITE := static_site
DIST := $(SITE)/dist/index.html
SITE_SOURCES := $(wildcard $(SITE)/src/* $(SITE)/public/* $(SITE)/index.html $(SITE)/build.mjs \
	$(SITE)/staticwebapp.config.json)

site: $(if $(wildcard $(SITE)/package.json),$(DIST))

$(SITE)/node_modules/.installed: $(SITE)/package.json $(SITE)/package-lock.json
	cd $(SITE) && npm ci --no-audit --no-fund
	touch $@

$(DIST): $(SITE)/node_modules/.installed $(SITE_SOURCES)
	cd $(SITE) && npm run build

# Azurite, the Azure Storage emulator the Table history store's tests run against (tests/support/azurite.py).
AZURITE := tools/azurite
azurite: $(AZURITE)/node_modules/.installed

$(AZURITE)/node_modules/.installed: $(AZURITE)/package.json $(AZURITE)/package-lock.json
	cd $(AZURITE) && npm ci --no-audit --no-fund
	touch $@

# checkov and pycep-parser pin many packages: they get a venv of their own.
INFRA_VENV := .venv-infra

infra-tools: $(INFRA_VENV)/.installed

$(INFRA_VENV)/.installed: infra/requirements-tools.txt
	test -x $(INFRA_VENV)/bin/python || $(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(INFRA_VENV)/bin/python -m pip install --quiet -r infra/requirements-tools.txt
	touch $@

# Latency, fan-out and late-join benchmark of the self-hosted server beside a socket.io 4 relay
# on Node (bench/peer), under the same load in the same run (about 13 minutes; 500 viewers in
# three rounds, see --rounds).
bench: setup $(VENV)/.bench-installed bench/peer/node_modules/.installed
	$(PY) -m bench $(BENCH_ARGS)

$(VENV)/.bench-installed: requirements-bench.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-bench.txt
	touch $@

bench/peer/node_modules/.installed: bench/peer/package.json bench/peer/package-lock.json
	cd bench/peer && npm ci --no-audit --no-fund
	touch $@

# The Function App on Python 3.13 in Microsoft's worker (requirements-azure.txt): its own venv.
# The tests that load function_app run there (tests/azure: in the worker, in-process); the
# scenario and browser suites reach it as a subprocess (`python -m azure_local`).
AZURE_VERSION := $(shell cat .python-version-azure)
AZURE_VENV := .venv-azure
AZURE_PY := $(AZURE_VENV)/bin/python
AZURE_TESTS := tests/azure tests/fuzz/test_fuzz_azure.py

azure-setup: $(AZURE_VENV)/.installed

$(AZURE_VENV)/.installed: requirements-azure.txt requirements.txt requirements-selfhost.txt .python-version-azure
	@REQUIRE_PYTHON313=1 $(PREREQUISITES) run  # names what to install when no Python 3.13 is found
	test -x $(AZURE_PY) || "$(PYTHON313)" -m venv $(AZURE_VENV)
	$(AZURE_PY) -m pip install --quiet --upgrade pip
	$(AZURE_PY) -m pip install --quiet -r requirements-azure.txt
	touch $@

# The Azure build locally (as `func start` would, on stand-ins for the two services): worker,
# Web PubSub for Socket.IO, Durable Entities and the site on one address (default port 7071).
AZURE_PORT ?= 7071
run-azure: azure-setup site azurite
	$(AZURE_PY) -m azure_local --host $(HOST) --port $(AZURE_PORT)

clean:
	rm -rf $(VENV) $(INFRA_VENV) $(AZURE_VENV) .pytest_cache .ruff_cache .hypothesis $(SITE)/node_modules $(SITE)/dist bench/peer/node_modules $(AZURITE)/node_modules test-artifacts
