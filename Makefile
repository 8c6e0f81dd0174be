# The commands the README names. Each one installs what it needs first.
.PHONY: setup quickstart test lint unit integration e2e image manifests

VENV := .venv/bin

setup:
	tests/env/setup.sh

# The main job: a sample ContactSync run locally on an embedded Temporal dev server.
quickstart:
	tests/env/setup.sh --no-build
	$(VENV)/contactsync local examples/quickstart.yaml --demo examples/sample-contacts

# The whole suite: lint, types, unit, integration and end-to-end tests against real servers.
test: setup lint
	$(VENV)/pytest tests

# The operator and worker image, from ./Dockerfile: docker where an engine runs, else buildah.
image:
	tests/env/build-image.sh

# deploy/install.yaml and deploy/crds.yaml, rendered from the chart and crds/ (kubectl users).
manifests:
	tests/env/setup.sh
	deploy/render.sh

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy

unit:
	$(VENV)/pytest tests/unit

integration:
	$(VENV)/pytest tests/integration

e2e:
	$(VENV)/pytest tests/e2e
