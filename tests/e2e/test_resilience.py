"""A user walks away from a long run: every scheduled episode is recorded exactly once, every
failure is explained, a crash or Ctrl-C loses nothing, and no secret leaks."""

from __future__ import annotations

import json
import random
import signal
import subprocess
from collections import Counter
from pathlib import Path

import anyio
import pytest
from e2e_kit import ASSISTANT_REPLY, CHATSIM, cli_env

from chatsim.protocol import Role, TerminationReason
from chatsim.recording import EPISODES_FILE, read_run
from chatsim.runner import RunConfig, execute_run, prepare_run
from chatsim.testing import Fault, FaultKind, FaultPlan, Latency, LoopbackServer, ReplyScript

pytestmark = pytest.mark.anyio

FAST_RETRIES = {
    "backoff_initial": 0.001,
    "backoff_max": 0.01,
    "max_retry_after": 0.01,
    "attempt_timeout": 0.5,
    "adaptive_quiet_period": 0.05,
}
SOAK_FAULTS: dict[Fault | FaultKind | str, float] = {
    FaultKind.RATE_LIMIT: 0.015,
    FaultKind.RATE_LIMIT_MS: 0.01,
    FaultKind.RATE_LIMIT_DATE: 0.005,
    FaultKind.SERVER_ERROR: 0.015,
    FaultKind.BAD_GATEWAY: 0.005,
    FaultKind.SERVICE_UNAVAILABLE: 0.01,
    FaultKind.GATEWAY_TIMEOUT: 0.005,
    FaultKind.RESET: 0.01,
    FaultKind.RESET_MID_STREAM: 0.01,
    FaultKind.MALFORMED_SSE: 0.003,
    FaultKind.MALFORMED_JSON: 0.002,
    FaultKind.EMPTY_CHOICES: 0.003,
    Fault(FaultKind.STALL, stall=2.0): 0.002,
    FaultKind.CONTEXT_LENGTH: 0.005,
}


@pytest.mark.slow
async def test_soak_every_episode_recorded_once_with_the_right_reason(tmp_path: Path) -> None:
    plan = FaultPlan(SOAK_FAULTS, seed=7)
    async with LoopbackServer(ReplyScript(ASSISTANT_REPLY), faults=plan) as server:
        config = RunConfig(
            models=("vllm:assistant",),
            source="chatbench",
            selection="all",
            limit=1000,
            repeats=2,
            simulator="scripted",
            base_url=server.base_url,
            concurrency=64,
            policy=FAST_RETRIES,
        )
        setup = prepare_run(config, out_dir=tmp_path, run_id="soak")
        try:
            await execute_run(setup)
        finally:
            await setup.aclose()
    data = read_run(tmp_path / "soak")
    planned = {p.episode_id for p in setup.plans}
    assert len(planned) == 2000
    assert [e.episode_id for e in data.episodes].count(data.episodes[0].episode_id) == 1
    assert {e.episode_id for e in data.episodes} == planned
    assert len(data.episodes) == 2000 and data.duplicates == 0
    reasons = Counter(e.termination for e in data.episodes)
    recovered = lost = 0
    for episode in data.episodes:
        attempts = [a for t in episode.turns if t.role is Role.ASSISTANT for a in t.attempts]
        outcomes = {a.outcome for a in attempts}
        if episode.termination is TerminationReason.TARGET_ERROR:
            lost += 1
            final = episode.turns[-1].attempts[-1]
            # Lost only to a permanent error, or to a transient one after every attempt.
            assert final.outcome == "permanent" or len(episode.turns[-1].attempts) == 5
        else:
            assert not episode.termination.is_error, episode.termination
            recovered += bool(outcomes - {"ok"})
        for turn in episode.turns:
            if turn.role is Role.ASSISTANT and turn.text:
                assert turn.text == ASSISTANT_REPLY  # no partial text from a cut stream
                assert turn.attempts[-1].outcome == "ok"
    injected = sum(plan.injected.values())
    print(
        f"\nsoak: episodes={len(planned)} records={len(data.episodes)} faults={injected} "
        f"by kind={dict(plan.injected)} recovered={recovered} lost={lost} reasons={dict(reasons)}"
    )
    assert injected > 200
    assert recovered > 100
    assert lost == reasons[TerminationReason.TARGET_ERROR]
    assert lost <= plan.injected[FaultKind.CONTEXT_LENGTH] + 5


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


async def _start_and_stop(
    args: list[str], run_dir: Path, sig: int, after: int
) -> subprocess.CompletedProcess[bytes]:
    """Start ``chatsim run``, wait for ``after`` recorded episodes (+ a random beat), signal it."""
    async with await anyio.open_process(args, env=cli_env()) as proc:
        with anyio.fail_after(60):
            while _lines(run_dir / EPISODES_FILE) < after:  # noqa: ASYNC110 - polls a file another process writes
                await anyio.sleep(0.02)
        await anyio.sleep(random.Random(after).uniform(0.0, 0.2))
        proc.send_signal(sig)
        await proc.wait()
        stderr = b""
        if proc.stderr is not None:
            async for chunk in proc.stderr:
                stderr += chunk
        return subprocess.CompletedProcess(args, proc.returncode or 0, b"", stderr)


