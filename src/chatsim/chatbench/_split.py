"""Training splits: ``{"train": [...], "heldout": [...]}`` as ``chatsim sim data`` writes them.

Ids may be release ids (``<subject>-redux-<i>``) or chatsim ids (``<subject>-test-<i>``);
calibration counts only the held-out questions. A bare JSON list is read as the held-out ids.
"""

from __future__ import annotations

import json
from pathlib import Path

from chatsim._exceptions import DataError
from chatsim.chatbench._ids import IdMapping

__all__ = ["read_heldout"]


def _ids(path: Path, value: object, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"split file {path}: {key!r} must be a list of question ids")
    return list(value)


def read_heldout(path: Path | str, mapping: IdMapping) -> frozenset[str]:
    """The chatsim ids of the held-out questions of a split file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"split file {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"split file {path} is not readable JSON ({exc})") from exc
    if isinstance(data, dict):
        if "heldout" not in data:
            raise DataError(
                f'split file {path} has no "heldout" list (expected {{"train": [...], '
                f'"heldout": [...]}}); found keys: {", ".join(map(str, data)) or "-"}'
            )
        heldout = _ids(path, data["heldout"], "heldout")
        overlap = set(heldout) & set(_ids(path, data.get("train", []), "train"))
        if overlap:
            shown = ", ".join(sorted(overlap)[:5])
            raise DataError(f"split file {path}: ids both held out and in train: {shown}")
    else:
        heldout = _ids(path, data, "the list")
    # A chatsim id maps to itself; a release id through the mapping; others stay as given.
    return frozenset(mapping.get(i) or i for i in heldout)
