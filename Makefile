# textserve: `make run` serves all three apps locally; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export RAY_AUTH_MODE := disabled
# No hub by default: models come from a local directory or the HF cache, else the demo models
# (announced). Set HF_HUB_OFFLINE=0 to let transformers download t5-small.
export HF_HUB_OFFLINE ?= 1

.PHONY: run stop test lint demo-models install clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first, pinned to the local CPU build, so nothing pulls a CUDA build
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m textserve.local_stack up

stop:
	@if [ -x $(PY) ]; then $(PY) -m textserve.local_stack down; else echo "nothing to stop"; fi

demo-models: install
	$(PY) -m textserve.demo_models --out .models

test: install
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .

clean: stop
	rm -rf .run .models $(VENV)
