"""Simulator-side counts: context trimming and resampled empty turns."""

from __future__ import annotations

from chatsim.metrics import simulator_summary, summarize
from chatsim.protocol import Role, TerminationReason
from chatsim.recording import EpisodeRecord, TurnRecord


def _episode(i: int, trimmed: list[bool], empty: int = 0) -> EpisodeRecord:
    turns = []
    for n, flag in enumerate(trimmed):
        turns.append(
            TurnRecord(
                index=2 * n,
                role=Role.USER,
                text="hi",
                requested_at=0,
                started_at=0,
                ended_at=1,
                context_trimmed=flag,
            )
        )
        turns.append(
            TurnRecord(
                index=2 * n + 1,
                role=Role.ASSISTANT,
                text="B",
                requested_at=1,
                started_at=1,
                ended_at=2,
            )
        )
    return EpisodeRecord(
        run_id="r",
        episode_id=f"m|q{i}|0",
        model="m",
        simulator="hf",
        question_id=f"q{i}",
        subject="s",
        repeat=0,
        seed=i,
        gold="B",
        turns=turns[:-1],
        final_answer="B",
        answer_method="explicit",
        correct=True,
        termination=TerminationReason.ANSWERED,
        user_messages=len(trimmed) - 1,
        started_at=0,
        ended_at=2,
        extra={"empty_user_turns": empty} if empty else {},
    )


def test_counts_trimmed_turns_episodes_and_resampled_empties() -> None:
    episodes = [
        _episode(0, [False, True, True]),
        _episode(1, [False, False], empty=2),
        _episode(2, [True]),
    ]
    sim = simulator_summary(episodes)
    assert (sim.user_turns, sim.context_trimmed_turns, sim.context_trimmed_episodes) == (6, 3, 2)
    assert sim.empty_turns_resampled == 2
    assert summarize(episodes).models["m"].simulator == sim


def test_zeros_without_trimming() -> None:
    sim = simulator_summary([_episode(0, [False])])
    assert (sim.context_trimmed_turns, sim.context_trimmed_episodes, sim.empty_turns_resampled) == (
        0,
        0,
        0,
    )
