# textserve: `make run` serves all three apps locally; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# No hub by default: models come from a local directory or the HF cache, else the demo models
# (announced). Set HF_HUB_OFFLINE=0 to let transformers download t5-small.
export HF_HUB_OFFLINE ?= 1

.PHONY: run status stop test system-packages bench bench-path bench-long bench-mixed bench-models figures peers lint demo-models install clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first, pinned to the local CPU build, so nothing pulls a CUDA build
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

$(VENV)/.bench-installed: $(VENV)/.installed
	$(VENV)/bin/pip install -q -e ".[dev,bench]"
	touch $@

# INGRESS=proxy: Serve's Python proxy instead of its HAProxy (docs/operations.md)
INGRESS ?= haproxy
run: install
	$(PY) -m textserve.local_stack up --ingress $(INGRESS)

status:
	@$(PY) -m textserve.local_stack status

stop:
	@if [ -x $(PY) ]; then $(PY) -m textserve.local_stack down; else echo "nothing to stop"; fi

demo-models: install
	$(PY) -m textserve.demo_models --out .models

# The peers the benchmark runs beside ours (BentoML, PyTriton), each in its own venv under the
# cache directory (~/.cache/textserve/peers), installed once per requirements file
peers: install
	$(PY) -m bench.peers.venvs

# Debian packages the tests drive for real: headless Chromium and its driver (the playground's
# browser test), Prometheus (every dashboard query evaluated). Installed once, as root or through
# sudo; nothing is started (the tests start and stop what they use).
SYSTEM_PACKAGES := chromium chromium-driver prometheus
system-packages:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		echo "installing Debian packages:" $$missing; \
		export DEBIAN_FRONTEND=noninteractive; \
		$$sudo apt-get install -y -q --no-install-recommends $$missing >/dev/null \
		|| { $$sudo apt-get update -q >/dev/null && $$sudo apt-get install -y -q --no-install-recommends $$missing >/dev/null; }; \
	fi

# The manifest checkers (checkov, kubernetes-validate) get a venv of their own under the cache
# directory (tests/deploy/manifest_tools.py): checkov's pins would downgrade packages in .venv.
# The demo models are built (if missing or stale) before the suite, as `make run` builds them.
test: install peers system-packages demo-models
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m tests.deploy.manifest_tools
	$(PY) -m pytest

# Reference (the seed guide's design) vs our apps, both backends, on one local Ray cluster;
# writes bench/results/<date>.json and .png. Under 15 minutes on 2 cores. Options: BENCH_ARGS=--quick
bench: $(VENV)/.bench-installed peers
	$(PY) -m bench $(BENCH_ARGS)

# What the request path costs (ingress, dashboard, Serve's throughput flags, the router's hop),
# with the demo models; writes bench/results/request-path-<date>.json. About 8 minutes.
# Options: BENCH_ARGS="--quick" or "--variants proxy,haproxy"
bench-path: $(VENV)/.bench-installed
	$(PY) -m bench.request_path $(BENCH_ARGS)

# One ~20,000-word document summarized by map-reduce: 2 replicas (fan-out, as serve_config.yaml
# configures them) vs 1; writes bench/results/long-document-<date>.json. Under 10 minutes on 2 cores.
# Options: BENCH_ARGS=--quick (1 document each, none at once)
bench-long: $(VENV)/.bench-installed
	$(PY) -m bench.long_document $(BENCH_ARGS)

# Interactive sentences alone and beside a bulk stream (long documents, 64-text lists) on the same
# replicas, one queue oldest first (FIFO) vs classes; and the sentence cache on a document whose
# sentences repeat 4x. Writes bench/results/mixed-load-<date>.json. Options: BENCH_ARGS=--quick
bench-mixed: $(VENV)/.bench-installed
	$(PY) -m bench.mixed_load $(BENCH_ARGS)

# Many models: what each model of the catalog costs (memory, load time; bench/model_memory.py), and
# the same traffic over four models on 2 replicas holding 2 each against one model
# (bench/multi_model.py). About 5 minutes. Options: BENCH_ARGS=--quick (the second only)
bench-models: $(VENV)/.bench-installed
	$(PY) -m bench.model_memory
	$(PY) -m bench.multi_model $(BENCH_ARGS)

# The figures docs/*.md quote from tests (faults, backpressure, autoscaling): run those tests,
# record their figures in bench/results/reliability/ and render every figures region of the docs
figures: install
	TEXTSERVE_FIGURES_DIR=bench/results/reliability $(PY) -m pytest -q tests/e2e/test_faults.py \
		tests/translation/test_backpressure.py tests/translation/test_autoscaling.py
	$(PY) -m bench.doc_figures

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean: stop
	rm -rf .run .models $(VENV)
