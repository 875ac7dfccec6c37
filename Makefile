# lora-repro: every target but `setup` uses the project's own virtual environment in .venv/.
SHELL := /bin/bash
PY     ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTHON := $(BIN)/python
# CPU machines take the CPU wheel of torch 2.13.0 (a bare `torch` pulls a multi-GB CUDA build);
# a machine with an NVIDIA driver takes the default (CUDA) build. Override with TORCH_SPEC=...
TORCH_SPEC ?= $(shell if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then echo "torch"; else echo "torch==2.13.0"; fi)
PROFILE ?= tiny
SEEDS   ?=
LAUNCHER ?=
JOBS    ?=
PYTEST_ARGS ?=

.PHONY: setup test lint format bench clean-venv check-java help

help:
	@echo "make setup     create .venv and install lora-repro with its dev tools"
	@echo "make test      run the test suite"
	@echo "make lint      ruff"
	@echo "make bench     benchmarks (ratios measured side by side)"
	@echo "make reproduce-table-N [PROFILE=tiny|paper SEEDS=1,2 LAUNCHER=local|parallel|slurm JOBS=N]"

$(PYTHON):
	$(PY) -m venv $(VENV)
	$(PYTHON) -m pip install --upgrade pip setuptools wheel

setup: $(PYTHON)
	$(PYTHON) -m pip install "$(TORCH_SPEC)"
	$(PYTHON) -m pip install -e ".[dev,slurm]"
	@$(MAKE) --no-print-directory check-java
	@echo "setup done: activate with 'source $(VENV)/bin/activate' or use 'make test'"

check-java:
	@$(PYTHON) -m lora_repro.metrics.java || echo "         Until then METEOR (and E2E's ROUGE_L/CIDEr, which use the Java PTB tokenizer) are reported as unavailable."

test: $(PYTHON)
	$(PYTHON) -m pytest $(PYTEST_ARGS)

lint: $(PYTHON)
	$(BIN)/ruff check lora_repro tests scripts benchmarks
	$(BIN)/ruff format --check lora_repro tests scripts benchmarks

format: $(PYTHON)
	$(BIN)/ruff check --fix lora_repro tests scripts benchmarks
	$(BIN)/ruff format lora_repro tests scripts benchmarks

bench: $(PYTHON)
	$(PYTHON) -m benchmarks.run
	$(PYTHON) -m benchmarks.parallel

# make reproduce-table-N: tiny profile by default; PROFILE=paper SEEDS=1,2 LAUNCHER=local|parallel|slurm JOBS=N.
# (a pattern rule, deliberately not .PHONY: make skips pattern rules for phony targets)
reproduce-table-%: $(PYTHON)
	$(BIN)/lora-repro table $* profile=$(PROFILE) $(if $(SEEDS),seeds=$(SEEDS)) $(if $(LAUNCHER),launcher=$(LAUNCHER)) $(if $(JOBS),jobs=$(JOBS))

clean-venv:
	rm -rf $(VENV)
