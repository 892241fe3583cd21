# Two entry points: `make demo` (the main job on the packaged default encoder)
# and `make test`. Each sets up its own virtualenv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# On a machine without an NVIDIA GPU, install the CPU build of torch first, so
# that the open `torch` requirement does not pull a multi-GB CUDA build.
TORCH_CPU ?= torch==2.13.0
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && echo 1)
PYTEST_ARGS ?=

.PHONY: setup test test-fast demo bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
ifneq ($(HAS_GPU),1)
	$(PY) -m pip install -q "$(TORCH_CPU)"
endif
	$(PY) -m pip install -q -e ".[test,plots,bench]"
	touch $@

test: setup
	$(PY) -m pytest tests $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest tests -m "not slow" $(PYTEST_ARGS)

demo: setup
	$(PY) -m spacy project run all .
	$(PY) scripts/demo.py

bench: setup
	bash bench/all.sh

clean:
	rm -rf training metrics packages corpus/*.spacy
