"""Grouping dictionary codes (small non-negative integers) by counting, not sorting."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Codes", "first_seen"]

Index = npt.NDArray[np.int64]
Codes = npt.NDArray[np.signedinteger[Any]]
"""Dictionary codes (``-1``: null); a frame keeps them in 4 bytes a row."""


def first_seen(codes: Codes, size: int) -> tuple[Index, Index]:
    """The distinct codes (``-1``: null included) in order of first appearance, and the
    position of each one's first row: counting, not sorting the rows."""
    if codes.size == 0:
        return codes[:0], codes[:0]
    first = np.full(size + 1, codes.size, dtype=np.int64)  # slot ``size`` holds null (-1)
    np.minimum.at(first, np.where(codes < 0, size, codes), np.arange(codes.size))
    present = np.flatnonzero(first < codes.size)
    order = np.argsort(first[present], kind="stable")
    found = present[order]
    return np.where(found == size, -1, found), first[found]
