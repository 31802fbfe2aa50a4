"""``chatsim sim data``: conversations → a training-data directory.

::

    OUT/
    ├── train.jsonl     examples of the training questions (one JSON object a line)
    ├── heldout.jsonl   examples of the held-out questions
    ├── split.json      {"train": [question ids], "heldout": [question ids], "seed": N}
    └── data.json       the manifest: format (name, version, kind), counts, where it came from

Text formats write ``{"prompt", "completion", "question_id", "step"}`` lines (``chatsim sim
train`` reads them); chat formats write ``{"messages": [...]}`` lines only, as hosted
fine-tuning APIs want them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from chatsim._exceptions import DataError
from chatsim.protocol import DEFAULT_MAX_TURNS, PromptFormat
from chatsim.training._conversations import UserConversation
from chatsim.training._examples import examples_of, render_example
from chatsim.training._split import QuestionSplit, split_questions, write_split

__all__ = ["DATA_FILE", "HELDOUT_FILE", "SPLIT_FILE", "TRAIN_FILE", "DataSummary", "write_data"]

TRAIN_FILE = "train.jsonl"
HELDOUT_FILE = "heldout.jsonl"
SPLIT_FILE = "split.json"
DATA_FILE = "data.json"


@dataclass(frozen=True, slots=True)
class DataSummary:
    """What ``write_data`` wrote."""

    out: str
    format: str
    format_version: int
    kind: str
    conversations: int
    """Conversations that gave examples."""
    skipped_conversations: int
    """Left out: no known chosen letter, or no user message."""
    questions: int
    train_questions: int
    heldout_questions: int
    train_examples: int
    heldout_examples: int

    @property
    def examples(self) -> int:
        return self.train_examples + self.heldout_examples

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "examples": self.examples}

    def line(self) -> str:
        return (
            f"{self.examples} examples ({self.train_examples} train, {self.heldout_examples} "
            f"held out) from {self.conversations} conversations about {self.questions} questions "
            f"({self.train_questions} train, {self.heldout_questions} held out; "
            f"{self.skipped_conversations} conversations skipped) in {self.format} -> {self.out}"
        )


def _check_split(split: QuestionSplit, ids: set[str]) -> None:
    missing = sorted(i for i in ids if split.side(i) is None)
    if missing:
        raise DataError(
            f"{len(missing)} questions are in neither side of the given split, e.g. "
            f"{missing[:3]}; make a new split (omit --split) or add them to the file"
        )


def write_data(
    conversations: Sequence[UserConversation],
    out: str | Path,
    fmt: PromptFormat,
    *,
    heldout: float = 0.2,
    seed: int = 0,
    split: QuestionSplit | None = None,
    max_turns: int = DEFAULT_MAX_TURNS,
    source: str = "",
) -> DataSummary:
    """Render the conversations' examples in ``fmt`` and write the data directory ``out``."""
    usable = [(c, examples_of(c, max_turns)) for c in conversations]
    usable = [(c, ex) for c, ex in usable if ex]
    if not usable:
        raise DataError("no conversation has both a user message and a known chosen answer")
    ids = {c.question.id for c, _ in usable}
    if split is None:
        split = split_questions(ids, heldout=heldout, seed=seed)
    _check_split(split, ids)
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    counts = {"train": 0, "heldout": 0}
    with (
        (root / TRAIN_FILE).open("w", encoding="utf-8") as train,
        (root / HELDOUT_FILE).open("w", encoding="utf-8") as held,
    ):
        for conversation, examples in usable:
            side = split.side(conversation.question.id) or "train"
            sink = train if side == "train" else held
            for example in examples:
                sink.write(json.dumps(render_example(fmt, example), ensure_ascii=False) + "\n")
            counts[side] += len(examples)
    write_split(split, root / SPLIT_FILE)
    summary = DataSummary(
        out=str(root),
        format=fmt.name,
        format_version=fmt.version,
        kind=fmt.kind,
        conversations=len(usable),
        skipped_conversations=len(conversations) - len(usable),
        questions=len(ids),
        train_questions=len(ids & set(split.train)),
        heldout_questions=len(ids & set(split.heldout)),
        train_examples=counts["train"],
        heldout_examples=counts["heldout"],
    )
    manifest = {**summary.to_json(), "source": source, "max_turns": max_turns}
    manifest["prompt_format"] = fmt.model_dump(mode="json")
    (root / DATA_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return summary
