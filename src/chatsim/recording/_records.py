"""The record schema: what a run directory holds, versioned and typed.

Every timestamp is epoch seconds (float) from the run's ``Clock``; every duration is seconds.
Records never hold secrets: headers are filtered through ``chatsim._util.redact`` first.
The records other features keep in a run directory live beside this module, so that the
directory's owner knows them all: ``_records_baseline.py`` (AI-alone answers) and
``_records_judge.py`` (judge scores).

Schema history:
  1: first version.
  2: ``AttemptRecord.sent_at`` (when the request went on the wire) and ``connect_time``
     (opening a new connection before it); a reply's "sent" times
     (``TurnRecord.started_at``, latency "from send") use it where present.
     ``TurnRecord.max_token_gap`` (a streamed reply's longest stall). Version 1 records read
     unchanged. ``RunHeader.config`` typed (``RunConfig`` / ``LoadTestConfig``); the JSON is
     the same, so version 2 headers read unchanged.
  3: ``RunHeader.simulator_choice``: which simulator plays the user, whether it was given or
     chosen by default, and why (a run without a GPU falls back to a prompted target).
     Version 1 and 2 headers read unchanged (the field is None). ``AttemptRecord.outcome``
     may be ``connect_timeout`` (a call that was never sent), which older readers reject;
     otherwise episode records are as in version 2 (user turns already carry the
     simulator's ``usage``).
  4: ``EpisodeRecord.condition``, ChatBench's study condition (``RunConfig.condition``, in
     the header's config too): records before 4 read as ``direct-to-AI``, which is what they
     were. ``answer-first`` episodes keep the user's answer alone before the conversation
     (``initial_turn``, ``initial_answer``, ``initial_answer_method``, ``initial_correct``;
     None in the other conditions). A ``user-alone`` episode's ``turns`` is its one user turn
     (the answer); it has no assistant turn. Version 1-3 records and headers read unchanged.

A reply's transport timings travel as one value, ``ReplyTiming``, from the transport that
measures them to the records built from them (``AttemptRecord.succeeded``,
``TurnRecord.assistant``); the records keep them as flat fields, so the JSON is unchanged. A
new timing is added here (the value, the record field, its builder) and in the transport
that measures it; nothing in between copies fields.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chatsim.config import Condition, LoadTestConfig, RunConfig
from chatsim.protocol._types import Role, TerminationReason

__all__ = [
    "SCHEMA_VERSION",
    "AttemptOutcome",
    "AttemptRecord",
    "EpisodeRecord",
    "ReplyTiming",
    "RunHeader",
    "SimulatorChoice",
    "TurnRecord",
    "Usage",
]

SCHEMA_VERSION = 4

AttemptOutcome = Literal[
    "ok", "rate_limit", "transient", "timeout", "connect_timeout", "permanent", "auth"
]


class ReplyTiming(NamedTuple):
    """When one reply's bytes left and arrived, as its transport measured them.

    Built once by the transport (an adapter), carried unchanged by ``AdapterReply`` and
    ``TargetReply``, and recorded by ``AttemptRecord.succeeded`` / ``TurnRecord.assistant``.
    Times are on the run's clock; every field is None where the transport does not know it.
    Build it with keywords (the field order is not part of the contract).

    Immutable and without a ``__dict__``. A ``NamedTuple`` rather than a frozen dataclass:
    it is built on every reply, and a frozen dataclass's ``__init__`` (one
    ``object.__setattr__`` per field) cost about 0.6 us more per reply (Python 3.11).
    """

    sent_at: float | None = None
    """Clock time the request went on the wire (None: the attempt's start stands for it)."""
    connect_time: float | None = None
    """Seconds spent opening a new connection (DNS, TCP, TLS) before sending; None on a
    reused connection or where the transport does not report it."""
    first_token_at: float | None = None
    """Clock time the first content token arrived (streamed replies only)."""
    max_token_gap: float | None = None
    """Longest wait, in seconds, between two arrivals of content after the first (streamed
    replies with content in more than one arrival; None otherwise). Transports that cannot
    see arrivals measure it between events as they read them."""
    ended_at: float | None = None
    """Clock time the reply's last bytes arrived, where the transport knows it (None: when
    the attempt returned). The caller clamps it into the attempt."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Usage(_Record):
    """Token counts as the provider (or the local tokenizer) reported them."""

    prompt_tokens: int = 0
    """Tokens in the request."""
    completion_tokens: int = 0
    """Tokens generated."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class AttemptRecord(_Record):
    """One HTTP (or generation) attempt within a turn."""

    index: int
    """0-based attempt number within the turn."""
    started_at: float
    """When the attempt began: its concurrency slot and rate limits passed, the request about
    to be built and sent."""
    sent_at: float | None = None
    """When the request was written to the socket, where the transport reports it (the fast
    HTTP transport does). ``sent_at - started_at`` is the client's own delay in sending, plus
    ``connect_time`` when the request opened a new connection."""
    connect_time: float | None = None
    """Seconds spent opening a new connection (DNS, TCP, TLS) before sending; None on a
    reused connection or where the transport does not report it. Reported on its own, as
    load testers such as k6 do: not part of the reply's latency from send."""
    ended_at: float
    """When the attempt finished (reply complete, or the failure observed)."""
    outcome: AttemptOutcome
    """``ok``, or how the failure was classified."""
    status_code: int | None = None
    """HTTP status, where there was one."""
    error_class: str | None = None
    """Name of the chatsim error class, for failed attempts."""
    error_message: str | None = None
    """Short, redacted error message, for failed attempts."""
    wait_before_next: float | None = None
    """Seconds waited before the next attempt (backoff or Retry-After); None when none followed."""
    request_id: str | None = None
    """The provider's request id (``x-request-id``), where present."""
    rate_limit_headers: dict[str, str] = Field(default_factory=dict)
    """The provider's rate-limit headers (``x-ratelimit-*``, ``anthropic-ratelimit-*``,
    ``retry-after*``), where present."""

    @classmethod
    def succeeded(
        cls,
        *,
        index: int,
        started_at: float,
        ended_at: float,
        timing: ReplyTiming,
        request_id: str | None,
        rate_limit_headers: dict[str, str],
    ) -> AttemptRecord:
        """The record of a successful attempt: the caller's times plus the transport's."""
        return cls(
            index=index,
            started_at=started_at,
            sent_at=timing.sent_at,
            connect_time=timing.connect_time,
            ended_at=ended_at,
            outcome="ok",
            request_id=request_id,
            rate_limit_headers=rate_limit_headers,
        )


class TurnRecord(_Record):
    """One message of the conversation, with its timings."""

    index: int
    """0-based position in the conversation (user and assistant messages alternate)."""
    role: Role
    """``user`` (the simulator) or ``assistant`` (the target)."""
    text: str
    """The message as sent to the other side (user turns: the simulator's text, stop cut)."""
    requested_at: float
    """When the turn was asked for (before any client-side queueing)."""
    started_at: float
    """When the reply that counts began: the successful attempt was sent (its ``sent_at``
    where known, else its ``started_at``; earlier attempts and their waits are in
    ``attempts``) / the generation batch started."""
    first_token_at: float | None = None
    """When the first token of a streamed reply arrived (assistant turns, streamed only)."""
    max_token_gap: float | None = None
    """Longest wait between two arrivals of streamed content after the first: the reply's
    worst stall (streamed assistant turns whose content came in more than one arrival)."""
    ended_at: float
    """When the turn was complete."""
    queue_time: float = 0.0
    """Seconds spent waiting for a concurrency slot, a rate-limit token or a batch (the local
    simulator's prompt building, done while turns wait for their batch, included)."""
    usage: Usage | None = None
    """Token counts, where known."""
    attempts: list[AttemptRecord] = Field(default_factory=list)
    """Every attempt it took (assistant turns and served/prompted simulator turns)."""
    finish_reason: str | None = None
    """The provider's finish reason (``stop``, ``length``, ...), where known."""
    context_trimmed: bool = False
    """The simulator prompt was shortened to fit the context window for this turn."""

    @classmethod
    def assistant(
        cls,
        *,
        index: int,
        text: str,
        requested_at: float,
        started_at: float,
        ended_at: float,
        timing: ReplyTiming,
        queue_time: float,
        usage: Usage | None,
        attempts: list[AttemptRecord],
        finish_reason: str | None,
    ) -> TurnRecord:
        """The record of an assistant reply: the caller's times plus the transport's."""
        return cls(
            index=index,
            role=Role.ASSISTANT,
            text=text,
            requested_at=requested_at,
            started_at=started_at,
            first_token_at=timing.first_token_at,
            max_token_gap=timing.max_token_gap,
            ended_at=ended_at,
            queue_time=queue_time,
            usage=usage,
            attempts=attempts,
            finish_reason=finish_reason,
        )


class EpisodeRecord(_Record):
    """One finished conversation. One JSON line of ``episodes.jsonl``."""

    schema_version: int = SCHEMA_VERSION
    """Version of this schema."""
    run_id: str
    """The run this episode belongs to."""
    episode_id: str
    """Deterministic id ``<model>|<question_id>|<repeat>``; resume skips ids already recorded."""
    model: str
    """The target's label (its model spec as given)."""
    simulator: str
    """The simulator's spec."""
    question_id: str
    """The question's id."""
    subject: str
    """The question's subject."""
    repeat: int
    """0-based repeat index of this question for this model."""
    seed: int
    """The simulator seed of this episode (shared across models for paired comparison)."""
    gold: str
    """The correct letter."""
    turns: list[TurnRecord]
    """The conversation, user first. The final answer message is the last user turn."""
    final_answer: str | None
    """The user's parsed final letter, or None."""
    answer_method: Literal["explicit", "fallback", "none"]
    """How the final answer was parsed."""
    correct: bool
    """``final_answer == gold``; False for invalid answers and errors."""
    termination: TerminationReason
    """Why the episode ended."""
    user_messages: int
    """User messages sent to the assistant (the final ``Answer: X`` is not sent, so not counted)."""
    started_at: float
    """When the episode started."""
    ended_at: float
    """When it ended."""
    error: str | None = None
    """Redacted message of the error that ended it, for error terminations."""
    condition: Condition = "direct-to-AI"
    """ChatBench's study condition it was run under (schema 4; older records: ``direct-to-AI``).
    In ``user-alone`` the answer above is the user's alone; in ``answer-first`` it is the one
    given after the conversation, and the one given before it is ``initial_answer``."""
    initial_turn: TurnRecord | None = None
    """``answer-first``: the user's turn answering alone, before the conversation (not part
    of ``turns``, which is the conversation the assistant saw). None in other conditions."""
    initial_answer: str | None = None
    """``answer-first``: the letter the user chose alone, or None (unparsed, or another
    condition)."""
    initial_answer_method: Literal["explicit", "fallback", "none"] | None = None
    """``answer-first``: how ``initial_answer`` was parsed; None in other conditions."""
    initial_correct: bool | None = None
    """``answer-first``: ``initial_answer == gold`` (False when unparsed); None in other
    conditions or when the episode failed before the user answered alone."""
    extra: dict[str, Any] = Field(default_factory=dict)
    """Open slot for later analyses (judge scores, load-test schedule) without a schema bump."""


class SimulatorChoice(_Record):
    """Which simulator plays the user, and why: shown on a run's first screen and in its summary."""

    spec: str
    """The simulator's spec (``RunConfig.simulator``)."""
    source: Literal["given", "default", "resumed"]
    """``given`` (``--simulator`` / ``simulator=``), ``default`` (chosen by chatsim), or
    ``resumed`` (taken from the header of a run recorded before choices were kept)."""
    reason: str
    """Why, in words: e.g. no CUDA GPU for the default LoRA, so a target plays the user."""

    def describe(self) -> str:
        """``prompted:gpt-4o (no CUDA GPU found ...; pass --simulator to choose)``."""
        return f"{self.spec} ({self.reason})"


class RunHeader(_Record):
    """``header.json``: what was run, with which versions and seeds. No secrets."""

    schema_version: int = SCHEMA_VERSION
    """Version of this schema."""
    run_id: str
    """Unique id of the run."""
    created_at: float
    """Epoch seconds."""
    kind: Literal["evaluate", "loadtest"] = "evaluate"
    """What produced the run."""
    config: RunConfig | LoadTestConfig
    """The run's configuration (``RunConfig`` for ``evaluate``, ``LoadTestConfig`` for
    ``loadtest``): typed and validated on reading; secret-free by construction. Resume
    compares it."""
    versions: dict[str, str]
    """Versions of chatsim, Python and the key libraries."""
    seed: int
    """The run seed; episode seeds derive from it."""
    planned_episodes: int
    """How many episodes the run schedules in total."""
    questions_digest: str | None = None
    """Fingerprint of the selected questions; a resume must select the same ones."""
    simulator_choice: SimulatorChoice | None = None
    """Which simulator plays the user and why (None in headers before schema 3, and for load
    tests)."""

    @model_validator(mode="before")
    @classmethod
    def _typed_config(cls, data: Any) -> Any:
        """Validate ``config`` as the model ``kind`` names (not whichever union member fits)."""
        if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
            return data
        config = dict(data["config"])
        if data.get("kind", "evaluate") == "loadtest":
            # Headers before the typed config carried "models" for generic readers.
            config.pop("models", None)
            return {**data, "config": LoadTestConfig.model_validate(config)}
        return {**data, "config": RunConfig.model_validate(config)}

    @property
    def models(self) -> tuple[str, ...]:
        """The run's target model specs (a load test has one)."""
        config = self.config
        return config.models if isinstance(config, RunConfig) else (config.model,)
