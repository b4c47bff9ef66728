# Two commands on a fresh machine: `make local` and `make test`. Each installs what it needs.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
export PYTHONPATH := $(CURDIR)
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: install local test lint typecheck unit e2e infra bench synth openapi clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "uv>=0.5,<1"
	$(UV) pip install --quiet --python $(PY) -r pyproject.toml --extra dev
	touch $@

install: $(VENV)/.installed

local: install ## start moto, the resources, the HTTP API on :8080 and the SQS pollers
	$(PY) -m infra.local

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

test: lint typecheck ## the whole suite: lint, types, unit, infra (CDK synth + cdk-nag), end-to-end
	$(VENV)/bin/pytest -n 2 --dist loadgroup -q

unit: install
	$(VENV)/bin/pytest -q tests/unit

e2e: install
	$(VENV)/bin/pytest -q tests/e2e

infra: install
	$(VENV)/bin/pytest -q tests/infra

bench: install ## prints the figures and writes docs/benchmarks.md
	$(PY) -m scripts.bench

openapi: install ## writes docs/openapi.json (the served OpenAPI document; a test keeps it current)
	$(PY) -m scripts.export_openapi

synth: install ## cdk synth with locally bundled Lambda code (no Docker)
	npx --yes aws-cdk@2 synth --quiet

clean:
	rm -rf $(VENV) cdk.out .pytest_cache .mypy_cache .ruff_cache
