# Two commands on a fresh machine: `make local` and `make test`. Each installs what it needs.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
export PYTHONPATH := $(CURDIR)
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export AWS_DEFAULT_REGION ?= us-east-1
# The CDK CLI pinned in package.json / package-lock.json, never a download of whatever is newest.
NODE_DEPS := node_modules/.package-lock.json
CDK := npx --no-install cdk
CDK_ARGS ?=

.PHONY: install browser cdk-cli local test lint typecheck unit e2e infra bench synth deploy openapi clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "uv>=0.5,<1"
	$(UV) pip install --quiet --python $(PY) -r pyproject.toml --extra dev
	touch $@

install: $(VENV)/.installed

$(NODE_DEPS): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# The portal's browser tests drive Debian's chromium through Playwright's Python client (no browser
# download): install it when the machine lacks it (root, as CI runs; otherwise sudo).
browser:
	@command -v chromium >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

cdk-cli: $(NODE_DEPS) ## node_modules with the CDK CLI of package-lock.json (npm ci)

local: install ## start moto, the resources, the HTTP API on :8080 and the SQS pollers
	$(PY) -m infra.local

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

# The suite records every AWS call our functions make here; the last step checks them against IAM.
AWS_CALLS := $(CURDIR)/build/aws-calls

test: lint typecheck browser $(NODE_DEPS) ## the whole suite: lint, types, unit, infra (CDK synth + cdk-nag), end-to-end, then the IAM check of the AWS calls it made
	rm -rf $(AWS_CALLS)
	WEBHOOKS_RECORD_AWS_CALLS=$(AWS_CALLS) $(VENV)/bin/pytest -n 2 --dist loadgroup -q
	WEBHOOKS_RECORD_AWS_CALLS=$(AWS_CALLS) $(VENV)/bin/pytest -q -m after_suite tests/infra

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

synth: install $(NODE_DEPS) ## cdk synth with locally bundled Lambda code (no Docker)
	$(CDK) synth --quiet $(CDK_ARGS)

deploy: install $(NODE_DEPS) ## e.g. make deploy CDK_ARGS="-c stage=prod -c alarm_email=ops@example.com"
	$(CDK) deploy $(CDK_ARGS)

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache
