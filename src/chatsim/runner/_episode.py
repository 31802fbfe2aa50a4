"""One episode: the ChatBench two-step loop between a simulated user and a target.

The study condition (``RunConfig.condition``) decides what an episode is: ``direct-to-AI``,
the loop alone; ``user-alone``, one simulator call answering alone (``SimulatorStep.ALONE``)
and no target call; ``answer-first``, that answer alone, kept apart, then the loop. The
answer alone has its own seed (``derive_seed(seed, "alone")``), so the conversation's seeds
are those of ``direct-to-AI``, and ``user-alone``'s answer is ``answer-first``'s first one.
The answer alone is not shown to the simulator during the conversation: the ChatBench
LoRA's prompts carry no earlier answer, so its conversation prompts stay those it was
trained on.

Every episode that finishes returns a record with a typed termination reason. Two things do
not produce a record, on purpose, so that a resume re-runs the episode: cancellation (Ctrl-C,
a stopping run) and an authentication failure (the run stops; fix the key, then resume).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio

from chatsim._exceptions import AuthenticationError, SimulatorError, TargetError
from chatsim._util._clock import Clock
from chatsim._util._redact import scrub
from chatsim.config import Condition, ConversationConfig, RunConfig
from chatsim.protocol import (
    Message,
    ParsedAnswer,
    Role,
    SimulatorStep,
    TerminationReason,
    interpret_user_turn,
    next_step,
    termination_for,
)
from chatsim.questions import Question
from chatsim.recording import EpisodeRecord, TurnRecord
from chatsim.runner._seeds import derive_seed
from chatsim.simulators import TurnSource, UserTurn, UserTurnRequest
from chatsim.targets import DeadlineExceededError, TargetCaller, TargetReply, TargetRequest

__all__ = [
    "EpisodePlan",
    "EpisodeSettings",
    "run_episode",
]

EMPTY_TURN_RESAMPLES = 2
"""An empty user message is sampled again (new seed) this many times before the episode
ends with a simulator error. Counted in the record's ``extra["empty_user_turns"]``."""

_BACKSTOP_SLACK = 1.0
"""Seconds the episode's own scope waits past the deadline for the caller to report it."""


@dataclass(frozen=True, slots=True)
class EpisodePlan:
    """One scheduled episode."""

    episode_id: str
    model: str
    question: Question
    repeat: int
    seed: int


@dataclass(frozen=True, slots=True)
class EpisodeSettings:
    """Per-run settings every episode shares."""

    run_id: str
    simulator_spec: str
    max_turns: int
    system_prompt: str | None
    temperature: float | None
    max_tokens: int | None
    stream: bool
    timeout: float | None
    condition: Condition = "direct-to-AI"

    @classmethod
    def from_config(
        cls, config: ConversationConfig, *, run_id: str, simulator_spec: str
    ) -> EpisodeSettings:
        return cls(
            run_id=run_id,
            simulator_spec=simulator_spec,
            max_turns=config.max_turns,
            system_prompt=config.system_prompt,
            temperature=config.target_temperature,
            max_tokens=config.target_max_tokens,
            stream=config.stream,
            timeout=config.episode_timeout,
            condition=config.condition if isinstance(config, RunConfig) else "direct-to-AI",
        )


class _Transcript:
    """Mutable state of one running episode; becomes the record at the end."""

    def __init__(self) -> None:
        self.turns: list[TurnRecord] = []
        self.history: list[Message] = []
        self.user_messages = 0
        self.empty_resamples = 0
        self.alone: ParsedAnswer | None = None
        """The answer given alone (``user-alone``, ``answer-first``), once given."""
        self.replicas: list[str] = []
        """The simulator fleet's replicas that served this episode, in order (one, unless one
        went down)."""

    def add_user(self, text: str, requested_at: float, turn: UserTurn, now: float) -> None:
        if turn.replica is not None and turn.replica not in self.replicas:
            self.replicas.append(turn.replica)
        self.turns.append(
            TurnRecord(
                index=len(self.turns),
                role=Role.USER,
                text=text,
                requested_at=requested_at,
                started_at=turn.started_at if turn.started_at is not None else requested_at,
                ended_at=turn.ended_at if turn.ended_at is not None else now,
                queue_time=turn.queue_time,
                usage=turn.usage,
                attempts=turn.attempts,
                context_trimmed=turn.context_trimmed,
            )
        )

    def add_assistant(self, reply: TargetReply) -> None:
        self.turns.append(
            TurnRecord.assistant(
                index=len(self.turns),
                text=reply.text,
                requested_at=reply.requested_at,
                started_at=reply.started_at,
                ended_at=reply.ended_at,
                timing=reply.timing,
                queue_time=reply.queue_time,
                usage=reply.usage,
                attempts=reply.attempts,
                finish_reason=reply.finish_reason,
            )
        )
        self.history.append(Message(Role.ASSISTANT, reply.text))

    def add_failed_user(self, error: SimulatorError, requested_at: float, now: float) -> None:
        # Only a turn that made HTTP attempts is worth a record of its own: it keeps them.
        if not error.attempts:
            return
        self.turns.append(
            TurnRecord(
                index=len(self.turns),
                role=Role.USER,
                text="",
                requested_at=requested_at,
                started_at=error.attempts[0].started_at,
                ended_at=now,
                attempts=list(error.attempts),
                finish_reason="error",
            )
        )

    def add_failed_assistant(self, error: TargetError, requested_at: float, now: float) -> None:
        # The failed turn keeps its attempts so recovery metrics can see them; no text.
        attempts = list(error.attempts)
        started = attempts[-1].started_at if attempts else requested_at
        self.turns.append(
            TurnRecord(
                index=len(self.turns),
                role=Role.ASSISTANT,
                text="",
                requested_at=requested_at,
                started_at=started,
                ended_at=now,
                attempts=attempts,
                finish_reason="error",
            )
        )


