#!/usr/bin/env bash
# Wheels for the device machine (the `device` tool's nvidia-h200: Python 3.12 on x86-64, no
# network there), into .whl/ (git-ignored): what the benchmarks need that its image lacks
# (its package list: /work/.library/device/KINDS.md), pinned to the versions CI tests, plus
# chatsim and chatsim-openai themselves (their entry points register the vllm: target).
# Run here, where the package index is reachable; benchmarks/device/run.sh installs them there.
#     benchmarks/device/fetch_wheels.sh && du -sh .whl
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-python3}"
out=.whl
rm -rf "$out" && mkdir -p "$out"
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
    platforms+=(--platform "$p")
done
# The image has numpy, scipy, pandas, pyarrow, aiohttp, httpx, anyio, rich, typer, psutil,
# grpcio, protobuf, msgpack, pyyaml, requests, click, filelock, narwhals, torch, transformers
# and peft; not these (nor plotly: only HTML reports import it).
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${platforms[@]}" -d "$out" \
    annotated-types==0.8.0 httpcore2==2.16.2 httpx2==2.16.2 jiter==0.19.0 jsonschema==4.26.0 \
    jsonschema-specifications==2025.9.1 openai==3.57.0 orjson==3.13.0 \
    pydantic==2.14.4 pydantic-core==2.50.5 ray==2.60.0 referencing==0.37.0 rpds-py==2026.9.1 \
    sniffio==1.3.1 structlog==26.1.0 tenacity==9.1.4 truststore==0.10.5 typing-inspection==0.4.5
"$PY" benchmarks/device/slim_wheel.py "$out"/ray-*.whl
"$PY" -m pip wheel -q --no-deps -w "$out" . adapters/openai
du -sh "$out"
