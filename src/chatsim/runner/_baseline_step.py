"""The AI-alone step of a run: each model answers the same questions without a user."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from chatsim.baseline import (
    BASELINE_FILE,
    BaselineWriter,
    baseline_key,
    read_baseline,
    run_baseline,
)
from chatsim.config import RunConfig
from chatsim.questions import Question
from chatsim.targets import TargetCaller

__all__ = ["run_baseline_step"]


async def run_baseline_step(
    config: RunConfig,
    run_dir: Path,
    questions: Sequence[Question],
    callers: Mapping[str, TargetCaller],
) -> int:
    """Measure the configured baseline modes, skipping answers already recorded (resume).

    Returns how many records were added.
    """
    if not config.baseline:
        return 0
    done = {baseline_key(r) for r in read_baseline(run_dir)}
    with BaselineWriter(run_dir / BASELINE_FILE) as writer:
        added = await run_baseline(
            questions,
            callers,
            config.baseline,
            config.repeats,
            writer,
            temperature=config.target_temperature,
            max_tokens=config.target_max_tokens,
            system_prompt=config.system_prompt,
            done=done,
        )
    return len(added)
