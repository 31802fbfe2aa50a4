"""A rich, seeded set of records for checking that the facts path gives the record path's
figures: several models and subjects, repeats, every termination, retries that recover and
that do not (429s with waits, connect timeouts, a 404), streamed and unstreamed replies,
replies without usage, trimmed simulator prompts, resampled empty turns, three study
conditions (answer-first with its initial answers), served and prompted simulators (one
unpriced), question stems, and AI-alone baseline records.

``python tests/metrics/facts_kit.py OUT.json`` writes the summaries and the comparison of
these records as computed by whichever ``chatsim`` is on the path: how the golden file
``data/facts_golden.json`` was made, from the record-walking implementation that preceded
the facts table.
"""

from __future__ import annotations

import json
import random
import sys
from typing import Any

from chatsim.baseline._records import BaselineRecord
from chatsim.metrics import ModelPrice, PriceTable
from chatsim.protocol._types import Role, TerminationReason
from chatsim.recording._records import AttemptRecord, EpisodeRecord, TurnRecord, Usage

MODELS = ("openai:gpt-4o", "vllm:my-llama", "anthropic:claude-sonnet-4-5-20250929")
SUBJECTS = ("college_mathematics", "conceptual_physics", "moral_scenarios")
LETTERS = "ABCD"
WORDS = [
    "what",
    "is",
    "the",
    "value",
    "of",
    "x",
    "when",
    "force",
    "mass",
    "speed",
    "right",
    "wrong",
    "moral",
    "act",
]
TR = TerminationReason


def stems(questions: int = 12) -> dict[str, str]:
    rng = random.Random(7)
    return {f"q{i}": " ".join(rng.choices(WORDS, k=8)) for i in range(questions)}


def _attempts(rng: random.Random, t0: float, failing: bool) -> tuple[list[AttemptRecord], float]:
    """A call's attempts from ``t0``; with ``failing``, every attempt fails (the turn fails)."""
    out, t = [], t0
    for i in range(rng.choice([0, 0, 1, 2])):
        outcome = rng.choice(["rate_limit", "transient", "connect_timeout", "timeout"])
        end = t + rng.uniform(0.01, 0.3)
        wait = rng.choice([None, rng.uniform(0.1, 0.9)])
        out.append(
            AttemptRecord(
                index=i,
                started_at=t,
                ended_at=end,
                outcome=outcome,  # type: ignore[arg-type]
                status_code=429 if outcome == "rate_limit" else None,
                error_class="RateLimited",
                error_message=f"slow down {i}",
                wait_before_next=wait,
            )
        )
        t = end + (wait or 0.0)
    end = t + rng.uniform(0.2, 2.0)
    if failing:
        out.append(
            AttemptRecord(
                index=len(out),
                started_at=t,
                ended_at=end,
                outcome="permanent",
                status_code=404,
                error_class="PermanentError",
                error_message="model not found",
            )
        )
    else:
        sent = t + rng.choice([0.0, 0.003])
        out.append(
            AttemptRecord(
                index=len(out),
                started_at=t,
                sent_at=sent,
                ended_at=end,
                outcome="ok",
                connect_time=rng.choice([None, 0.02]),
            )
        )
    return out, end


def _turns(
    rng: random.Random, gold: str, stem: str, n_user: int, fail_last: bool
) -> list[TurnRecord]:
    turns: list[TurnRecord] = []
    t = 0.0
    for u in range(n_user):
        text = stem if u == 0 and rng.random() < 0.4 else rng.choice(WORDS) + " help?"
        end = t + rng.uniform(0.05, 0.5)
        turns.append(
            TurnRecord(
                index=len(turns),
                role=Role.USER,
                text=text,
                requested_at=t,
                started_at=t,
                ended_at=end,
                context_trimmed=rng.random() < 0.1,
                usage=rng.choice([None, Usage(prompt_tokens=30, completion_tokens=9)]),
                attempts=[] if rng.random() < 0.7 else _attempts(rng, t, False)[0],
            )
        )
        failing = fail_last and u == n_user - 1
        queue = rng.choice([0.0, 0.0, 0.05])
        attempts, end2 = _attempts(rng, end + queue, failing)
        first = None if failing or rng.random() < 0.3 else attempts[-1].started_at + 0.1
        letter = rng.choice([*LETTERS, gold, gold])
        reply = rng.choice([f"The answer is **{letter}**.", "Let me think.", f"Answer: {letter}"])
        usage = (
            None
            if failing or rng.random() < 0.15
            else Usage(prompt_tokens=rng.randint(50, 400), completion_tokens=rng.randint(1, 200))
        )
        turns.append(
            TurnRecord(
                index=len(turns),
                role=Role.ASSISTANT,
                text="" if failing else reply,
                requested_at=end,
                started_at=attempts[-1].started_at,
                first_token_at=first,
                ended_at=end2,
                queue_time=queue,
                max_token_gap=None if first is None else rng.uniform(0, 0.2),
                usage=usage,
                attempts=attempts,
                finish_reason="error" if failing else "stop",
            )
        )
        t = end2
    return turns


