# lora-repro: every target but `setup` uses the project's own virtual environment in .venv/.
SHELL := /bin/bash
PY     ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTHON := $(BIN)/python
# `make setup` installs exactly one of the two locks in requirements/ (every package, its version and
# its hashes): the CPU lock (torch 2.13.0+cpu) on a machine without a working nvidia-smi, the CUDA lock
# (torch 2.13.0 from PyPI with its NVIDIA runtime packages) on one with. Override with LOCK=cpu|cuda.
LOCK   ?= $(shell if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then echo cuda; else echo cpu; fi)
LOCKFILE = requirements/lock-$(LOCK).txt
# make lock: uv (in its own .venv-lock/) resolves both locks for Python 3.11 on x86-64 Linux.
LOCK_VENV := .venv-lock
UV     := $(LOCK_VENV)/bin/uv
UV_VERSION ?= 0.13.9
UPGRADE ?=
# Where the CPU torch wheel comes from when locking: pip's find-links on this project's machines,
# PyTorch's CPU wheel index elsewhere.
TORCH_CPU_SOURCE ?= $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS),--extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match)
PIP_TORCH_CPU ?= $(if $(PIP_FIND_LINKS),,--extra-index-url https://download.pytorch.org/whl/cpu)
LOCK_ARGS = pyproject.toml requirements/tools.in --extra dev --extra slurm --constraint requirements/constraints.txt \
	--python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes \
	--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)
PROFILE ?= tiny
SEEDS   ?=
LAUNCHER ?=
JOBS    ?=
PYTEST_ARGS ?=
TEST_JOBS ?= 2

.PHONY: reproduce-all reproduce-figures setup test test-latest lock env lint format bench bench-parallel gpu-check clean-venv check-java help learnability

help:
	@echo "make setup     create .venv and install lora-repro with its dev tools"
	@echo "make test      run the test suite"
	@echo "make lock      re-resolve requirements/lock-{cpu,cuda}.txt (UPGRADE=1: newest releases)"
	@echo "make test-latest  the test suite in a throwaway env with the newest releases (not CI)"
	@echo "make env       the environment block that every result.json records"
	@echo "make lint      ruff"
	@echo "make bench     efficiency, measured: results/<device>/efficiency.md, table1.md, figure5 (minutes on CPU)"
	@echo "make bench-parallel  DDP vs FSDP vs DeepSpeed ZeRO-2/3 memory on two CPU processes"
	@echo "make gpu-check the GPU paths on random-weight models (<= 8 min on one GPU): results/<gpu>/gpu-check.md"
	@echo "make reproduce-table-N [PROFILE=tiny|paper SEEDS=1,2 LAUNCHER=local|parallel|slurm JOBS=N]"
	@echo "make reproduce-figure-N  a Section 7 figure (N = 2..8, table7) [PROFILE=tiny|paper JOBS=N]; reproduce-figures: all"
	@echo "make reproduce-all  every table, audit, figure and the claims, then results/<profile>/README.md [PROFILE= SEEDS= LAUNCHER= JOBS=]"
	@echo "make learnability  results/tiny/learnability.md: does each tiny task learn? [SEEDS=1,2,3 JOBS=N]"

$(PYTHON):
	$(PY) -m venv $(VENV)

# The lock installs everything, pip and setuptools included, with hashes and without resolving anything;
# lora-repro itself goes in editable on top, and the check fails setup if .venv differs from the lock.
setup: $(PYTHON)
	@test -f $(LOCKFILE) || { echo "make setup: no lock $(LOCKFILE) (LOCK must be cpu or cuda)"; exit 2; }
	$(PYTHON) -m pip install --require-hashes --no-deps -r $(LOCKFILE) $(if $(filter cpu,$(LOCK)),$(PIP_TORCH_CPU))
	$(PYTHON) -m pip install --no-deps --no-build-isolation -e .
	$(PYTHON) -m pip check
	$(PYTHON) -m lora_repro.environment --check-lock $(LOCKFILE)
	@$(MAKE) --no-print-directory check-java
	@echo "setup done: activate with 'source $(VENV)/bin/activate' or use 'make test'"

$(UV):
	$(PY) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install "uv==$(UV_VERSION)"

