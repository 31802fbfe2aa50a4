"""``chatsim run --simulator hf:<base>+<adapter>``: the local transformers + peft simulator, on
a tiny model built offline, batched across episodes, against a real HTTP target."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from e2e_kit import CHATSIM, cli_env

from chatsim.protocol import Role
from chatsim.recording import read_run
from chatsim.testing import LoopbackServer, TinyModelPaths

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def test_run_with_the_local_lora_simulator(
    server: LoopbackServer, tiny_model: TinyModelPaths, tmp_path: Path
) -> None:
    paths = tiny_model
    result = await anyio.run_process(
        [
            *CHATSIM,
            "run",
            "--model",
            "vllm:assistant",
            "--base-url",
            server.base_url,
            "--simulator",
            f"hf:{paths.base}+{paths.adapter}",
            "--simulator-max-tokens",
            "12",
            "--max-turns",
            "2",
            "--subset",
            "college_math",
            "--limit",
            "3",
            "--repeats",
            "2",
            "--out",
            str(tmp_path),
            "--run-id",
            "hf",
        ],
        env=cli_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    data = read_run(tmp_path / "hf")
    assert len(data.episodes) == 6
    for episode in data.episodes:
        assert not episode.termination.is_error, episode.error
        users = [t for t in episode.turns if t.role is Role.USER]
        assert users and all(t.usage is not None and t.usage.completion_tokens > 0 for t in users)
        assert all("[END]" not in t.text for t in users)
    assert data.header.config.simulator.startswith("hf:")
