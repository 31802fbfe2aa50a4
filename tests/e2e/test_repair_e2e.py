"""A run damaged in the middle of ``episodes.jsonl`` is refused, repaired, resumed and reported.

The run and its resume are real CLI processes against the loopback server (assistant and
prompted user over HTTP); ``report`` and ``repair`` run in-process (the same typer app), which
keeps the test to a few seconds: each process start costs more than a second.
"""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from e2e_kit import CHATSIM, cli_env
from typer.testing import CliRunner

from chatsim.cli import app
from chatsim.recording import EPISODES_FILE, EPISODES_QUARANTINE_FILE, read_run, run_dir_lock
from chatsim.testing import LoopbackServer

pytestmark = pytest.mark.anyio


async def _chatsim(*args: str) -> tuple[int, str, str]:
    result = await anyio.run_process([*CHATSIM, *args], env=cli_env(), check=False)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def _in_process(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _ids(lines: list[bytes]) -> list[str]:
    return [json.loads(line)["episode_id"] for line in lines]


async def test_a_damaged_run_is_repaired_and_resumed(
    server: LoopbackServer, tmp_path: Path
) -> None:
    code, _, err = await _chatsim(
        "run", "--model", "vllm:assistant", "--base-url", server.base_url,
        "--simulator", "prompted:vllm:user", "--subset", "college_math", "--limit", "4",
        "--out", str(tmp_path), "--run-id", "r", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    run_dir = tmp_path / "r"
    episodes = run_dir / EPISODES_FILE
    lines = episodes.read_bytes().splitlines(keepends=True)
    planned = _ids(lines)
    assert len(planned) == 4
    damaged = lines[1][:-200] + b"\n"  # a disk error cut the second record
    episodes.write_bytes(lines[0] + damaged + b"".join(lines[2:]))

    code, _, err = _in_process("report", str(run_dir))
    assert code == 2 and f"{episodes}:2 is not a valid episode record" in err
    assert f"run: chatsim repair {run_dir}" in err

    code, out, err = _in_process("repair", str(run_dir))
    assert code == 0, err
    assert f"moved episodes.jsonl:2 ({len(damaged)} bytes; episode_id {planned[1]}): " in out
    assert f"appended to {run_dir / EPISODES_QUARANTINE_FILE}; kept 3 valid records" in out
    assert f"chatsim run --resume {run_dir}" in out
    assert (run_dir / EPISODES_QUARANTINE_FILE).read_bytes() == damaged
    assert episodes.read_bytes() == lines[0] + b"".join(lines[2:])  # valid bytes as they were

    code, _, err = await _chatsim("run", "--resume", str(run_dir), "--quiet")
    assert code == 0, err
    after = episodes.read_bytes().splitlines(keepends=True)
    assert after[:3] == [lines[0], *lines[2:]]
    assert _ids(after[3:]) == [planned[1]]  # exactly the quarantined episode was re-run

    code, out, err = _in_process("report", str(run_dir), "--json")
    assert code == 0, err
    assert json.loads(out)["overall"]["episodes"] == 4
    assert sorted(e.episode_id for e in read_run(run_dir).episodes) == sorted(planned)


def test_repair_says_when_there_is_nothing_to_do_and_refuses_a_run_being_written(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    cli = CliRunner()
    result = cli.invoke(app, ["repair", str(run_dir)])
    assert result.exit_code == 2 and "no header.json" in result.output
    (run_dir / "header.json").write_text(
        json.dumps({"run_id": "r", "created_at": 1.0, "config": {"models": ["m"]},
                    "versions": {}, "seed": 0, "planned_episodes": 0})
    )  # fmt: skip
    result = cli.invoke(app, ["repair", str(run_dir)])
    assert result.exit_code == 0 and f"nothing to repair in {run_dir}" in result.output
    with run_dir_lock(run_dir):
        result = cli.invoke(app, ["repair", str(run_dir)])
    assert result.exit_code == 2 and "being written by another chatsim process" in result.output
