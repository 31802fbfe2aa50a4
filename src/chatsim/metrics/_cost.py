"""Tokens and estimated cost, from the providers' usage fields and a dated price table.

The price table is data the user can edit (``--prices FILE``, same layout as the bundled
``prices.json``: ``date``, ``currency``, ``unit`` = ``per 1M tokens``, ``source``, and
``models: {name: {input, output}}``). A model is priced only when its name (the model spec
without its ``openai:``/``azure:``/``vllm:`` prefix) is in the table, exactly or as a dated
snapshot of an entry (``gpt-4o-2024-08-06`` -> ``gpt-4o``, ``claude-sonnet-4-5-20250929`` ->
``claude-sonnet-4-5``). Anything else gets tokens only: never a guessed price. An entry may carry
its own ``date`` and ``source`` (one table holds several vendors' price pages, read on different
days); the table's are the default.

The simulator's tokens are counted beside the target's (a prompted simulator is a billed
model too): per model, ``ModelSummary.cost`` (target) and ``.simulator_cost``, and for the run
``RunSummary.cost`` (target, simulator, total). A total over an unpriced part is a lower bound,
and says so (``CostTotal.complete``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chatsim._exceptions import DataError
from chatsim.recording._records import EpisodeRecord

if TYPE_CHECKING:
    from chatsim.metrics._frame import Frame

__all__ = [
    "SCRIPTED_ENTRY",
    "CostSummary",
    "CostTotal",
    "ModelPrice",
    "PriceTable",
    "RunCost",
    "cost_facts",
    "cost_summary",
    "load_prices",
    "run_cost",
    "simulator_cost_facts",
    "simulator_cost_summary",
    "simulator_model",
]

# OpenAI dates its snapshots -2024-08-06, Anthropic -20250929.
_SNAPSHOT = re.compile(r"^(?P<base>.+)-(?:\d{4}-\d{2}-\d{2}|\d{8})$")


class ModelPrice(BaseModel):
    """USD (or the table's currency) per 1M tokens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    date: str | None = None
    """When this entry was read from its source (default: the table's ``date``)."""
    source: str | None = None
    """Where this entry comes from (default: the table's ``source``)."""


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

    def entry_date(self, entry: str | None) -> str:
        """The date of a table entry's price (the table's date when the entry has none)."""
        price = self.models.get(entry) if entry is not None else None
        return (price.date if price is not None else None) or self.date


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
    """Tokens and cost of one side of a model's episodes: its target calls (``ModelSummary.cost``)
    or the simulator's turns in them (``ModelSummary.simulator_cost``)."""

    model_config = ConfigDict(frozen=True)

    episodes: int
    prompt_tokens: int
    completion_tokens: int
    tokens_per_episode: float | None
    calls_without_usage: int
    """Replies that reported no usage (their tokens are missing from the totals); failed
    turns, which have no reply, are not counted."""
    price_entry: str | None
    """The price-table entry used; None when the model is not in the table (unpriced)."""
    cost: float | None
    """Estimated cost of the run for this side; None without a price (never a guessed 0)."""
    cost_per_episode: float | None
    currency: str
    price_date: str


def _tally(frame: Frame, side: str) -> tuple[int, int, int]:
    """(prompt tokens, completion tokens, replies without usage) of one side's turns."""
    return tuple(  # type: ignore[return-value]
        int(frame.values(f"{side}_{name}").sum())
        for name in ("prompt_tokens", "completion_tokens", "calls_without_usage")
    )


def _priced(
    n: int,
    tokens: tuple[int, int, int],
    found: tuple[str, ModelPrice] | None,
    prices: PriceTable,
) -> CostSummary:
    prompt, completion, missing = tokens
    cost = None
    if found is not None:
        cost = (prompt * found[1].input + completion * found[1].output) / 1_000_000
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
        price_date=prices.entry_date(found[0] if found else None),
    )


def cost_facts(model: str, frame: Frame, prices: PriceTable) -> CostSummary:
    """Tokens and estimated cost of a model's assistant turns, from its episodes' facts."""
    return _priced(len(frame), _tally(frame, "target"), prices.lookup(model), prices)


def cost_summary(model: str, episodes: Sequence[EpisodeRecord], prices: PriceTable) -> CostSummary:
    """Tokens and estimated cost of a model's assistant turns."""
    from chatsim.metrics._frame import frame_of  # lazy: pyarrow, and _facts imports us

    return cost_facts(model, frame_of(episodes), prices)


