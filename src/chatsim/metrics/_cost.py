"""Tokens and estimated cost, from the providers' usage fields and a dated price table.

The price table is data the user can edit (``--prices FILE``, same layout as the bundled
``prices.json``: ``date``, ``currency``, ``unit`` = ``per 1M tokens``, ``source``, and
``models: {name: {input, output}}``). A model is priced only when its name (the model spec
without its ``openai:``/``azure:``/``vllm:`` prefix) is in the table, exactly or as a dated
snapshot of an entry (``gpt-4o-2024-08-06`` -> ``gpt-4o``). Anything else gets tokens only:
never a guessed price.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chatsim._exceptions import DataError
from chatsim.recording._records import EpisodeRecord

__all__ = ["CostSummary", "ModelPrice", "PriceTable", "cost_summary", "load_prices"]

_SNAPSHOT = re.compile(r"^(?P<base>.+)-\d{4}-\d{2}-\d{2}$")


class ModelPrice(BaseModel):
    """USD (or the table's currency) per 1M tokens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class PriceTable(BaseModel):
    """A dated price table."""

    model_config = ConfigDict(frozen=True)

    date: str
    currency: str = "USD"
    unit: str = "per 1M tokens"
    source: str = ""
    note: str = ""
    models: dict[str, ModelPrice]

    def lookup(self, model: str) -> tuple[str, ModelPrice] | None:
        """(table entry, price) for a model label, or None when it is not in the table."""
        name = model.split(":", 1)[1] if ":" in model else model
        for candidate in (model, name):
            if candidate in self.models:
                return candidate, self.models[candidate]
        snapshot = _SNAPSHOT.match(name)
        if snapshot and snapshot["base"] in self.models:
            return snapshot["base"], self.models[snapshot["base"]]
        return None


def load_prices(path: Path | str | None = None) -> PriceTable:
    """The price table at ``path``, or the bundled default."""
    try:
        if path is None:
            text = resources.files("chatsim.metrics").joinpath("prices.json").read_text("utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        return PriceTable.model_validate(json.loads(text))
    except (OSError, ValueError, ValidationError) as exc:
        raise DataError(
            f"cannot read the price table {path or 'prices.json'}: {exc}; it needs "
            '{"date": ..., "models": {"name": {"input": USD_per_1M, "output": USD_per_1M}}}'
        ) from exc


class CostSummary(BaseModel):
    """Tokens and cost of one model's target calls (simulator tokens are not billed here)."""

    model_config = ConfigDict(frozen=True)

    episodes: int
    prompt_tokens: int
    completion_tokens: int
    tokens_per_episode: float | None
    calls_without_usage: int
    """Assistant turns that reported no usage (their tokens are missing from the totals)."""
    price_entry: str | None
    """The price-table entry used; None when the model is not in the table."""
    cost: float | None
    """Estimated cost of the run for this model; None without a price."""
    cost_per_episode: float | None
    currency: str
    price_date: str


def cost_summary(model: str, episodes: Sequence[EpisodeRecord], prices: PriceTable) -> CostSummary:
    """Tokens and estimated cost of a model's assistant turns."""
    prompt = completion = missing = 0
    for ep in episodes:
        for turn in ep.turns:
            if turn.role.value != "assistant":
                continue
            if turn.usage is None:
                missing += 1
                continue
            prompt += turn.usage.prompt_tokens
            completion += turn.usage.completion_tokens
    found = prices.lookup(model)
    cost = None
    if found is not None:
        cost = (prompt * found[1].input + completion * found[1].output) / 1_000_000
    n = len(episodes)
    return CostSummary(
        episodes=n,
        prompt_tokens=prompt,
        completion_tokens=completion,
        tokens_per_episode=(prompt + completion) / n if n else None,
        calls_without_usage=missing,
        price_entry=found[0] if found else None,
        cost=cost,
        cost_per_episode=cost / n if cost is not None and n else None,
        currency=prices.currency,
        price_date=prices.date,
    )
