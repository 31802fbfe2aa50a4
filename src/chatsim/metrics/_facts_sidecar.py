"""The facts table kept on disk: a sidecar of ``episodes.jsonl`` (``chatsim.recording``'s
``SidecarSpec``) holding one ``FACTS_SCHEMA`` row per episode.

The run's writer fills it as episodes are recorded; ``chatsim report``, ``compare`` and the
end-of-run summary read it instead of every record (``chatsim.recording.read_sidecar`` with
this spec completes whatever it does not cover from the records, so it is never wrong,
only sometimes slower). Building the
spec loads pyarrow, so it is a function, not a module constant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from chatsim.recording import EpisodeRecord, SidecarSpec

__all__ = ["FACTS_SIDECAR", "facts_sidecar", "stems_lookup"]

FACTS_SIDECAR = "facts"
"""The sidecar's folder under ``RUN_DIR/sidecars/``."""

StemOf = Callable[[EpisodeRecord], "str | None"]


def stems_lookup(stems: Mapping[str, str]) -> StemOf:
    """``stem_of`` from a question id -> stem mapping (a run's own questions)."""
    return lambda record: stems.get(record.question_id)


def facts_sidecar(stem_of: StemOf | None = None) -> SidecarSpec:
    """The facts sidecar; ``stem_of`` gives a record's question text where known (for the
    copied-question figure), else copying is not measured for it."""
    from chatsim.metrics._facts import FACTS_SCHEMA, FACTS_VERSION, episode_facts

    def extract(record: EpisodeRecord) -> dict[str, object]:
        return episode_facts(record, stem_of(record) if stem_of is not None else None)

    return SidecarSpec(FACTS_SIDECAR, FACTS_SCHEMA, FACTS_VERSION, extract)
