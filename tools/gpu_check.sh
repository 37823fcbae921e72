#!/usr/bin/env bash
# The GPU check (make gpu-check): on a machine with a CUDA GPU and PyTorch, without network access,
# run the CUDA tests and the GPU backend benchmark and write one results file. Installs nothing.
#
#   tools/gpu_check.sh [--quick] [--out FILE]      # default FILE: bench/results/gpu.md
#
# Python: $PYTHON if set, else this repository's .venv when it has torch, else python3 (the
# machine's own PyTorch). What that Python lacks is skipped with the reason; see docs/gpu.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n "${PYTHON:-}" ]]; then
  PY=$PYTHON
elif [[ -x .venv/bin/python ]] && .venv/bin/python -c "import torch" 2>/dev/null; then
  PY=.venv/bin/python
else
  PY=python3
fi
if ! "$PY" -c "import torch" 2>/dev/null; then
  echo "gpu_check: $PY cannot import torch; set PYTHON to an interpreter with PyTorch" >&2
  exit 2
fi
# Offline by construction: pip and model hubs may not reach out, whatever a step tries.
export PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec timeout --kill-after=10 600 "$PY" tools/gpu_check.py "$@"
