# One virtualenv for the CLI, the Pulumi program (Pulumi.yaml points at it) and the tests.
PY ?= python3
VENV := venv
BIN := $(VENV)/bin

.PHONY: setup plan test lint system-deps
$(BIN)/mirrors: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: $(BIN)/mirrors

# The main job on the embedded default: the offline plan of the shipped Teleport spec.
plan: setup
	$(BIN)/mirrors plan --stack prod

lint: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

system-deps:
	scripts/system-deps

test: system-deps lint
	$(BIN)/pytest -q
