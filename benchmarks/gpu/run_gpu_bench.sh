#!/usr/bin/env bash
# GPU benchmark of the local simulator (Mistral-7B shape, bf16, random weights; no download).
# Run from the repository root on a machine with a CUDA GPU, e.g.:
#     benchmarks/gpu/run_gpu_bench.sh                 # throughput sweep + 256 episodes
#     benchmarks/gpu/run_gpu_bench.sh --cb            # also transformers' continuous batching
# Needs a Python with CUDA torch, transformers >= 5, peft, tokenizers and chatsim's own
# dependencies (anyio, pydantic, ...); chatsim itself is taken from this working tree.
# About 2-4 minutes on one H100 (model init ~30 s, sweep ~30 s, episodes ~1-2 min).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-python}"
if [ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ]; then
    # The local venv is CPU-only torch: use it only if it sees a GPU.
    if .venv/bin/python -c "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
        PY=.venv/bin/python
    fi
fi
"$PY" - <<'PYCHECK'
import importlib, sys
missing = [m for m in ("torch", "transformers", "peft", "tokenizers", "anyio", "pydantic")
           if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"missing Python packages: {', '.join(missing)}")
import torch
if not torch.cuda.is_available():
    sys.exit("torch sees no CUDA GPU: this benchmark needs one")
PYCHECK
export PYTHONPATH="$PWD/src:${PYTHONPATH:-}"
export TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
exec "$PY" benchmarks/gpu/bench_gpu_simulator.py "$@"
