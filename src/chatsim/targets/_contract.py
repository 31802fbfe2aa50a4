"""The assistant-side contract.

An adapter makes exactly one attempt at one chat completion and translates every failure into
``chatsim.TargetError`` subclasses. The core (``targets._caller``) owns retries, rate limits,
timeouts and timing once for every adapter, so adapters stay thin and vendor SDK retries stay
off.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chatsim.protocol._types import Message
from chatsim.recording._records import AttemptRecord, ReplyTiming, Usage

__all__ = ["AdapterReply", "TargetAdapter", "TargetReply", "TargetRequest"]


@dataclass(frozen=True, slots=True)
class TargetRequest:
    """One chat completion to make."""

    messages: tuple[Message, ...]
    """The conversation, system prompt first where there is one."""
    temperature: float | None = 0.7
    """Sampling temperature; None leaves the provider's default."""
    max_tokens: int | None = None
    """Cap on generated tokens; None for the provider's default."""
    seed: int | None = None
    """Sampling seed, where the provider honours one."""
    stream: bool = True
    """Stream the reply (needed for time-to-first-token)."""
    stop: tuple[str, ...] = ()
    """Stop sequences, where wanted."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Provider-specific request fields passed through unchanged."""


_UNTIMED = ReplyTiming()
"""The timing of a reply whose transport measured nothing (immutable: one serves all)."""


@dataclass(slots=True)
class AdapterReply:
    """What one successful attempt returns."""

    text: str
    usage: Usage | None = None
    timing: ReplyTiming = _UNTIMED
    """When the request left and the reply arrived, as the transport measured them (built
    once by the transport; the caller records it)."""
    finish_reason: str | None = None
    request_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    """Response headers worth recording (request id, rate limits); never auth headers."""


class TargetAdapter(abc.ABC):
    """One wire protocol. Implementations: ``chatsim_openai`` (openai, azure, vllm profiles)."""

    #: The model spec's adapter name, e.g. ``openai``.
    name: str = ""

    @abc.abstractmethod
    async def complete(self, request: TargetRequest, *, now: Callable[[], float]) -> AdapterReply:
        """Make one attempt. ``now`` is the run's clock, for the reply's ``timing``.

        Raise ``chatsim.TargetError`` subclasses for every failure (never a foreign error);
        a partial stream that fails raises and returns no text.
        """

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections. Called once when the run ends."""

    def describe_request(self, request: TargetRequest) -> dict[str, Any]:
        """The request as it would go on the wire (URL, body; no auth), for ``--dry-run``."""
        messages = [{"role": m.role.value, "content": m.content} for m in request.messages]
        return {"messages": messages}


@dataclass(slots=True)
class TargetReply:
    """What the core returns for one assistant turn: the final text plus every attempt."""

    text: str
    usage: Usage | None
    requested_at: float
    """When the turn was asked for (before queueing)."""
    started_at: float
    """When the successful attempt was sent (its ``timing.sent_at`` where known, else when it
    began)."""
    ended_at: float
    """When the successful attempt ended: the last bytes' arrival (``timing.ended_at``)
    clamped into the attempt, else when it returned."""
    queue_time: float
    """Seconds spent waiting for a concurrency slot or rate-limit tokens."""
    attempts: list[AttemptRecord]
    timing: ReplyTiming
    """The successful attempt's transport timing, as its adapter reported it."""
    finish_reason: str | None = None
