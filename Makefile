# One virtualenv for the CLI, the Pulumi program (Pulumi.yaml points at it) and the tests.
PY ?= python3
VENV := venv
BIN := $(VENV)/bin

.PHONY: setup lock plan rehearse test lint system-deps helm-venv
# requirements.txt = the lock file (exact pins, dev tools included) + this project, editable:
# the same set `pulumi install` installs.
$(BIN)/mirrors: pyproject.toml requirements.txt requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

setup: $(BIN)/mirrors

# Regenerate requirements.lock from the venv (after changing pyproject.toml's ranges and
# `$(BIN)/pip install -e '.[dev]'`); review the diff like code.
lock: setup
	{ sed -n '1,3p' requirements.lock; \
	  $(BIN)/pip freeze --exclude-editable | grep -iv '^artifact[-_]mirrors'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

# The main job on the embedded default: the offline plan of the shipped Teleport spec.
plan: setup
	$(BIN)/mirrors plan --stack prod

# The release flow end to end on local services (docker-registry, moto_server): release add, plan
# and, when the Pulumi CLI is on PATH, pulumi up / verify / yank (artifact_mirrors/rehearse.py).
rehearse: system-deps setup
	$(BIN)/python -m artifact_mirrors.rehearse

lint: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

system-deps:
	scripts/system-deps

# The real Helm client for tests/integration/charts: helm-sdkpy needs Python >= 3.12 (the main
# venv may be 3.11), so it gets its own virtualenv from its own lock file.
HELM_VENV := .venv-helm
$(HELM_VENV)/bin/python: requirements-helm.lock scripts/helm-venv
	scripts/helm-venv $(HELM_VENV)
	touch $@

helm-venv: $(HELM_VENV)/bin/python

test: system-deps lint helm-venv
	$(BIN)/pytest -q
