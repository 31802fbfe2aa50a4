"""Faults the loopback server injects: scripted (a queue) or random (seeded rates).

Each kind is one failure a real provider or proxy produces. The server decides, for every
request, whether a fault applies: the first matching fault in the scripted queue wins;
otherwise one seeded random draw against the per-kind rates.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

__all__ = ["Fault", "FaultKind", "FaultPlan"]


class FaultKind(StrEnum):
    """One kind of failure. Bodies follow OpenAI's ``{"error": {...}}`` format."""

    RATE_LIMIT = "rate_limit"
    """429 with ``Retry-After: <seconds>``."""
    RATE_LIMIT_MS = "rate_limit_ms"
    """429 with ``retry-after-ms: <milliseconds>``."""
    RATE_LIMIT_DATE = "rate_limit_date"
    """429 with ``Retry-After: <HTTP-date>`` (whole seconds, rounded up)."""
    SERVER_ERROR = "server_error"
    """500."""
    BAD_GATEWAY = "bad_gateway"
    """502."""
    SERVICE_UNAVAILABLE = "service_unavailable"
    """503 (OpenAI's "engine is overloaded")."""
    GATEWAY_TIMEOUT = "gateway_timeout"
    """504."""
    HTTP_ERROR = "http_error"
    """Any status, given as ``Fault.status`` (403, 404, 408, 409, 422, ...)."""
    CONTEXT_LENGTH = "context_length"
    """400 with ``code: "context_length_exceeded"``."""
    UNAUTHORIZED = "unauthorized"
    """401 with ``code: "invalid_api_key"``."""
    RESET = "reset"
    """The connection is reset (TCP RST) before any response byte."""
    RESET_MID_STREAM = "reset_mid_stream"
    """A streamed reply is reset after ``after_chunks`` content chunks (non-streamed: as RESET)."""
    STALL = "stall"
    """The server waits ``stall`` seconds (before the response, or after ``after_chunks``
    chunks of a stream), then carries on normally if the client is still there."""
    MALFORMED_JSON = "malformed_json"
    """A 200 whose JSON is cut off (non-streamed), or a stream event whose data is not JSON
    after ``after_chunks`` chunks (the stream then ends without ``[DONE]``)."""
    MALFORMED_SSE = "malformed_sse"
    """A stream that turns into non-SSE bytes (an HTML error page) after ``after_chunks``
    chunks and ends without a finish or ``[DONE]`` (non-streamed: an HTML body with a 200)."""
    EMPTY_CHOICES = "empty_choices"
    """A 200 whose ``choices`` are empty (streamed: every chunk, then ``[DONE]``)."""


#: Kinds that answer with an HTTP status and an error body.
STATUS_OF: dict[FaultKind, int] = {
    FaultKind.RATE_LIMIT: 429,
    FaultKind.RATE_LIMIT_MS: 429,
    FaultKind.RATE_LIMIT_DATE: 429,
    FaultKind.SERVER_ERROR: 500,
    FaultKind.BAD_GATEWAY: 502,
    FaultKind.SERVICE_UNAVAILABLE: 503,
    FaultKind.GATEWAY_TIMEOUT: 504,
    FaultKind.CONTEXT_LENGTH: 400,
    FaultKind.UNAUTHORIZED: 401,
}

_MID_STREAM_DEFAULT = {
    FaultKind.RESET_MID_STREAM: 1,
    FaultKind.MALFORMED_JSON: 1,
    FaultKind.MALFORMED_SSE: 1,
    FaultKind.STALL: 0,
}


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault, with its parameters and an optional filter on which requests it hits."""

    kind: FaultKind
    retry_after: float = 1.0
    """Rate limits: the hint in seconds (sent as seconds, milliseconds or an HTTP-date)."""
    status: int = 500
    """``HTTP_ERROR`` only: the status to answer with."""
    stall: float = 30.0
    """``STALL`` only: seconds to wait."""
    after_chunks: int | None = None
    """Stream faults: content chunks sent before the fault (default 1; ``STALL``: 0)."""
    model: str | None = None
    """Hit only requests for this model (None: any)."""
    endpoint: str | None = None
    """Hit only ``chat`` or ``completions`` requests (None: both)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", FaultKind(self.kind))

    @property
    def chunks_before(self) -> int:
        """Content chunks a stream sends before the fault strikes."""
        if self.after_chunks is not None:
            return self.after_chunks
        return _MID_STREAM_DEFAULT.get(self.kind, 0)

    @property
    def http_status(self) -> int | None:
        """The status this fault answers with, where it answers with an error status."""
        if self.kind is FaultKind.HTTP_ERROR:
            return self.status
        return STATUS_OF.get(self.kind)

    def matches(self, endpoint: str, model: str) -> bool:
        return (self.model is None or self.model == model) and (
            self.endpoint is None or self.endpoint == endpoint
        )


def _as_fault(value: Fault | FaultKind | str) -> Fault:
    return value if isinstance(value, Fault) else Fault(FaultKind(value))


class FaultPlan:
    """Which requests fail, and how.

    ``rates`` maps a kind (or a parameterised ``Fault``) to the probability that a request gets
    it; the draws come from ``random.Random(seed)``, one per request, so a given order of
    requests always meets the same faults. ``model``/``endpoint`` restrict random faults to
    matching requests. ``push`` queues scripted faults, which are served first.
    """

    def __init__(
        self,
        rates: Mapping[Fault | FaultKind | str, float] | None = None,
        *,
        seed: int = 0,
        model: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        self._rates: list[tuple[float, Fault]] = []
        total = 0.0
        for key, rate in (rates or {}).items():
            if rate < 0:
                raise ValueError(f"fault rate for {key} must be >= 0")
            total += rate
            fault = replace(_as_fault(key), model=model, endpoint=endpoint)
            self._rates.append((total, fault))
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault rates add up to {total:g}, more than 1")
        self._rng = random.Random(seed)
        self._queue: list[Fault] = []
        #: How many faults of each kind were injected so far.
        self.injected: Counter[FaultKind] = Counter()

    def push(self, fault: Fault | FaultKind | str, times: int = 1) -> None:
        """Queue ``fault`` for the next ``times`` matching requests."""
        self._queue.extend([_as_fault(fault)] * times)

    def clear(self) -> None:
        """Drop every queued fault (random rates stay)."""
        self._queue.clear()

    @property
    def pending(self) -> int:
        """Queued faults not served yet."""
        return len(self._queue)

    def draw(self, endpoint: str, model: str) -> Fault | None:
        """The fault for the request at hand, or None."""
        for i, fault in enumerate(self._queue):
            if fault.matches(endpoint, model):
                del self._queue[i]
                self.injected[fault.kind] += 1
                return fault
        if not self._rates:
            return None
        u = self._rng.random()
        for bound, fault in self._rates:
            if u < bound:
                if not fault.matches(endpoint, model):
                    return None
                self.injected[fault.kind] += 1
                return fault
        return None
