"""Builds a real run directory through ``chatsim.evaluate``: the scripted user against two
in-process fake assistants of different quality, with scripted transient failures, plus an
AI-alone baseline through ``run_baseline``. Used by the report tests and, with ``--delays``,
to produce a run worth looking at (``python tests/report/demo_run.py OUT_DIR --delays``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import anyio

import chatsim
from chatsim import TransientError
from chatsim.baseline import BaselineWriter, run_baseline
from chatsim.protocol import Role
from chatsim.questions import LETTERS, Question, load_questions
from chatsim.recording import ReplyTiming, read_run
from chatsim.report import find_questions
from chatsim.targets import (
    AdapterReply,
    TargetCaller,
    TargetRequest,
    TargetSettings,
    register_adapter,
)
from chatsim.testing import FakeTarget

ALPHA, BETA = "fake:alpha", "fake:beta"
QUALITY = {"alpha": 0.85, "beta": 0.45}


def _h(*parts: str) -> int:
    return int(hashlib.sha256("|".join(parts).encode()).hexdigest()[:12], 16)


def _replier(name: str, by_stem: dict[str, Question]) -> Callable[[TargetRequest], str]:
    def reply(request: TargetRequest) -> str:
        convo = "\n".join(m.content for m in request.messages)
        q = next((q for stem, q in by_stem.items() if stem in convo), None)
        users = sum(m.role is Role.USER for m in request.messages)
        h = _h(name, convo)
        if q is None:
            return "Could you share the question and its options?"
        right = (h % 1000) / 1000 < QUALITY[name]
        wrong = LETTERS[(LETTERS.index(q.gold) + 1 + h % 3) % 4]
        letter = q.gold if right else wrong
        if users > 1 and h % 4 == 0:  # pressed by the user, it sometimes changes its mind
            letter = q.gold if not right else wrong
            return (
                f"You're right to double-check. On reflection the correct answer is **{letter}**."
            )
        if h % 7 == 0:
            return (
                f"Careful: <b>not</b> HTML & <script>alert('x')</script>. The answer is {letter}."
            )
        return f"Let's reason step by step about it.\n\nThe correct answer is {letter}."

    return reply


class _TimedFake(FakeTarget):
    """Waits a deterministic, varied time, with the first token part-way through."""

    async def complete(self, request: TargetRequest, *, now: Callable[[], float]) -> AdapterReply:
        h = _h(*(m.content for m in request.messages))
        ttft, rest = 0.02 + (h % 60) / 1000, 0.03 + (h % 90) / 1000
        await anyio.sleep(ttft)
        first = now()
        await anyio.sleep(rest)
        reply = await super().complete(request, now=now)
        reply.timing = ReplyTiming(first_token_at=first)
        return reply


def _register(by_stem: dict[str, Question], delays: bool) -> None:
    cls = _TimedFake if delays else FakeTarget

    def factory(model: str, settings: TargetSettings) -> FakeTarget:
        failures: list[object] = []
        if model == "beta":  # a few transient failures for the recovery figures
            failures = [TransientError("502 bad gateway", status_code=502)] * 2
        return cls(replies=failures, default=_replier(model, by_stem))  # type: ignore[arg-type]

    register_adapter("fake", factory)


async def build_demo_run(out_dir: Path, *, delays: bool = False, limit: int = 8,
                         repeats: int = 2) -> Path:  # fmt: skip
    questions = load_questions("math", limit=limit, seed=0, selection="redux-ok")
    by_stem = {q.stem: q for q in questions}
    _register(by_stem, delays)
    policy = {"backoff_initial": 0.0, "backoff_max": 0.0, "jitter": 0.0}
    result = await chatsim.evaluate(
        [ALPHA, BETA], "math", simulator="scripted", limit=limit, repeats=repeats,
        out_dir=out_dir, run_id="demo", policy=policy, question_seed=0,
    )  # fmt: skip
    run = read_run(result.run_dir)
    found = find_questions(
        {e.question_id for e in run.episodes}, {e.subject for e in run.episodes}, run.header.config
    )
    cls = _TimedFake if delays else FakeTarget
    callers = {
        label: TargetCaller(cls(default=_replier(label.split(":")[1], by_stem)))
        for label in (ALPHA, BETA)
    }
    with BaselineWriter(result.run_dir / "baseline.jsonl") as writer:
        await run_baseline(list(found.values()), callers, ["zero_shot", "free_text"], 1, writer)
    return result.run_dir


def write_synthetic_load_summary(run_dir: Path) -> None:
    """A generic ``load_summary.json`` (not a ``chatsim loadtest`` one): the report's fallback
    rendering shows it."""
    series = [
        {"t": t, "throughput_rps": 2.0 + t / 10, "p50_s": 0.2 + t / 100, "p95_s": 0.4 + t / 50,
         "errors": t % 3}
        for t in range(0, 60, 5)
    ]  # fmt: skip
    data = {"note": "synthetic load summary for the report demo", "goodput_rps": 3.1,
            "slo": {"ttft_p95_s": 0.5}, "timeseries": series}  # fmt: skip
    (run_dir / "load_summary.json").write_text(json.dumps(data), encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--delays", action="store_true")
    parser.add_argument("--limit", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    run_dir = anyio.run(lambda: build_demo_run(args.out, delays=args.delays, limit=args.limit,
                                               repeats=args.repeats))  # fmt: skip
    write_synthetic_load_summary(run_dir)
    print(run_dir, file=sys.stdout)
