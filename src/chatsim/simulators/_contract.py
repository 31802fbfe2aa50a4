"""The user-side contract: batch-first.

A backend turns several pending user turns into the same number of generated turns in one
call, so a GPU backend can run them as one batch. HTTP backends (prompted, served) may take
batches of one. Episodes never call a backend directly: they await one turn through a
``TurnSource`` (a micro-batcher for GPU backends, a pass-through for the others).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from chatsim._exceptions import SimulatorError
from chatsim.protocol._types import Message, SimulatorStep
from chatsim.questions._model import Question
from chatsim.recording._records import AttemptRecord, Usage

__all__ = ["RemoteSimulator", "SimulatorBackend", "TurnSource", "UserTurn", "UserTurnRequest"]


@dataclass(frozen=True, slots=True)
class UserTurnRequest:
    """One pending user turn."""

    episode_id: str
    question: Question
    history: tuple[Message, ...]
    """The conversation so far (user = simulator, assistant = target); no system message."""
    step: SimulatorStep
    seed: int
    """Per-turn seed, derived from the episode seed and the turn index."""
    prepared: tuple[str, bool] | None = None
    """``(prompt, trimmed)`` when the backend's ``prepare`` already built this turn's prompt."""


@dataclass(slots=True)
class UserTurn:
    """One generated user turn."""

    text: str
    """The generated text, stop marker (``[END]``) cut, whitespace stripped."""
    usage: Usage | None = None
    started_at: float | None = None
    """When generation of this turn began (batch start for batched backends)."""
    ended_at: float | None = None
    queue_time: float = 0.0
    """Seconds from the request to the start of generation: waiting for a batch or a slot
    (for a batched backend, its prompt's preparation included)."""
    context_trimmed: bool = False
    """The prompt was shortened to fit the context window."""
    attempts: list[AttemptRecord] = field(default_factory=list)
    """HTTP attempts, for backends that call a server."""
    replica: str | None = None
    """Which replica of a simulator fleet generated it (a ``served:`` endpoint, an ``hf:`` GPU
    actor); None for a single simulator. Kept in the record's ``extra["simulator_replicas"]``."""


class SimulatorBackend(abc.ABC):
    """Generates user turns, several at a time."""

    #: Spec as given by the user, e.g. ``scripted`` or ``hf:mistralai/Mistral-7B-v0.1+...``.
    spec: str = ""
    #: True when many turns in one call are cheaper than one at a time (GPU backends):
    #: the runner then puts a micro-batcher in front of it.
    batched: bool = False
    #: Largest batch the backend accepts in one call.
    max_batch_size: int = 1

    @abc.abstractmethod
    async def generate(self, requests: Sequence[UserTurnRequest]) -> list[UserTurn]:
        """Generate one turn per request, in order. Raise ``SimulatorError`` on failure."""

    async def prepare(self, request: UserTurnRequest) -> UserTurnRequest:
        """Work on one turn that need not wait for its batch (building and trimming its
        prompt), done by the micro-batcher as the turn arrives, while the previous batch
        still generates. Returns the request to generate; raises ``SimulatorError`` for a
        turn that cannot be generated."""
        return request

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release resources (GPU memory, connections)."""

    def describe_prompt(self, request: UserTurnRequest) -> str:
        """The prompt this backend would send for ``request`` (for ``--dry-run``)."""
        return ""


class TurnSource(Protocol):
    """What an episode awaits for one user turn: a micro-batcher in front of a batched (GPU)
    backend, a pass-through for the others (``open_turn_source``), or a wrapper such as the
    load test's think time. Simulators implement it; the runner only awaits it."""

    async def request(self, request: UserTurnRequest) -> UserTurn: ...


class RemoteSimulator(SimulatorBackend):
    """The driver's stand-in for a simulator that runs in other processes (``hf:`` on Ray's
    simulator actors, ``create_remote_simulator``): it knows the spec and batch size, and
    generates nothing itself."""

    batched = True

    def __init__(self, spec: str, *, max_batch_size: int) -> None:
        self.spec = spec
        self.max_batch_size = max_batch_size

    async def generate(self, requests: Sequence[UserTurnRequest]) -> list[UserTurn]:
        raise SimulatorError(f"{self.spec} runs on the Ray simulator actors, not in this process")

    def describe_prompt(self, request: UserTurnRequest) -> str:
        raise SimulatorError(
            f"{self.spec} runs on the Ray simulator actors; see its prompt with --dry-run "
            "without --ray"
        )
