"""How several load generators (Ray workers) split one stage's load between them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Share"]


@dataclass(frozen=True, slots=True)
class Share:
    """The part of each stage's load one engine of ``count`` generates: arrivals (open loop) and
    users (closed loop) whose index is ``index`` modulo ``count``, and that part of a stage's
    conversation count (closed loop)."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"share {self.index} of {self.count} does not exist")

    def takes(self, position: int) -> bool:
        return position % self.count == self.index

    def part(self, total: int | None) -> int | None:
        """This share of ``total`` (the shares add up to it exactly)."""
        if total is None:
            return None
        return total // self.count + (1 if self.index < total % self.count else 0)
