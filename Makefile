# Two commands on a fresh machine: `make run` (the product) and `make test` (the tests).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test test-postgres install install-dev sdk-venv migration bench demo clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# The official Tencent device SDK pins paho-mqtt 1.5.1, so it lives in a venv of its own.
.venv-sdk/.installed:
	$(PYTHON) -m venv .venv-sdk
	.venv-sdk/bin/pip install -q --no-deps tencent-iot-device==1.0.0 paho-mqtt==1.5.1 pycryptodome==3.23.0
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev
sdk-venv: .venv-sdk/.installed

run: install
	$(PY) -m ota.runtime.launcher

test: install-dev sdk-venv
	$(PY) -m pytest $(PYTEST_ARGS)

# The same suite against PostgreSQL (this machine: 127.0.0.1:5432, user postgres, trust auth).
test-postgres: install-dev sdk-venv
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres} $(PY) -m pytest $(PYTEST_ARGS)

# Rewrite migrations/versions/0001_initial.py from the models (while nothing is released).
migration: install
	$(PY) scripts/regen_migration.py

bench: install-dev
	$(PY) -m bench

demo: install-dev sdk-venv
	$(PY) -m ota.runtime.demo $(DEMO_ARGS)

clean:
	rm -rf $(VENV) .venv-sdk instance
