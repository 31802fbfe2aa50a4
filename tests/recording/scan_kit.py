"""Episode records and run directories for the scan and columnar-path tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chatsim.protocol import Role, TerminationReason
from chatsim.recording import (
    EPISODES_FILE,
    EpisodeRecord,
    EpisodeWriter,
    RunHeader,
    TurnRecord,
    create_run_dir,
)


def make_record(
    i: int, termination: TerminationReason = TerminationReason.ANSWERED, **kw: Any
) -> EpisodeRecord:
    turn = TurnRecord(
        index=0, role=Role.USER, text="Answer: A", requested_at=1, started_at=1, ended_at=2
    )
    fields: dict[str, Any] = {
        "run_id": "r1",
        "episode_id": f"m|q{i}|0",
        "model": "m",
        "simulator": "scripted",
        "question_id": f"q{i}",
        "subject": "s",
        "repeat": 0,
        "seed": i,
        "gold": "A",
        "turns": [turn],
        "final_answer": None if termination.is_error else "A",
        "answer_method": "none" if termination.is_error else "explicit",
        "correct": not termination.is_error,
        "termination": termination,
        "user_messages": 0,
        "started_at": 1,
        "ended_at": 2,
        "error": "boom" if termination.is_error else None,
    }
    return EpisodeRecord.model_validate({**fields, **kw})


def make_run(run_dir: Path, records: list[EpisodeRecord]) -> Path:
    header = RunHeader(
        run_id="r1",
        created_at=1.0,
        config={"models": ["m"]},
        versions={},
        seed=0,
        planned_episodes=len(records),
    )
    create_run_dir(run_dir, header)
    with EpisodeWriter(run_dir / EPISODES_FILE) as writer:
        for record in records:
            writer.append(record)
    return run_dir / EPISODES_FILE
