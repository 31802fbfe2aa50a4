"""The issue's "done" scenario: a real CLI process and the real openai SDK against a real
OpenAI-compatible HTTP server (the loopback server), with a prompted simulated user."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from e2e_kit import ASSISTANT_REPLY, CHATSIM, cli_env

import chatsim
from chatsim.protocol import Role, TerminationReason
from chatsim.recording import read_run
from chatsim.testing import Latency, LoopbackServer, ReplyScript

pytestmark = pytest.mark.anyio


async def test_cli_run_against_an_openai_compatible_server(
    server: LoopbackServer, tmp_path: Path
) -> None:
    result = await anyio.run_process(
        [
            *CHATSIM,
            "run",
            "--model",
            "vllm:assistant",
            "--base-url",
            server.base_url,
            "--simulator",
            "prompted:vllm:user",
            "--subset",
            "college_math",
            "--limit",
            "5",
            "--out",
            str(tmp_path),
            "--run-id",
            "e2e",
        ],
        env=cli_env(),
        check=False,
    )
    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 0, err
    assert "vllm:assistant" in out and "run directory" in out
    run_dir = tmp_path / "e2e"
    assert {p.name for p in run_dir.iterdir()} >= {"header.json", "episodes.jsonl", "summary.json"}
    data = read_run(run_dir)
    assert len(data.episodes) == 5
    for episode in data.episodes:
        assert episode.termination is TerminationReason.ANSWERED
        assert episode.final_answer == "B" and episode.correct == (episode.gold == "B")
        assert [t.role for t in episode.turns] == [Role.USER, Role.ASSISTANT, Role.USER]
        assistant = episode.turns[1]
        assert assistant.text == ASSISTANT_REPLY
        assert assistant.first_token_at is not None and assistant.usage is not None
        (attempt,) = assistant.attempts
        assert attempt.request_id
        # Timed from the wire: sent after the attempt began, and the reply counts from then.
        assert attempt.sent_at is not None and attempt.started_at <= attempt.sent_at
        assert assistant.started_at == attempt.sent_at < assistant.first_token_at
    header = json.loads((run_dir / "header.json").read_text())
    assert header["config"]["simulator"] == "prompted:vllm:user"
    # Both sides went over HTTP: 5 simulator calls to open, 5 assistant calls, 5 to answer.
    models = [r.body["model"] for r in server.requests]
    assert models.count("assistant") == 5 and models.count("user") == 10


async def test_evaluate_against_an_openai_compatible_server(
    server: LoopbackServer, tmp_path: Path
) -> None:
    result = await chatsim.evaluate(
        model=["vllm:assistant", "vllm:assistant-2"],
        subset="college_math",
        limit=5,
        simulator="prompted:vllm:user",
        base_url=server.base_url,
        out_dir=tmp_path,
    )
    assert result.models == ["vllm:assistant", "vllm:assistant-2"]
    group = result.accuracy("vllm:assistant")
    assert group.episodes == 5 and group.questions == 5
    gold_b = sum(e.gold == "B" for e in result.episodes if e.model == "vllm:assistant")
    assert group.accuracy == pytest.approx(gold_b / 5)
    assert result.accuracy("vllm:assistant", "college_mathematics").episodes == 5
    assert len(result.episodes) == 10
    assert (result.run_dir / "summary.json").is_file()


async def test_streamed_replies_are_timed_from_the_wire_with_their_longest_pause(
    tmp_path: Path,
) -> None:
    # Replies stream 4 chunks 20 ms apart after 30 ms: every record carries the send time,
    # the first token and the longest pause, and the summary reports them.
    script = ReplyScript("I think it is B.", latency=Latency.ms(30, 20, chunks=4))
    async with LoopbackServer(script) as server:
        result = await chatsim.evaluate(
            model="vllm:assistant", subset="college_math", limit=3, simulator="scripted",
            base_url=server.base_url, out_dir=tmp_path,
        )  # fmt: skip
    replies = [t for e in result.episodes for t in e.turns if t.role is Role.ASSISTANT]
    assert replies
    for turn in replies:
        (attempt,) = turn.attempts
        assert attempt.sent_at is not None and turn.started_at == attempt.sent_at
        assert turn.first_token_at is not None and turn.first_token_at - turn.started_at >= 0.03
        assert turn.max_token_gap is not None and 0.015 <= turn.max_token_gap < 0.5
    opened = [t.attempts[0].connect_time for t in replies if t.attempts[0].connect_time]
    assert 1 <= len(opened) < len(replies)  # connections are opened, then kept alive
    summary = json.loads((result.run_dir / "summary.json").read_text())
    latency = summary["models"]["vllm:assistant"]["latency"]
    assert latency["max_token_gap"]["n"] == len(replies)
    assert latency["connect"]["n"] == len(opened)
