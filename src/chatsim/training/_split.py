"""A seeded split of questions into training and held-out sets, saved as JSON.

The file is ``{"train": [question ids], "heldout": [question ids], "seed": N}``; calibration
(``chatsim calibrate --split FILE``) reads the same shape, so it scores held-out questions only.
Splitting by question (not by conversation) keeps every conversation about a held-out question
out of training.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatsim._exceptions import DataError

__all__ = ["QuestionSplit", "read_split", "split_questions", "write_split"]


@dataclass(frozen=True, slots=True)
class QuestionSplit:
    """Question ids for training and for held-out evaluation (disjoint, sorted)."""

    train: tuple[str, ...]
    heldout: tuple[str, ...]
    seed: int

    def to_json(self) -> dict[str, Any]:
        return {"train": list(self.train), "heldout": list(self.heldout), "seed": self.seed}

    def side(self, question_id: str) -> str | None:
        """``"train"``, ``"heldout"`` or None when the question is in neither."""
        if question_id in self.train:
            return "train"
        return "heldout" if question_id in self.heldout else None


def split_questions(ids: Iterable[str], *, heldout: float = 0.2, seed: int = 0) -> QuestionSplit:
    """Shuffle the distinct ids with ``seed`` and hold out ``heldout`` of them.

    At least one question is held out and one kept for training when there are two or more.
    The result depends only on the set of ids and the seed, not on their order.
    """
    if not 0.0 <= heldout < 1.0:
        raise DataError(f"the held-out fraction must be in [0, 1), got {heldout}")
    distinct = sorted(set(ids))
    random.Random(seed).shuffle(distinct)
    count = round(len(distinct) * heldout)
    if heldout > 0 and len(distinct) >= 2:
        count = min(max(count, 1), len(distinct) - 1)
    return QuestionSplit(tuple(sorted(distinct[count:])), tuple(sorted(distinct[:count])), seed)


def write_split(split: QuestionSplit, path: str | Path) -> None:
    Path(path).write_text(json.dumps(split.to_json(), indent=2) + "\n", encoding="utf-8")


def read_split(path: str | Path) -> QuestionSplit:
    """A split file; ``DataError`` naming the file when it is not in the expected shape."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read the split file {path}: {exc}") from exc
    ok = isinstance(data, dict) and all(
        isinstance(data.get(k), list) and all(isinstance(i, str) for i in data[k])
        for k in ("train", "heldout")
    )
    if not ok:
        raise DataError(f"{path} must hold {{'train': [ids], 'heldout': [ids], 'seed': N}}")
    both = set(data["train"]) & set(data["heldout"])
    if both:
        raise DataError(f"{path}: questions in both train and heldout: {sorted(both)[:5]}")
    seed = data.get("seed", 0)
    return QuestionSplit(tuple(data["train"]), tuple(data["heldout"]), int(seed))