lock: $(UV)
	$(UV) pip compile $(LOCK_ARGS) requirements/torch-cpu.in $(TORCH_CPU_SOURCE) -o requirements/lock-cpu.txt
	env -u PIP_FIND_LINKS -u UV_FIND_LINKS $(UV) pip compile $(LOCK_ARGS) requirements/torch-cuda.in -o requirements/lock-cuda.txt
	@echo "locked: review 'git diff requirements/', then make setup && make test"

# Newest releases of every dependency pyproject.toml allows, in a throwaway .venv-latest/; writes
# docs/test-latest.md (date, versions against the lock, pass/fail). Not part of CI.
test-latest:
	$(PY) scripts/test_latest.py --lock requirements/lock-cpu.txt $(if $(PYTEST_ARGS),--pytest-args "$(PYTEST_ARGS)")

env: $(PYTHON)
	@$(BIN)/lora-repro env

check-java:
	@$(PYTHON) -m lora_repro.metrics.java || echo "         Until then METEOR (and E2E's ROUGE_L/CIDEr, which use the Java PTB tokenizer) are reported as unavailable."

# make test: the whole suite on TEST_JOBS pytest-xdist workers (TEST_JOBS=0: one process, no xdist)
test: $(PYTHON)
	$(PYTHON) -m pytest -n $(TEST_JOBS) $(PYTEST_ARGS)

lint: $(PYTHON)
	$(BIN)/ruff check lora_repro tests scripts benchmarks
	$(BIN)/ruff format --check lora_repro tests scripts benchmarks

format: $(PYTHON)
	$(BIN)/ruff check --fix lora_repro tests scripts benchmarks
	$(BIN)/ruff format lora_repro tests scripts benchmarks

# make bench: a short version of every `lora-repro bench` (docs/efficiency.md), PEFT on identical math
# and the committed tables' checkpoint sizes included. BENCH_ARGS: e.g. out=/tmp/bench.
BENCH_ARGS ?=
bench: $(PYTHON)
	$(BIN)/lora-repro bench all $(BENCH_ARGS)

bench-parallel: $(PYTHON)
	$(PYTHON) -m benchmarks.parallel

# make gpu-check: exits non-zero on any failed check; its CPU variant (device=cpu) runs in the test suite.
gpu-check: $(PYTHON)
	$(BIN)/lora-repro bench gpu-check device=cuda

# make reproduce-table-N: tiny profile by default; PROFILE=paper SEEDS=1,2 LAUNCHER=local|parallel|slurm JOBS=N.
# (a pattern rule, deliberately not .PHONY: make skips pattern rules for phony targets)
reproduce-table-%: $(PYTHON)
	$(BIN)/lora-repro table $* profile=$(PROFILE) $(if $(SEEDS),seeds=$(SEEDS)) $(if $(LAUNCHER),launcher=$(LAUNCHER)) $(if $(JOBS),jobs=$(JOBS))

# make reproduce-figure-N (N = 2, 3, 4, 5, 6, 7, 8 or table7) and make reproduce-figures (all of them):
# the cells a Section 7 figure needs (missing ones only), then the figure (docs/analysis.md).
reproduce-figure-%: $(PYTHON)
	$(BIN)/lora-repro figure $* profile=$(PROFILE) $(if $(JOBS),jobs=$(JOBS))

reproduce-figures: $(PYTHON)
	$(BIN)/lora-repro figure all profile=$(PROFILE) $(if $(JOBS),jobs=$(JOBS))

# make reproduce-all: every table with a spec, the hyperparameter audits, the figures, the claims and
# results/<profile>/README.md (lora-repro table all); a rerun runs nothing and changes no file.
reproduce-all: $(PYTHON)
	$(BIN)/lora-repro table all profile=$(PROFILE) $(if $(SEEDS),seeds=$(SEEDS)) $(if $(LAUNCHER),launcher=$(LAUNCHER)) $(if $(JOBS),jobs=$(JOBS))

# make learnability: per tiny task the untrained model, a trivial baseline, LoRA and FT, and the bars.
learnability: $(PYTHON)
	$(BIN)/lora-repro learnability $(if $(SEEDS),seeds=$(SEEDS)) $(if $(LAUNCHER),launcher=$(LAUNCHER)) $(if $(JOBS),jobs=$(JOBS))

clean-venv:
	rm -rf $(VENV)