async def _user_turn(
    source: TurnSource,
    plan: EpisodePlan,
    transcript: _Transcript,
    step: SimulatorStep,
    resample: int = 0,
) -> UserTurn:
    # The first sample's seed depends only on the turn index, so runs are reproducible; a
    # resample (after an empty turn) gets its own.
    parts = (plan.seed, len(transcript.turns)) + ((resample,) if resample else ())
    request = UserTurnRequest(
        episode_id=plan.episode_id,
        question=plan.question,
        history=tuple(transcript.history),
        step=step,
        seed=derive_seed(*parts),
    )
    return await _request_turn(source, request)


async def _request_turn(source: TurnSource, request: UserTurnRequest) -> UserTurn:
    try:
        return await source.request(request)
    except (SimulatorError, AuthenticationError):
        raise  # a refused simulator key stops the run like a refused target key
    except TargetError as exc:  # a prompted simulator's own target failed
        raise SimulatorError(f"simulator call failed: {exc}", attempts=exc.attempts) from exc


async def _answer_alone(
    plan: EpisodePlan, source: TurnSource, clock: Clock, transcript: _Transcript
) -> ParsedAnswer:
    """The user answers alone: one simulator call, no assistant; the turn is recorded."""
    request = UserTurnRequest(
        episode_id=plan.episode_id,
        question=plan.question,
        history=(),
        step=SimulatorStep.ALONE,
        seed=derive_seed(plan.seed, "alone"),
    )
    requested_at = clock.now()
    try:
        turn = await _request_turn(source, request)
    except SimulatorError as exc:
        transcript.add_failed_user(exc, requested_at, clock.now())
        raise
    transcript.add_user(turn.text, requested_at, turn, clock.now())
    final = interpret_user_turn(turn.text, SimulatorStep.ALONE).final
    transcript.alone = final if final is not None else ParsedAnswer(None, "none")
    return transcript.alone


def _target_request(settings: EpisodeSettings, history: list[Message]) -> TargetRequest:
    messages = tuple(history)
    if settings.system_prompt is not None:
        messages = (Message(Role.SYSTEM, settings.system_prompt), *messages)
    return TargetRequest(
        messages=messages,
        temperature=settings.temperature,
        max_tokens=settings.max_tokens,
        stream=settings.stream,
    )


async def _converse(
    plan: EpisodePlan,
    settings: EpisodeSettings,
    source: TurnSource,
    caller: TargetCaller,
    clock: Clock,
    transcript: _Transcript,
    deadline: float | None,
) -> tuple[ParsedAnswer, TerminationReason]:
    """Run turns until the user answers. Raises on simulator/target failure."""
    while True:
        step = next_step(transcript.user_messages, settings.max_turns)
        requested_at = clock.now()
        for resample in range(EMPTY_TURN_RESAMPLES + 1):
            try:
                turn = await _user_turn(source, plan, transcript, step, resample)
            except SimulatorError as exc:
                transcript.add_failed_user(exc, requested_at, clock.now())
                raise
            decision = interpret_user_turn(turn.text, step)
            if decision.final is not None or decision.message:
                break
            transcript.empty_resamples += 1
        transcript.add_user(turn.text, requested_at, turn, clock.now())
        if decision.final is not None:
            return decision.final, termination_for(decision.final, step)
        message = decision.message or ""
        if not message:
            raise SimulatorError(
                f"the simulator produced an empty user message {EMPTY_TURN_RESAMPLES + 1} times"
            )
        transcript.history.append(Message(Role.USER, message))
        transcript.user_messages += 1
        requested_at = clock.now()
        try:
            reply = await caller.call(
                _target_request(settings, transcript.history), deadline=deadline
            )
        except AuthenticationError:
            raise
        except TargetError as exc:
            transcript.add_failed_assistant(exc, requested_at, clock.now())
            raise
        transcript.add_assistant(reply)


