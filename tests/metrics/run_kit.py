"""Run directories written straight from records: a header of any set-up, and episodes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chatsim.config import RunConfig
from chatsim.recording import EpisodeRecord, JsonlWriter, RunHeader, create_run_dir


def write_run(
    path: Path,
    episodes: Sequence[EpisodeRecord],
    *,
    seed: int = 0,
    schema_version: int | None = None,
    digest: str | None = "d" * 32,
    **config: Any,
) -> Path:
    """A run directory at ``path`` whose header holds ``RunConfig(**config)`` (models default
    to those of the episodes)."""
    models = tuple(dict.fromkeys(ep.model for ep in episodes)) or ("m",)
    cfg = RunConfig(**{"models": models, "simulator": "scripted", "seed": seed, **config})
    header = RunHeader(
        run_id=path.name, created_at=0.0, config=cfg, versions={"chatsim": "0"}, seed=seed,
        planned_episodes=len(episodes), questions_digest=digest,
    )  # fmt: skip
    if schema_version is not None:
        header = header.model_copy(update={"schema_version": schema_version})
    create_run_dir(path, header)
    with JsonlWriter(path / "episodes.jsonl") as writer:
        for ep in episodes:
            writer.append(ep)
    return path
