# The two commands: `make run` (set up and start the app) and `make test` (set up and test).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 3000

.PHONY: run test lint setup site infra-tools clean bench fuzz audit

run: setup site
	$(PY) -m selfhost --host $(HOST) --port $(PORT)

test: setup site infra-tools
	$(PY) -m ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

# The full fuzz run (tests/fuzz): at least 10,000 generated cases; `make test` runs a fixed-seed sample.
fuzz: setup
	CODESTREAM_FUZZ_CASES=10000 CODESTREAM_FUZZ_MIN_CASES=10000 $(PY) -m pytest tests/fuzz -q --durations=10

# Known vulnerabilities in the Python environment (pip-audit) and the web client (npm audit).
audit: setup
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

# checkov and pycep-parser pin many packages: they get a venv of their own.
INFRA_VENV := .venv-infra

infra-tools: $(INFRA_VENV)/.installed

$(INFRA_VENV)/.installed: infra/requirements-tools.txt
	test -x $(INFRA_VENV)/bin/python || $(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(INFRA_VENV)/bin/python -m pip install --quiet -r infra/requirements-tools.txt
	touch $@

# Latency, fan-out and late-join benchmark of the self-hosted server beside a socket.io 4 relay
# on Node (bench/peer), under the same load in the same run (about 12 minutes).
bench: setup $(VENV)/.bench-installed bench/peer/node_modules/.installed
	$(PY) -m bench $(BENCH_ARGS)

$(VENV)/.bench-installed: requirements-bench.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-bench.txt
	touch $@

bench/peer/node_modules/.installed: bench/peer/package.json bench/peer/package-lock.json
	cd bench/peer && npm ci --no-audit --no-fund
	touch $@

clean:
	rm -rf $(VENV) $(INFRA_VENV) .pytest_cache .ruff_cache .hypothesis $(SITE)/node_modules $(SITE)/dist test-artifacts