async def _play(
    plan: EpisodePlan,
    settings: EpisodeSettings,
    source: TurnSource,
    caller: TargetCaller,
    clock: Clock,
    transcripts: tuple[_Transcript, _Transcript],
    deadline: float | None,
) -> tuple[ParsedAnswer, TerminationReason]:
    """The episode as its condition has it (module doc); ``transcripts`` = (alone, talk)."""
    alone, talk = transcripts
    if settings.condition == "user-alone":
        answer = await _answer_alone(plan, source, clock, talk)  # the episode's only turn
        return answer, termination_for(answer, SimulatorStep.ALONE)
    if settings.condition == "answer-first":
        await _answer_alone(plan, source, clock, alone)
    return await _converse(plan, settings, source, caller, clock, talk, deadline)


def _initial_fields(plan: EpisodePlan, alone: _Transcript) -> dict[str, Any]:
    """``answer-first``'s answer alone, as record fields (empty in other conditions)."""
    if not alone.turns and alone.alone is None:
        return {}
    answer = alone.alone
    return {
        "initial_turn": alone.turns[0] if alone.turns else None,
        "initial_answer": None if answer is None else answer.letter,
        "initial_answer_method": None if answer is None else answer.method,
        "initial_correct": None if answer is None else answer.letter == plan.question.gold,
    }


def _extra(alone: _Transcript, talk: _Transcript) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if talk.empty_resamples:
        extra["empty_user_turns"] = talk.empty_resamples
    replicas = list(dict.fromkeys([*alone.replicas, *talk.replicas]))
    if replicas:
        extra["simulator_replicas"] = replicas
    return extra


async def run_episode(
    plan: EpisodePlan,
    settings: EpisodeSettings,
    source: TurnSource,
    caller: TargetCaller,
    clock: Clock,
) -> EpisodeRecord:
    """Run one episode to its end and return its record.

    Raises ``AuthenticationError`` (the run must stop) and cancellation; every other failure
    becomes a record with the matching termination reason.
    """
    alone, transcript = _Transcript(), _Transcript()
    started_at = clock.now()
    answer = ParsedAnswer(None, "none")
    error: str | None = None
    deadline = None if settings.timeout is None else started_at + settings.timeout
    # The caller honours the deadline itself (and keeps the failed turn's attempts); the
    # scope is a backstop for time spent outside target calls (the simulator).
    backstop = None if settings.timeout is None else settings.timeout + _BACKSTOP_SLACK
    scope: anyio.CancelScope | None = None
    try:
        with anyio.fail_after(backstop) as scope:
            answer, reason = await _play(
                plan, settings, source, caller, clock, (alone, transcript), deadline
            )
    except DeadlineExceededError as exc:  # the caller would not start or finish in time
        reason, error = TerminationReason.TIMEOUT, f"episode deadline reached: {exc}"
    except AuthenticationError:
        raise
    except TargetError as exc:
        reason, error = TerminationReason.TARGET_ERROR, f"{type(exc).__name__}: {exc}"
    except SimulatorError as exc:
        reason, error = TerminationReason.SIMULATOR_ERROR, f"{type(exc).__name__}: {exc}"
    except TimeoutError:
        if scope is None or not scope.cancel_called:
            raise  # someone else's timeout: not an outcome the record can explain
        reason = TerminationReason.TIMEOUT
        error = f"episode exceeded its {settings.timeout:g}s deadline (outside a target call)"
    return EpisodeRecord(
        run_id=settings.run_id,
        episode_id=plan.episode_id,
        model=plan.model,
        simulator=settings.simulator_spec,
        question_id=plan.question.id,
        subject=plan.question.subject,
        repeat=plan.repeat,
        seed=plan.seed,
        gold=plan.question.gold,
        turns=transcript.turns,
        final_answer=answer.letter,
        answer_method=answer.method,
        correct=answer.letter is not None and answer.letter == plan.question.gold,
        termination=reason,
        user_messages=transcript.user_messages,
        started_at=started_at,
        ended_at=clock.now(),
        error=scrub(error)[:2000] if error else None,
        extra=_extra(alone, transcript),
        condition=settings.condition,
        **_initial_fields(plan, alone),
    )
