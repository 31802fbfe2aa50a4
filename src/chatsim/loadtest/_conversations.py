"""One load-test conversation: planned from its number, run by ``run_episode``, counted, and
its record (with where it sat in the load) handed to the sink.

A conversation's number is its arrival's index in the stage's schedule (plus the stage's
base), and picks its question and repeat from one seeded shuffle of the questions, so the
same number plans the same episode in one process and on any Ray worker.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from chatsim._exceptions import AuthenticationError
from chatsim._util._clock import Clock
from chatsim.config import LoadTestConfig
from chatsim.loadtest._live_stats import LiveStats
from chatsim.loadtest._stage import StageRun
from chatsim.questions import Question
from chatsim.recording import EpisodeRecord
from chatsim.runner import EpisodePlan, EpisodeSettings, derive_seed, episode_id, run_episode
from chatsim.simulators import TurnSource
from chatsim.targets import TargetCaller

__all__ = ["Conversations"]


class Conversations:
    """Runs conversations for the engine; ``on_auth_error`` stops the run when a key is refused
    (the first such error is kept in ``auth_error``)."""

    def __init__(
        self,
        config: LoadTestConfig,
        *,
        run_id: str,
        simulator_spec: str,
        questions: Sequence[Question],
        caller: TargetCaller,
        source: TurnSource,
        sink: Callable[[EpisodeRecord], None],
        clock: Clock,
        stats: LiveStats,
        on_auth_error: Callable[[], None],
    ) -> None:
        self.config = config
        self.stats = stats
        self.auth_error: AuthenticationError | None = None
        self._clock = clock
        self._caller = caller
        self._source = source
        self._sink = sink
        self._on_auth_error = on_auth_error
        order = list(questions)
        random.Random(derive_seed(config.seed, "questions")).shuffle(order)
        self._questions = order
        self._settings = EpisodeSettings.from_config(
            config, run_id=run_id, simulator_spec=simulator_spec
        )

    def arrive(self, stage: StageRun, scheduled: float) -> None:
        """Count one conversation starting (its scheduled time kept, recorded or not)."""
        stage.arrivals += 1
        stage.scheduled.append(scheduled)
        self.stats.arrivals += 1

    def plan(self, number: int) -> EpisodePlan:
        questions = self._questions
        question = questions[number % len(questions)]
        repeat = number // len(questions)
        model = self.config.model
        seed = derive_seed(self.config.seed, question.id, repeat)
        return EpisodePlan(episode_id(model, question.id, repeat), model, question, repeat, seed)

    async def run(self, stage: StageRun, scheduled: float, user: int | None, number: int) -> None:
        """Conversation ``number`` to its end; cancelled, it leaves no record (abandoned)."""
        stats = self.stats
        stats.in_flight += 1
        record: EpisodeRecord | None = None
        try:
            record = await run_episode(
                self.plan(number), self._settings, self._source, self._caller, self._clock
            )
        except AuthenticationError as exc:  # the key was refused: no point going on
            self.auth_error = self.auth_error or exc
            self._on_auth_error()
        finally:
            stats.in_flight -= 1
            if record is None:
                stage.abandoned += 1
                stats.abandoned += 1
        if record is None:
            return
        stats.completed += 1
        if record.termination.is_error:
            stats.errors += 1
        load: dict[str, Any] = {"stage": stage.index, "load": stage.load}
        load["scheduled_at"] = scheduled
        load["conversation"] = number
        if user is not None:
            load["user"] = user
        self._sink(record.model_copy(update={"extra": {**record.extra, "load": load}}))