def _episode(
    rng: random.Random,
    model: str,
    qid: str,
    subject: str,
    repeat: int,
    stem: str,
    condition: str,
    simulator: str,
) -> EpisodeRecord:
    gold = LETTERS[int(qid[1:]) % 4]
    termination = rng.choice(
        [TR.ANSWERED] * 6
        + [TR.FORCED_ANSWER, TR.INVALID_ANSWER, TR.TARGET_ERROR, TR.SIMULATOR_ERROR, TR.TIMEOUT]
    )
    n_user = rng.randint(1, 4)
    turns = (
        []
        if condition == "user-alone"
        else _turns(rng, gold, stem, n_user, termination is TR.TARGET_ERROR)
    )
    answer = None
    if not termination.is_error and termination is not TR.INVALID_ANSWER:
        answer = rng.choice([gold, gold, *LETTERS])
    initial: dict[str, Any] = {}
    if condition == "answer-first":
        first = rng.choice([gold, *LETTERS, None])
        initial = {
            "initial_answer": first,
            "initial_answer_method": "explicit" if first else "none",
            "initial_correct": first == gold,
        }
    wall = (turns[-1].ended_at if turns else 0.5) + rng.uniform(0, 0.1)
    return EpisodeRecord(
        run_id="rich",
        episode_id=f"{model}|{qid}|{repeat}|{condition}",
        model=model,
        simulator=simulator,
        question_id=qid,
        subject=subject,
        repeat=repeat,
        seed=1000 + repeat,
        gold=gold,
        turns=turns,
        final_answer=answer,
        answer_method="explicit" if answer else "none",
        correct=answer == gold,
        termination=termination,
        user_messages=n_user,
        started_at=0.0,
        ended_at=wall,
        error="the target failed: 404"
        if termination is TR.TARGET_ERROR
        else (None if not termination.is_error else rng.choice([None, "it broke"])),
        condition=condition,
        extra={"empty_user_turns": rng.choice([0, 0, 1])},
        **initial,  # type: ignore[arg-type]
    )


def episodes(seed: int = 3, questions: int = 12, repeats: int = 3) -> list[EpisodeRecord]:
    """The rich record set (about 400 episodes), in a shuffled "finished" order."""
    rng = random.Random(seed)
    text = stems(questions)
    sims = ["prompted:gpt-4o-mini", "served:unpriced-user", "scripted"]
    out = []
    for m, model in enumerate(MODELS):
        for q in range(questions):
            for r in range(repeats):
                for condition in ("direct-to-AI", "answer-first", "user-alone")[
                    : 1 + (q % 3 == 0) + (q % 4 == 0)
                ]:
                    out.append(
                        _episode(
                            rng,
                            model,
                            f"q{q}",
                            SUBJECTS[q % 3],
                            r,
                            text[f"q{q}"],
                            condition,
                            sims[(m + q) % 3 if m else 0],
                        )
                    )
    rng.shuffle(out)
    return out


def baseline(questions: int = 12) -> list[BaselineRecord]:
    rng = random.Random(11)
    out = []
    for model in MODELS[:2]:
        for mode in ("zero_shot", "free_text"):
            for q in range(questions):
                gold = LETTERS[q % 4]
                answer = rng.choice([gold, *LETTERS])
                out.append(
                    BaselineRecord(
                        model=model,
                        question_id=f"q{q}",
                        subject=SUBJECTS[q % 3],
                        mode=mode,
                        repeat=0,  # type: ignore[arg-type]
                        gold=gold,
                        answer=answer,
                        correct=answer == gold,
                        text=answer,
                        requested_at=0,
                        started_at=0,
                        ended_at=1,
                        error="boom" if rng.random() < 0.1 else None,
                    )
                )
    return out


# A fixed table, so that an update of the bundled prices leaves the golden figures alone.
PRICES = PriceTable(
    date="2025-01-01",
    source="test",
    models={
        "gpt-4o": ModelPrice(input=2.5, output=10.0),
        "gpt-4o-mini": ModelPrice(input=0.15, output=0.6, date="2024-12-01"),
        "claude-sonnet-4-5": ModelPrice(input=3.0, output=15.0),
    },
)


def results(summarize: Any, compare: Any) -> dict[str, Any]:
    """The figures the golden file holds, from ``summarize`` and ``compare`` callables."""
    eps = episodes()
    half = [ep for ep in eps if ep.model != MODELS[2]]
    other = [
        ep.model_copy(update={"model": "served:other", "seed": ep.seed + (ep.repeat == 2)})
        for ep in eps[::-1]
        if ep.model == MODELS[0] and ep.question_id != "q5"
    ]
    runs: dict[str, Any] = {
        "default": summarize(
            eps, stems=stems(), baseline=baseline(), models=[*MODELS, "none"], prices=PRICES
        ),
        "se_errors": summarize(
            eps, interval="se", errors_as_incorrect=True, resamples=300, prices=PRICES
        ),
        "failing": summarize(half, max_error_share=0.05, resamples=200, seed=5, prices=PRICES),
        "compare": compare([half, other], resamples=300, allow_different="all"),
        "compare_errors": compare([eps], errors_as_incorrect=True, resamples=200),
    }
    return {k: v.model_dump(mode="json") for k, v in runs.items()}


if __name__ == "__main__":
    from chatsim.metrics import compare, summarize

    with open(sys.argv[1], "w", encoding="utf-8") as fh:
        json.dump(results(summarize, compare), fh, sort_keys=True, separators=(",", ":"))
