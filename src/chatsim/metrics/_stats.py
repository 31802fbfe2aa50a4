"""Confidence intervals that treat questions as the unit.

Repeats of one question are correlated (same question, same difficulty), so an interval over
episodes would be too narrow. Every interval here is computed from per-question values:

- ``cluster_bootstrap``: resample questions with replacement (each question carries all its
  episodes), take the mean of the per-question accuracies, and read the percentiles. The
  default: it needs no normality assumption, stays inside [0, 1] by construction and is
  asymmetric near 0 or 1, where accuracies of strong models live.
- ``se``: mean ± t(n-1) × standard error over questions, clipped to [0, 1] — what ChatBench
  reported. Slightly wider than the bootstrap for few questions (the t quantile), and symmetric.

With fewer than two questions there is no spread to estimate: the bounds are None and a note
says why, never a fake interval.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

__all__ = [
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "Interval",
    "IntervalMethod",
    "bootstrap_means",
    "cluster_bootstrap_interval",
    "interval",
    "keeping_draws",
    "paired_bootstrap",
    "se_interval",
    "sign_flip_p_value",
]

IntervalMethod = Literal["cluster_bootstrap", "se"]

#: Bootstrap resamples; 2000 keeps the Monte-Carlo error of a 95% bound well under a point.
DEFAULT_RESAMPLES = 2000
#: Fixed seed so that a report recomputed from the same records shows the same interval.
DEFAULT_SEED = 20250101
# Cap on the (resamples x questions) index matrix drawn at once, to bound memory.
_CHUNK_CELLS = 2_000_000

FloatArray = npt.NDArray[np.float64]


class Interval(BaseModel):
    """A confidence interval; ``low``/``high`` are None when it cannot be estimated."""

    model_config = ConfigDict(frozen=True)

    low: float | None
    high: float | None
    method: IntervalMethod
    confidence: float = 0.95
    note: str | None = None
    """Why the interval is missing or degenerate, in words."""


def _degenerate(values: FloatArray, method: IntervalMethod, confidence: float) -> Interval | None:
    n = len(values)
    if n == 0:
        return Interval(low=None, high=None, method=method, confidence=confidence, note="no data")
    if n == 1:
        note = "one question only: no interval over questions can be estimated"
        return Interval(low=None, high=None, method=method, confidence=confidence, note=note)
    return None


# The draws of the last (questions, resamples, seed), per kind, inside ``keeping_draws``: a
# summary computes dozens of intervals and tests over the same questions with the same seed
# (each model, subject, condition, pair), and the seeded draws are the same for all of them,
# so they are drawn once and only the arithmetic on them differs. Kept small (question
# indices in 2 bytes below 65,536 questions, signs in a bit): 106 MB at 25,000 questions and
# 2,000 resamples, so only while a summary or comparison runs. At most ``_CACHE_CELLS``
# cells a kind are kept.
_CACHE_CELLS = 64_000_000
_kept: dict[str, tuple[tuple[int, int, int], list[npt.NDArray[Any]]]] = {}
_keeping = 0  # open ``keeping_draws`` scopes

# The last intervals computed inside ``keeping_draws``, by (digest of the values, settings):
# a summary asks for the same one several times (a model with one subject is also that
# subject), and each costs a pass over resamples x questions.
_INTERVALS_KEPT = 64
_intervals: OrderedDict[tuple[bytes, float, int, int], Interval] = OrderedDict()


@contextmanager
def keeping_draws() -> Iterator[None]:
    """Keep the seeded draws, and the intervals computed from them, for the intervals and
    tests computed inside (nested scopes share the outermost's); dropped when it ends."""
    global _keeping
    _keeping += 1
    try:
        yield
    finally:
        _keeping -= 1
        if _keeping == 0:
            _kept.clear()
            _intervals.clear()


def _seeded_chunks(
    kind: str,
    shape: tuple[int, int, int],
    draw: Callable[[np.random.Generator, int], npt.NDArray[Any]],
    pack: Callable[[npt.NDArray[Any]], npt.NDArray[Any]],
    unpack: Callable[[npt.NDArray[Any]], npt.NDArray[Any]],
) -> Iterator[npt.NDArray[Any]]:
    """One seeded draw of ``resamples`` x ``n`` (``shape``: n, resamples, seed), chunk by
    chunk: ``draw(rng, rows)`` draws the next ``rows`` rows of one generator, so the chunks
    are those of a single draw. Inside ``keeping_draws`` the last shape's chunks are kept
    per ``kind`` as ``pack`` makes them, and given back as ``unpack`` restores them."""
    n, resamples, seed = shape
    found = _kept.get(kind)
    if found is not None and found[0] == shape:
        for chunk in found[1]:
            yield unpack(chunk)
        return
    keep = _keeping > 0 and n * resamples <= _CACHE_CELLS
    chunks: list[npt.NDArray[Any]] = []
    rng = np.random.default_rng(seed)
    rows = max(1, _CHUNK_CELLS // max(n, 1))
    for start in range(0, resamples, rows):
        chunk = draw(rng, min(resamples, start + rows) - start)
        if keep:
            chunks.append(pack(chunk))
        yield chunk
    if keep:
        _kept[kind] = (shape, chunks)
    else:
        _kept.pop(kind, None)


def _draws(n: int, resamples: int, seed: int) -> Iterator[npt.NDArray[np.integer]]:
    """The resampled question indices: ``rng.integers(0, n, (resamples, n))``, in chunks
    (kept in 2 bytes each below 65,536 questions)."""
    small = np.uint16 if n <= 2**16 else np.uint32
    return _seeded_chunks(
        "draws",
        (n, resamples, seed),
        lambda rng, rows: rng.integers(0, n, size=(rows, n)),
        lambda chunk: chunk.astype(small),
        lambda kept: kept,  # indexes as it is
    )


def bootstrap_means(values: FloatArray, resamples: int, seed: int) -> FloatArray:
    """Means of ``resamples`` resamples (with replacement) of ``values``; seeded, vectorised."""
    out = np.empty(resamples, dtype=np.float64)
    start = 0
    for idx in _draws(len(values), resamples, seed):
        out[start : start + len(idx)] = values[idx].mean(axis=1)
        start += len(idx)
    return out


def _note_if_flat(values: FloatArray) -> str | None:
    if np.ptp(values) == 0:
        return "every question had the same accuracy: the interval has zero width"
    return None


def cluster_bootstrap_interval(
    values: FloatArray,
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Percentile interval of the mean of per-question ``values`` over question resamples."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    bad = _degenerate(values, "cluster_bootstrap", confidence)
    if bad is not None:
        return bad
    if not _keeping:
        return _bootstrap_interval(values, confidence, resamples, seed)
    key = (hashlib.blake2b(values.data, digest_size=16).digest(), confidence, resamples, seed)
    if key in _intervals:
        _intervals.move_to_end(key)
        return _intervals[key]
    _intervals[key] = found = _bootstrap_interval(values, confidence, resamples, seed)
    if len(_intervals) > _INTERVALS_KEPT:
        _intervals.popitem(last=False)
    return found


def _bootstrap_interval(
    values: FloatArray, confidence: float, resamples: int, seed: int
) -> Interval:
    means = bootstrap_means(values, resamples, seed)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return Interval(
        low=float(low),
        high=float(high),
        method="cluster_bootstrap",
        confidence=confidence,
        note=_note_if_flat(values),
    )


def se_interval(
    values: FloatArray, *, confidence: float = 0.95, lower: float = 0.0, upper: float = 1.0
) -> Interval:
    """Mean ± t(n-1, (1+confidence)/2) × sd(values, ddof=1)/√n, clipped to [lower, upper]."""
    from scipy import stats  # lazy: scipy.stats costs ~0.3 s to import

    values = np.asarray(values, dtype=np.float64)
    bad = _degenerate(values, "se", confidence)
    if bad is not None:
        return bad
    n = len(values)
    mean = float(values.mean())
    se = float(values.std(ddof=1)) / math.sqrt(n)
    half = float(stats.t.ppf((1.0 + confidence) / 2.0, df=n - 1)) * se
    return Interval(
        low=max(lower, mean - half),
        high=min(upper, mean + half),
        method="se",
        confidence=confidence,
        note=_note_if_flat(values),
    )


def interval(
    values: FloatArray,
    method: IntervalMethod = "cluster_bootstrap",
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """The interval of the mean of per-question ``values`` by ``method``."""
    if method == "se":
        return se_interval(values, confidence=confidence)
    return cluster_bootstrap_interval(values, confidence=confidence, resamples=resamples, seed=seed)


EXACT_SIGN_FLIP_MAX = 16
"""Up to this many questions the sign-flip test enumerates all 2**n patterns exactly."""


def sign_flip_p_value(
    diffs: FloatArray, *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> float | None:
    """Two-sided p-value of "the paired differences are symmetric around 0".

    Under no difference each question's difference is as likely to have either sign, so the
    p-value is the share of sign patterns whose |mean| reaches the observed one: exact for up
    to ``EXACT_SIGN_FLIP_MAX`` questions, Monte Carlo (seeded, +1 corrected) beyond.
    """
    diffs = np.asarray(diffs, dtype=np.float64)
    n = diffs.size
    if n == 0:
        return None
    observed = abs(float(diffs.mean())) - 1e-12
    if n <= EXACT_SIGN_FLIP_MAX:
        patterns = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1)
        means = np.abs(patterns @ diffs) / n
        return float(np.count_nonzero(means >= observed) / means.size)
    reached = 0
    for signs in _signs(n, resamples, seed):
        reached += int(np.count_nonzero(np.abs(signs @ diffs) / n >= observed))
    return float((reached + 1) / (resamples + 1))


def _signs(n: int, resamples: int, seed: int) -> Iterator[FloatArray]:
    """The random signs of the sign-flip test (±1.0, ``resamples`` x ``n``), in chunks
    (kept as bits: 6 MB at 25,000 questions and 2,000 resamples)."""
    signs = np.array([-1.0, 1.0])
    return _seeded_chunks(
        "signs",
        (n, resamples, seed),
        lambda rng, rows: rng.choice(signs, size=(rows, n)),
        lambda chunk: np.packbits(chunk > 0, axis=1),
        lambda bits: _unpack_signs(bits, n),
    )


def _unpack_signs(bits: npt.NDArray[np.uint8], n: int) -> FloatArray:
    """±1.0 from packed bits (1: +1): in int8 and then one conversion, 2.5x faster than a
    lookup of the bits."""
    signs = np.unpackbits(bits, axis=1, count=n).view(np.int8)
    signs *= 2
    signs -= 1
    return signs.astype(np.float64)


def paired_bootstrap(
    diffs: FloatArray,
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[Interval, float | None]:
    """Interval and two-sided p-value for the mean of paired per-question differences.

    The questions are resampled together for both sides (the pairing), so question
    difficulty cancels. The p-value comes from a sign-flip permutation test
    (``sign_flip_p_value``), which stays honest with few questions where the bootstrap's
    tails do not (3 questions all won: bootstrap p≈0.001, exact p=0.25).
    """
    diffs = np.asarray(diffs, dtype=np.float64)
    bad = _degenerate(diffs, "cluster_bootstrap", confidence)
    if bad is not None:
        return bad, None
    means = bootstrap_means(diffs, resamples, seed)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    p_value = sign_flip_p_value(diffs, resamples=resamples, seed=seed)
    note = None
    if np.ptp(diffs) == 0:
        note = "every question had the same difference: the interval has zero width"
    iv = Interval(
        low=float(low),
        high=float(high),
        method="cluster_bootstrap",
        confidence=confidence,
        note=note,
    )
    return iv, p_value
