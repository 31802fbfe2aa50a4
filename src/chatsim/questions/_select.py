"""Ordering and seeded, subject-stratified sampling of questions."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

from chatsim._exceptions import ConfigError
from chatsim.questions._model import Question

__all__ = ["allocate", "id_sort_key", "sample_stratified"]

_DIGITS = re.compile(r"(\d+)")


def id_sort_key(question: Question) -> tuple[tuple[int, int | str], ...]:
    """Natural order of ids: ``x-test-2`` before ``x-test-10``."""
    parts = _DIGITS.split(question.id)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def allocate(sizes: dict[str, int], limit: int, seed: int) -> dict[str, int]:
    """How many questions each subject contributes to ``limit``: as even as sizes allow.

    Each subject gets ``limit // n``; the remainder goes one each to subjects in a seeded
    order; a subject with too few questions gives its shortfall to the others.
    """
    order = sorted(s for s, size in sizes.items() if size > 0)
    random.Random(f"chatsim-allocate:{seed}").shuffle(order)
    taken = dict.fromkeys(sizes, 0)
    remaining = min(limit, sum(sizes.values()))
    while remaining > 0:
        share, extra = divmod(remaining, len(order))
        for i, subject in enumerate(order):
            add = min(share + (i < extra), sizes[subject] - taken[subject])
            taken[subject] += add
            remaining -= add
        order = [s for s in order if taken[s] < sizes[s]]
    return taken


def sample_stratified(
    questions: Iterable[Question], limit: int | None, seed: int
) -> list[Question]:
    """``limit`` questions spread evenly over subjects (seeded), sorted by id; all if None.

    Each subject samples with its own generator (seeded by ``seed`` and the subject name), so
    a subject's pick does not change when other subjects are added to the subset.
    """
    pool = sorted(questions, key=id_sort_key)
    if limit is None:
        return pool
    if limit < 1:
        raise ConfigError(f"limit must be at least 1, got {limit}")
    by_subject: dict[str, list[Question]] = {}
    for question in pool:
        by_subject.setdefault(question.subject, []).append(question)
    counts = allocate({s: len(qs) for s, qs in by_subject.items()}, limit, seed)
    picked: list[Question] = []
    for subject, subject_questions in by_subject.items():
        rng = random.Random(f"chatsim-sample:{seed}:{subject}")
        picked += rng.sample(subject_questions, counts[subject])
    return sorted(picked, key=id_sort_key)
