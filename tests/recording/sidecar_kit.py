"""A small sidecar spec, and what it must read, for the sidecar tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
from scan_kit import make_record

from chatsim.recording import (
    EPISODES_FILE,
    EpisodeRecord,
    EpisodeWriter,
    SidecarSpec,
    read_run,
    sidecar_dir,
)

SCHEMA = pa.schema(
    [
        ("episode_id", pa.string()),
        ("seed", pa.int64()),
        ("termination", pa.string()),
        ("correct", pa.bool_()),
        ("turn_ends", pa.list_(pa.float64())),
    ]
)


def extract(record: EpisodeRecord) -> dict[str, Any]:
    return {
        "episode_id": record.episode_id,
        "seed": record.seed,
        "termination": record.termination.value,
        "correct": record.correct,
        "turn_ends": [t.ended_at for t in record.turns],
    }


def spec(part_rows: int = 3, version: int = 1, **kw: Any) -> SidecarSpec:
    return SidecarSpec("facts", kw.pop("schema", SCHEMA), version, kw.pop("extract", extract),
                       part_rows=part_rows)  # fmt: skip


def expected(run_dir: Path) -> list[dict[str, Any]]:
    """What the sidecar must hold: the extractor over read_run's episodes."""
    return [extract(r) for r in read_run(run_dir).episodes]


def records(n: int, first: int = 0) -> list[EpisodeRecord]:
    return [make_record(i) for i in range(first, first + n)]


def append(run_dir: Path, recs: list[EpisodeRecord], *specs: SidecarSpec) -> None:
    with EpisodeWriter(run_dir / EPISODES_FILE, sidecars=specs) as writer:
        for record in recs:
            writer.append(record)


def parts(run_dir: Path, name: str = "facts") -> list[str]:
    folder = sidecar_dir(run_dir, spec()) if name == "facts" else run_dir / "sidecars" / name
    return sorted(p.name for p in folder.glob("part-*.arrow")) if folder.is_dir() else []