def _outcomes(run_dir: Path) -> dict[str, tuple[object, ...]]:
    data = read_run(run_dir)
    assert data.duplicates == 0
    return {
        e.episode_id: (
            e.final_answer,
            e.correct,
            e.termination,
            e.user_messages,
            e.seed,
            [t.text for t in e.turns],
        )
        for e in data.episodes
    }


_OUTCOME_FIELDS = (
    "episodes",
    "scored",
    "questions",
    "correct",
    "accuracy",
    "episode_accuracy",
    "ci",
    "invalid",
    "forced",
    "errors",
    "mean_turns",
)


def _summary(run_dir: Path) -> dict[str, object]:
    """The summary's outcome figures (timings differ between any two runs, by nature)."""
    summary = json.loads((run_dir / "summary.json").read_text())
    groups = {"overall": summary["overall"], **summary["models"], **summary["subjects"]}
    return {name: {k: g[k] for k in _OUTCOME_FIELDS} for name, g in groups.items()}


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "expected_code"), [(signal.SIGKILL, -9), (signal.SIGINT, 130)])
async def test_killed_or_interrupted_run_resumes_to_the_same_result(
    tmp_path: Path, sig: int, expected_code: int
) -> None:
    # Slow enough (~60 episodes x ~1.5 calls x 40 ms / 2 in flight = 2-3 s) that the signal
    # lands mid-run even when a loaded CI machine polls the file late.
    script = ReplyScript(ASSISTANT_REPLY, latency=Latency.ms(40, 2))
    async with LoopbackServer(script) as server:
        base = [
            *CHATSIM,
            "run",
            "--model",
            "vllm:assistant",
            "--base-url",
            server.base_url,
            "--simulator",
            "scripted",
            "--subset",
            "math",
            "--limit",
            "30",
            "--repeats",
            "2",
            "--concurrency",
            "2",
            "--out",
            str(tmp_path),
            "--quiet",
        ]
        stopped = await _start_and_stop([*base, "--run-id", "cut"], tmp_path / "cut", sig, 8)
        assert stopped.returncode == expected_code, stopped.stderr.decode()[-2000:]
        if sig == signal.SIGINT:
            assert b"chatsim run --resume" in stopped.stderr
            assert not read_run(tmp_path / "cut").torn_tail  # a graceful stop tears nothing
        partial = len(read_run(tmp_path / "cut").episodes)
        assert 8 <= partial < 60, f"{partial} episodes recorded before the signal"
        resumed = await anyio.run_process(
            [*CHATSIM, "run", "--resume", str(tmp_path / "cut"), "--quiet"],
            env=cli_env(),
            check=False,
        )
        assert resumed.returncode == 0, resumed.stderr.decode()
        whole = await anyio.run_process([*base, "--run-id", "whole"], env=cli_env(), check=False)
        assert whole.returncode == 0, whole.stderr.decode()
    assert _outcomes(tmp_path / "cut") == _outcomes(tmp_path / "whole")
    assert len(_outcomes(tmp_path / "cut")) == 60
    assert _summary(tmp_path / "cut") == _summary(tmp_path / "whole")


async def test_refused_credentials_stop_the_run_early(tmp_path: Path) -> None:
    async with LoopbackServer(
        ReplyScript(ASSISTANT_REPLY), api_key="sk-the-right-key-000000"
    ) as server:
        result = await anyio.run_process(
            [
                *CHATSIM,
                "run",
                "--model",
                "vllm:assistant",
                "--base-url",
                server.base_url,
                "--simulator",
                "scripted",
                "--subset",
                "chatbench",
                "--limit",
                "200",
                "--concurrency",
                "8",
                "--out",
                str(tmp_path),
                "--run-id",
                "r",
                "--quiet",
            ],
            env=cli_env({"VLLM_API_KEY": "sk-wrong-key-PLANTED-1234567890"}),
            check=False,
        )
        sent = len(server.requests)
    err = result.stderr.decode()
    assert result.returncode == 3, err
    assert "authentication failed" in err and "resume" in err
    assert sent <= 8 * 2  # stopped at once: no hammering with a refused key
    assert read_run(tmp_path / "r").episodes == []  # re-run on resume once the key is fixed
    assert "PLANTED" not in err + result.stdout.decode()


async def test_a_refused_simulator_key_stops_the_run_too(tmp_path: Path) -> None:
    async with (
        LoopbackServer(ReplyScript(ASSISTANT_REPLY)) as target,
        LoopbackServer(ReplyScript("Hi, can you help?"), api_key="sk-simulator-only-0000") as sim,
    ):
        result = await anyio.run_process(
            [
                *CHATSIM,
                "run",
                "--model",
                "vllm:assistant",
                "--base-url",
                target.base_url,
                "--simulator",
                "prompted:vllm:user",
                "--simulator-base-url",
                sim.base_url,
                "--subset",
                "college_math",
                "--limit",
                "20",
                "--concurrency",
                "4",
                "--out",
                str(tmp_path),
                "--run-id",
                "r",
                "--quiet",
            ],
            env=cli_env({"VLLM_API_KEY": "sk-wrong-simulator-key-1111"}),
            check=False,
        )
        sent = len(sim.requests)
    err = result.stderr.decode()
    assert result.returncode == 3, err
    assert "simulator prompted:vllm:user" in err
    assert sent <= 4 * 2
    assert read_run(tmp_path / "r").episodes == []  # nothing recorded: resume re-runs them all
