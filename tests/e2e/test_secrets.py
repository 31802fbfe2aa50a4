"""A planted API key never reaches records, headers saved in records, logs, reports, error
messages or ``--dry-run`` output."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from e2e_kit import ASSISTANT_REPLY, CHATSIM, cli_env

from chatsim.testing import FaultKind, FaultPlan, LoopbackServer, ReplyScript

pytestmark = pytest.mark.anyio

KEY = "sk-PLANTED-secret-0123456789abcdefXYZ"
FRAGMENTS = (KEY, KEY[3:], "PLANTED-secret")


def _assert_clean(name: str, text: str) -> None:
    for fragment in FRAGMENTS:
        assert fragment not in text, f"secret leaked into {name}"


def _scan_tree(root: Path) -> int:
    scanned = 0
    for path in root.rglob("*"):
        if path.is_file():
            _assert_clean(str(path), path.read_bytes().decode("utf-8", "replace"))
            scanned += 1
    return scanned


async def test_planted_key_appears_in_no_artifact(tmp_path: Path) -> None:
    faults = FaultPlan({FaultKind.SERVER_ERROR: 0.2, FaultKind.RATE_LIMIT: 0.1}, seed=3)
    async with LoopbackServer(ReplyScript(ASSISTANT_REPLY), api_key=KEY, faults=faults) as server:
        env = cli_env({"VLLM_API_KEY": KEY})
        common = [
            "--model",
            "vllm:assistant",
            "--base-url",
            server.base_url,
            "--simulator",
            "scripted",
            "--subset",
            "college_math",
            "--limit",
            "6",
            "--out",
            str(tmp_path),
        ]
        outputs = {}
        run = await anyio.run_process(
            [*CHATSIM, "run", *common, "--run-id", "ok", "--log-level", "debug", "--baseline"],
            env=env,
            check=False,
        )
        assert run.returncode == 0, run.stderr.decode()
        outputs["run"] = run.stdout + run.stderr
        dry = await anyio.run_process([*CHATSIM, "run", *common, "--dry-run"], env=env, check=False)
        assert dry.returncode == 0
        outputs["dry-run"] = dry.stdout + dry.stderr
        html = tmp_path / "report.html"
        report = await anyio.run_process(
            [*CHATSIM, "report", str(tmp_path / "ok"), "--html", str(html), "--json"],
            env=env,
            check=False,
        )
        assert report.returncode == 0, report.stderr.decode()
        outputs["report"] = report.stdout + report.stderr
        # A wrong key: the provider's 401 and our error message must not echo it either.
        wrong = await anyio.run_process(
            [*CHATSIM, "run", *common, "--run-id", "refused"],
            env=cli_env({"VLLM_API_KEY": KEY + "-wrong"}),
            check=False,
        )
        assert wrong.returncode == 3
        outputs["refused"] = wrong.stdout + wrong.stderr
        # The server did receive the key: the test would be vacuous otherwise.
        assert any(KEY in r.headers.get("authorization", "") for r in server.requests)
    for name, output in outputs.items():
        _assert_clean(name, output.decode())
    assert (tmp_path / "ok" / "log.jsonl").stat().st_size > 0
    assert _scan_tree(tmp_path) >= 6
