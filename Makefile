# lane_sad: make setup | make lint | make test | make demo | make bench | make compare | make gpu-check
# Every target does its own set-up (make setup is idempotent and quick when nothing changed).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup lint test demo bench compare gpu-check train-default clean

setup:
	@bash tools/setup_venv.sh

# Style and structure: ruff (lint and format), mypy (pyproject's strictness), import-linter's contracts.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: setup
	LANE_SAD_REQUIRE_ROS=1 $(PY) -m pytest

demo: setup
	$(PY) -m lane_sad_ros.demo

bench: setup
	@mkdir -p bench/results
	@set -e; for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b --out bench/results; done

# On a CUDA machine without network: the CUDA tests and the GPU benchmark -> bench/results/gpu.md.
# No set-up step: it runs with the machine's PyTorch (or .venv's, when present) and installs nothing.
gpu-check:
	bash tools/gpu_check.sh

compare: setup
	$(PY) tools/compare.py $(if $(PART),--part $(PART),)

train-default: setup
	bash tools/train_default.sh

clean:
	rm -rf build install log
