#!/usr/bin/env bash
# The device checks in one call: install the carried wheels (.whl/, from fetch_wheels.sh), then
# the GPU simulator benchmark (benchmarks/gpu/run_gpu_bench.sh: batch 64 vs batch 1 tokens/s,
# GPU busy share), then the Ray scaling benchmark at 1-16 workers (benchmarks/bench_ray.py).
# Each step's output goes to $OUT (the device tool's folder that comes back), and each has a
# time limit, so that one slow step leaves the next its time. Through the device tool:
#     run(command="bash benchmarks/device/run.sh", carry=[".whl"], timeout_s=600)
# GPU_SECONDS and RAY_SECONDS set the limits (default 300 and 240); STEPS="ray" skips the GPU;
# RAY_WORKERS and RAY_CONVERSATIONS size the Ray rounds (default "1 2 4 8 16" and 20000).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-bench-out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1

# The image's python3 holds CUDA torch, transformers and peft; the rest goes to /tmp/site,
# ahead of the image's own packages on the path (the versions CI tests).
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || { echo "wheel install failed" >&2; exit 1; }
export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}" PATH="/tmp/site/bin:$PATH" PYTHON="$PY"
{
    echo "cores: $(nproc)"; "$PY" --version
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    "$PY" -c "import torch, chatsim, ray; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'ray', ray.__version__)"
} 2>&1 | tee "$OUT/machine.txt"

status=0
if [[ " ${STEPS:-gpu ray} " == *" gpu "* ]]; then
    timeout "${GPU_SECONDS:-300}" benchmarks/gpu/run_gpu_bench.sh --json "$OUT/gpu.json" \
        2>&1 | tee "$OUT/gpu.txt" || status=$?
fi
if [[ " ${STEPS:-gpu ray} " == *" ray "* ]]; then
    # shellcheck disable=SC2086  # the worker counts are words
    timeout "${RAY_SECONDS:-240}" "$PY" benchmarks/bench_ray.py --workers ${RAY_WORKERS:-1 2 4 8 16} \
        --conversations "${RAY_CONVERSATIONS:-20000}" --servers 4 --json "$OUT/ray.json" \
        2>&1 | tee "$OUT/ray.txt" || status=$?
fi
exit "$status"
