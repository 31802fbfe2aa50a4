"""run_baseline against in-process targets: prompts, extraction, errors, writer, resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatsim import AuthenticationError, ConfigError, PermanentError
from chatsim.baseline import (
    BaselineWriter,
    baseline_key,
    baseline_messages,
    extract_answer,
    read_baseline,
    run_baseline,
)
from chatsim.questions import Question
from chatsim.targets import CallPolicy, TargetCaller, TargetRequest
from chatsim.testing import FakeTarget

pytestmark = pytest.mark.anyio


def _q(i: int, gold: str = "A", subject: str = "college_mathematics") -> Question:
    return Question(id=f"q{i}", subject=subject, stem=f"What is {i} + {i}?",
                    options=(str(2 * i), "1", "2", "3"), gold=gold)  # fmt: skip


DEV = [_q(100 + i, "B") for i in range(5)]


def _reply(request: TargetRequest) -> str:
    text = request.messages[-1].content
    if "Reply with only the letter" in text:
        return "A" if "five" not in text and text.count("Answer:") > 1 else "(B)"
    return "Let me work it out.\n\nThe correct answer is **A**."


def test_prompts() -> None:
    zero = baseline_messages(_q(1), "zero_shot", system_prompt=None)
    assert len(zero) == 1
    assert zero[0].content == (
        "The following are multiple choice questions (with answers) about college mathematics. "
        "Reply with only the letter (A, B, C or D) of the correct answer.\n\n"
        "What is 1 + 1?\nA. 2\nB. 1\nC. 2\nD. 3\nAnswer:"
    )
    five = baseline_messages(_q(1), "five_shot", dev_examples=DEV, system_prompt="sys")
    assert five[0].content == "sys"
    assert five[1].content.count("Answer: B") == 5
    assert five[1].content.endswith("What is 1 + 1?\nA. 2\nB. 1\nC. 2\nD. 3\nAnswer:")
    free = baseline_messages(_q(1), "free_text")
    assert free[-1].content == _q(1).render()


@pytest.mark.parametrize(
    ("text", "mode", "letter"),
    [("B", "zero_shot", "B"), ("(c).", "five_shot", "C"), ("Answer: D", "zero_shot", "D"),
     ("It is 4, so the answer is C.", "free_text", "C"), ("no idea", "free_text", None)],
)  # fmt: skip
def test_extract_answer(text: str, mode: str, letter: str | None) -> None:
    assert extract_answer(text, mode) == letter  # type: ignore[arg-type]


async def test_run_baseline_records_every_answer(tmp_path: Path) -> None:
    callers = {"m": TargetCaller(FakeTarget(default=_reply))}
    questions = [_q(1), _q(2, gold="B")]
    with BaselineWriter(tmp_path / "baseline.jsonl") as writer:
        records = await run_baseline(
            questions, callers, repeats=2, writer=writer, dev_examples=lambda s: DEV
        )
    assert len(records) == 2 * 3 * 2
    on_disk = read_baseline(tmp_path)
    assert sorted(map(baseline_key, on_disk)) == sorted(map(baseline_key, records))
    by = {(r.question_id, r.mode): r for r in records if r.repeat == 0}
    assert by["q1", "free_text"].answer == "A"
    assert by["q1", "free_text"].correct is True
    assert by["q2", "free_text"].correct is False
    assert by["q1", "zero_shot"].answer in ("A", "B")
    assert all(r.usage is not None and r.error is None for r in records)
    assert all(r.ended_at >= r.started_at >= r.requested_at for r in records)


async def test_failed_calls_are_recorded_and_resume_skips_done() -> None:
    bad = FakeTarget(replies=[PermanentError("context length exceeded", status_code=400)])
    callers = {"m": TargetCaller(bad, CallPolicy(max_attempts=1))}
    records = await run_baseline([_q(1)], callers, modes=["free_text"])
    assert len(records) == 1
    assert records[0].error is not None
    assert "context length" in records[0].error
    assert (records[0].answer, records[0].correct) == (None, False)
    again = await run_baseline(
        [_q(1)], callers, modes=["free_text"], done={("m", "q1", "free_text", 0)}
    )
    assert again == []


async def test_auth_error_stops_the_baseline() -> None:
    callers = {
        "m": TargetCaller(FakeTarget(default=AuthenticationError("bad key", status_code=401)))
    }
    with pytest.raises(AuthenticationError):
        await run_baseline([_q(1), _q(2)], callers, modes=["zero_shot"])


async def test_bad_modes_and_missing_dev_examples_fail_early() -> None:
    target = FakeTarget()
    callers = {"m": TargetCaller(target)}
    with pytest.raises(ConfigError, match="unknown baseline mode 'ten_shot'"):
        await run_baseline([_q(1)], callers, modes=["ten_shot"])  # type: ignore[list-item]

    def no_dev(subject: str) -> list[Question]:
        raise ConfigError("no dev split")

    with pytest.raises(ConfigError, match="five_shot"):
        await run_baseline([_q(1)], callers, modes=["five_shot"], dev_examples=no_dev)
    assert target.requests == []


async def test_bundled_dev_examples_are_used() -> None:
    target = FakeTarget(default="A")
    await run_baseline([_q(1)], {"m": TargetCaller(target)}, modes=["five_shot"])
    prompt = target.requests[0].messages[-1].content
    assert prompt.count("\nAnswer: ") == 5