SCRIPTED_ENTRY = "scripted (no model)"
"""The price entry of a scripted simulator: it calls no model, so it truly costs nothing."""


def simulator_model(spec: str) -> str | None:
    """The model a simulator's tokens are billed as: ``prompted:<spec>`` and ``served:<model>``
    are looked up by that model; ``hf:`` runs on local hardware (no per-token price)."""
    kind, _, rest = spec.partition(":")
    return rest if kind in ("prompted", "served") and rest else None


def simulator_cost_facts(frame: Frame, prices: PriceTable) -> CostSummary:
    """Tokens and estimated cost of the simulator's turns in these episodes, priced by the
    simulator's own model (a prompted ``gpt-4o`` user is billed like the ``gpt-4o`` target)."""
    parts = []
    for spec, mine in frame.groups("simulator").items():
        if spec.partition(":")[0] == "scripted":
            parts.append(_priced(len(mine), (0, 0, 0), (SCRIPTED_ENTRY, _FREE), prices))
            continue
        name = simulator_model(spec)
        found = prices.lookup(name) if name is not None else None
        parts.append(_priced(len(mine), _tally(mine, "simulator"), found, prices))
    return _combine(parts, len(frame), prices)


def simulator_cost_summary(episodes: Sequence[EpisodeRecord], prices: PriceTable) -> CostSummary:
    """``simulator_cost_facts`` of the episodes' facts."""
    from chatsim.metrics._frame import frame_of  # lazy: pyarrow, and _facts imports us

    return simulator_cost_facts(frame_of(episodes), prices)


_FREE = ModelPrice(input=0, output=0)


def _combine(parts: list[CostSummary], n: int, prices: PriceTable) -> CostSummary:
    """One summary of several simulators' (a run has one; records may mix after edits)."""
    if len(parts) == 1:
        return parts[0]
    prompt = sum(p.prompt_tokens for p in parts)
    completion = sum(p.completion_tokens for p in parts)
    costs = [p.cost for p in parts]
    cost = None if not costs or None in costs else sum(c for c in costs if c is not None)
    entries = [p.price_entry for p in parts]
    return CostSummary(
        episodes=n,
        prompt_tokens=prompt,
        completion_tokens=completion,
        tokens_per_episode=(prompt + completion) / n if n else None,
        calls_without_usage=sum(p.calls_without_usage for p in parts),
        price_entry=None if not entries or None in entries else ", ".join(map(str, entries)),
        cost=cost,
        cost_per_episode=cost / n if cost is not None and n else None,
        currency=prices.currency,
        price_date=min((p.price_date for p in parts), default=prices.date),  # the oldest
    )


class CostTotal(BaseModel):
    """Tokens and cost summed over models (and, for ``RunCost.total``, over both sides)."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int
    completion_tokens: int
    cost: float | None
    """Sum of the priced parts; None when no part has a price."""
    unpriced_tokens: int
    """Tokens of parts without a price: not in ``cost``."""
    complete: bool
    """Every part is priced and every call reported its usage: ``cost`` is the whole
    estimate, not a lower bound."""
    currency: str


class RunCost(BaseModel):
    """The run's estimated cost: the targets', the simulator's, and both together."""

    model_config = ConfigDict(frozen=True)

    target: CostTotal
    simulator: CostTotal
    total: CostTotal


def _total(parts: Sequence[CostSummary], currency: str) -> CostTotal:
    priced = [p.cost for p in parts if p.cost is not None]
    # A part with no calls at all (a model with no episodes) is empty, not unpriced.
    unpriced = [
        p for p in parts
        if p.cost is None and (p.prompt_tokens or p.completion_tokens or p.calls_without_usage)
    ]  # fmt: skip
    return CostTotal(
        prompt_tokens=sum(p.prompt_tokens for p in parts),
        completion_tokens=sum(p.completion_tokens for p in parts),
        cost=sum(priced) if priced else None,
        unpriced_tokens=sum(p.prompt_tokens + p.completion_tokens for p in unpriced),
        complete=not unpriced and not any(p.calls_without_usage for p in parts),
        currency=currency,
    )


def run_cost(
    target: Sequence[CostSummary], simulator: Sequence[CostSummary], prices: PriceTable
) -> RunCost:
    """Totals over the models' target and simulator cost summaries."""
    return RunCost(
        target=_total(target, prices.currency),
        simulator=_total(simulator, prices.currency),
        total=_total([*target, *simulator], prices.currency),
    )
