"""Seeds threaded explicitly: the same episode gets the same seed in every process and model."""

from __future__ import annotations

import hashlib

__all__ = ["derive_seed", "episode_id"]


def derive_seed(*parts: object) -> int:
    """A stable 63-bit seed from the parts (not Python's ``hash``, which is salted per process)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def episode_id(model: str, question_id: str, repeat: int) -> str:
    """The deterministic id that resume uses to skip recorded episodes."""
    return f"{model}|{question_id}|{repeat}"
