"""ChatBench's study conditions end to end: a prompted simulated user and an assistant on
the loopback server, through ``evaluate()`` and through the ``chatsim run`` CLI.

The planted user answers ``A`` whenever it is asked to answer alone, and after one
exchange settles on the assistant's ``B``. So in ``answer-first`` every episode whose gold is
A goes right→wrong, every one whose gold is B goes wrong→right, and C/D stay wrong: the
switch counts follow from the questions' gold letters alone.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import anyio
import pytest
from e2e_kit import ASSISTANT_REPLY, CHATSIM, cli_env

import chatsim
from chatsim import RunDirectoryError
from chatsim.protocol import Role, TerminationReason
from chatsim.recording import read_run
from chatsim.testing import LoopbackServer, ReplyContext, ReplyScript

pytestmark = pytest.mark.anyio

LIMIT = 8


def planted_user(context: ReplyContext) -> str:
    system = str(context.messages[0].get("content", "")) if context.messages else ""
    if "without any AI assistant" in system:  # the alone instruction
        return "Answer: A"
    if not any(m.get("role") == "assistant" for m in context.messages):
        return "Can you help me with this one?"
    return "Answer: B"


def _script() -> ReplyScript:
    return ReplyScript(
        ASSISTANT_REPLY,
        models={"user": ReplyScript(planted_user), "assistant": ReplyScript(ASSISTANT_REPLY)},
    )


def _models_called(server: LoopbackServer) -> Counter[str]:
    return Counter(str(r.body["model"]) for r in server.requests)


async def _evaluate(server: LoopbackServer, out: Path, condition: str, **kw: object):  # type: ignore[no-untyped-def]
    return await chatsim.evaluate(
        model="vllm:assistant", subset="college_math", limit=LIMIT,
        simulator="prompted:vllm:user", base_url=server.base_url, out_dir=out,
        run_id=condition, condition=condition, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


async def test_user_alone_sends_nothing_to_the_target(tmp_path: Path) -> None:
    async with LoopbackServer(_script()) as server:
        result = await _evaluate(server, tmp_path, "user-alone")
        assert _models_called(server) == {"user": LIMIT}  # one simulator call each, no target
    header = json.loads((result.run_dir / "header.json").read_text())
    assert header["config"]["condition"] == "user-alone"
    for ep in result.episodes:
        assert ep.condition == "user-alone"
        assert [t.role for t in ep.turns] == [Role.USER] and ep.user_messages == 0
        assert ep.final_answer == "A" and ep.correct == (ep.gold == "A")
        assert ep.termination is TerminationReason.ANSWERED and ep.initial_answer is None
    gold_a = sum(ep.gold == "A" for ep in result.episodes)
    block = result.summary.conditions["user-alone"]
    assert block.episodes == LIMIT and block.episode_accuracy == pytest.approx(gold_a / LIMIT)
    assert block.answer_first is None


async def test_answer_first_records_both_answers_and_counts_the_switches(tmp_path: Path) -> None:
    async with LoopbackServer(_script()) as server:
        result = await _evaluate(server, tmp_path, "answer-first")
        # Per episode: the answer alone, the first message, the answer after; one reply.
        assert _models_called(server) == {"user": 3 * LIMIT, "assistant": LIMIT}
    episodes = result.episodes
    for ep in episodes:
        assert ep.condition == "answer-first"
        assert ep.initial_turn is not None and ep.initial_turn.text == "Answer: A"
        assert (ep.initial_answer, ep.initial_answer_method) == ("A", "explicit")
        assert ep.initial_correct == (ep.gold == "A")
        assert ep.final_answer == "B" and ep.correct == (ep.gold == "B")
        # The conversation is the one the assistant saw: the answer alone is not in it.
        assert [t.role for t in ep.turns] == [Role.USER, Role.ASSISTANT, Role.USER]
        assert ep.turns[0].text == "Can you help me with this one?"
    golds = Counter(ep.gold for ep in episodes)
    af = result.summary.conditions["answer-first"].answer_first
    assert af is not None and af.paired == LIMIT
    assert af.right_to_wrong == golds["A"] and af.wrong_to_right == golds["B"]
    assert af.stayed_right == 0 and af.stayed_wrong == golds["C"] + golds["D"]
    assert af.right_to_wrong_rate == (1.0 if golds["A"] else None)
    wrong_alone = LIMIT - golds["A"]
    assert af.wrong_to_right_rate == pytest.approx(golds["B"] / wrong_alone)
    assert af.initial_accuracy == pytest.approx(golds["A"] / LIMIT)  # one episode a question
    assert af.final_accuracy == pytest.approx(golds["B"] / LIMIT)
    stored = json.loads((result.run_dir / "summary.json").read_text())
    assert stored["conditions"]["answer-first"]["answer_first"]["wrong_to_right"] == golds["B"]
    # The HTML report gives the condition its own section, with the same table.
    from chatsim.report import write_html_report

    page = write_html_report(result.run_dir, tmp_path / "report.html").read_text()
    section = page.split('id="conditions"', 1)[1].split("</section>", 1)[0]
    assert "answer-first" in section and "right→wrong" in section


async def test_direct_to_ai_keeps_todays_protocol_and_summary(tmp_path: Path) -> None:
    async with LoopbackServer(_script()) as server:
        result = await _evaluate(server, tmp_path, "direct-to-AI")
        assert _models_called(server) == {"user": 2 * LIMIT, "assistant": LIMIT}
    assert {ep.condition for ep in result.episodes} == {"direct-to-AI"}
    assert all(ep.initial_turn is None and ep.initial_correct is None for ep in result.episodes)
    assert result.summary.conditions == {}  # one condition, today's: nothing more to show


async def test_a_resume_with_another_condition_is_refused_naming_it(tmp_path: Path) -> None:
    async with LoopbackServer(_script()) as server:
        first = await _evaluate(server, tmp_path, "user-alone")
        with pytest.raises(RunDirectoryError, match="condition: run has 'user-alone'"):
            await _evaluate(server, tmp_path, "answer-first", resume=first.run_dir)


async def test_the_ai_alone_baseline_runs_with_user_alone(tmp_path: Path) -> None:
    async with LoopbackServer(_script()) as server:
        result = await _evaluate(server, tmp_path, "user-alone", baseline=["free_text"])
        assert _models_called(server)["assistant"] == LIMIT  # the baseline's calls only
    assert result.summary.baseline and result.summary.conditions["user-alone"].episodes == LIMIT


async def test_the_cli_runs_answer_first_and_reports_it_apart(tmp_path: Path) -> None:
    async with LoopbackServer(_script()) as server:
        args = [*CHATSIM, "run", "--model", "vllm:assistant", "--base-url", server.base_url,
                "--simulator", "prompted:vllm:user", "--subset", "college_math", "--limit",
                str(LIMIT), "--out", str(tmp_path), "--run-id", "af", "--quiet"]  # fmt: skip
        result = await anyio.run_process(
            [*args, "--condition", "answer-first"], env=cli_env(), check=False
        )
        out, err = result.stdout.decode(), result.stderr.decode()
        assert result.returncode == 0, err
        assert "By study condition" in out and "answer-first" in out
        data = read_run(tmp_path / "af")
        assert data.header.config.condition == "answer-first"  # type: ignore[union-attr]
        assert all(ep.initial_answer == "A" for ep in data.episodes)
        # A resume with another condition: refused before anything is sent, naming it.
        sent = len(server.requests)
        again = await anyio.run_process(
            [*CHATSIM, "run", "--resume", str(tmp_path / "af"), "--condition", "user-alone"],
            env=cli_env(), check=False,
        )  # fmt: skip
        assert again.returncode == 2
        assert "condition: run has 'answer-first', given 'user-alone'" in again.stderr.decode()
        assert len(server.requests) == sent
        bad = await anyio.run_process(
            [*args, "--run-id", "bad", "--condition", "alone"], env=cli_env(), check=False
        )
        assert bad.returncode == 2 and "--condition" in bad.stderr.decode()
