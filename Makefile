# The commands the README names. Each one installs what it needs first. `make help` lists them.
.PHONY: help setup quickstart test lint fmt unit integration e2e bench bench-operator image crd manifests bench-scale-out bench-files

VENV := .venv/bin
CLI := $(VENV)/contactsync
CHART_FILES := helm/contactsync/files
CARDS ?= 10000
RUNS ?= 3
RESOURCES ?= 300
REGIONS ?= 2
LATENCY_MS ?= 50
RECORDS ?= 100000

help: ## this list
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z0-9-]+):.*## (.*)/  make \1\t\2/' | expand -t 24

setup: ## install the virtualenv and build the test servers and tools (cached outside the clone)
	tests/env/setup.sh

QUICKSTART := run examples/quickstart.yaml --demo examples/sample-contacts --log-format text

quickstart: ## the main job: a sample ContactSync run locally on an embedded Temporal dev server
	tests/env/setup.sh --no-build
	@state=$$(mktemp -d) && trap 'rm -rf "$$state"' EXIT && \
	$(CLI) $(QUICKSTART) --state-dir "$$state" && \
	echo && echo "Once more on the same state: only what changed since is read and written" && \
	$(CLI) $(QUICKSTART) --state-dir "$$state"

test: setup lint ## the whole suite: lint, types, unit, integration and end-to-end on real servers
	$(VENV)/pytest tests

lint: ## what CI checks before the tests: ruff, ruff format, mypy, the import layers
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy
	$(VENV)/lint-imports

fmt: ## format the code and apply ruff's safe fixes
	$(VENV)/ruff format .
	$(VENV)/ruff check --fix .

unit: ## the unit tests only (no servers)
	$(VENV)/pytest tests/unit

integration: ## the integration tests (real servers, no Kubernetes node)
	$(VENV)/pytest tests/integration

e2e: ## the end-to-end tests (control plane, operator, and the real-pod node)
	$(VENV)/pytest tests/e2e

bench: bench-operator ## bench-operator, then ContactSync and vdirsyncer side by side on a real Radicale (CARDS=10000 RUNS=3)
	$(VENV)/pip install -q -e '.[bench]'
	$(VENV)/python -m bench.carddav_sync --cards $(CARDS) --runs $(RUNS)

bench-operator: ## the operator with many ContactSyncs on the test control plane (RESOURCES=300 REGIONS=2)
	tests/env/setup.sh --no-build
	$(VENV)/python -m bench.operator_scale --resources $(RESOURCES) --regions $(REGIONS)

bench-scale-out: CARDS = 5000
bench-scale-out: ## one worker process against two on one slow CardDAV book (CARDS=5000 RUNS=3 LATENCY_MS=50)
	tests/env/setup.sh --no-build
	$(VENV)/python -m bench.scale_out --cards $(CARDS) --runs $(RUNS) --latency-ms $(LATENCY_MS)

bench-files: ## a CSV and a JSON Lines file synced into PostgreSQL (RECORDS=100000 RUNS=3)
	tests/env/setup.sh --no-build
	$(VENV)/python -m bench.file_sync --records $(RECORDS) --runs $(RUNS)

image: ## the operator and worker image, from ./Dockerfile: docker where it runs, else buildah
	tests/env/build-image.sh

crd: ## regenerate every CRD from the typed models, copy each into the chart, re-render deploy/
	$(CLI) crd > crds/contactsync.yaml
	$(CLI) crd egress > crds/contactsyncegresspolicy.yaml
	cp crds/contactsync.yaml $(CHART_FILES)/contactsync-crd.yaml
	cp crds/contactsyncegresspolicy.yaml $(CHART_FILES)/contactsyncegresspolicy-crd.yaml
	cp crds/kopf-peering.yaml $(CHART_FILES)/kopf-peering-crds.yaml
	deploy/render.sh

manifests: ## deploy/install.yaml, crds.yaml and the Argo CD patch, rendered from the chart and crds/
	tests/env/setup.sh
	deploy/render.sh
