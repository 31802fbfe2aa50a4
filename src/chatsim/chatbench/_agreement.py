"""Agreement of a predictor with human user–AI accuracy over questions: Pearson r and MAE.

Intervals are percentile bootstraps over questions (questions resampled with replacement,
seeded), the paper's unit of analysis. A resample whose values are all equal has no
correlation; it is left out of r's percentiles (``note`` says how many). With fewer than
three questions there is no interval, and with fewer than two no r: the bounds are None and
``note`` says why, never a made-up number.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

__all__ = ["DEFAULT_RESAMPLES", "DEFAULT_SEED", "Agreement", "agreement"]

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 20250101
_CHUNK = 500  # resamples per batch, to bound the (resamples x questions) matrices

FloatArray = npt.NDArray[np.float64]


class Agreement(BaseModel):
    """One row of the calibration table: a predictor against human user–AI accuracy."""

    model_config = ConfigDict(frozen=True)

    predictor: str
    """What predicts human user–AI accuracy: ``simulated``, ``ai-alone`` or ``user-alone``."""
    questions: int
    """Questions with both values."""
    r: float | None
    """Pearson correlation over questions (None: fewer than two questions, or no spread)."""
    r_low: float | None
    r_high: float | None
    mae: float | None
    """Mean absolute error over questions, in accuracy (0–1)."""
    mae_low: float | None
    mae_high: float | None
    confidence: float = 0.95
    note: str | None = None


def _rows_r(x: FloatArray, y: FloatArray) -> FloatArray:
    """Pearson r of each row pair; NaN where a row has no spread."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    denom = np.sqrt((xc * xc).sum(axis=1) * (yc * yc).sum(axis=1))
    num = (xc * yc).sum(axis=1)
    out = np.full(num.shape, np.nan)
    ok = denom > 1e-12
    out[ok] = num[ok] / denom[ok]
    return np.clip(out, -1.0, 1.0)


def _bootstrap(
    x: FloatArray, y: FloatArray, resamples: int, seed: int
) -> tuple[FloatArray, FloatArray]:
    rng = np.random.default_rng(seed)
    rs: list[FloatArray] = []
    maes: list[FloatArray] = []
    for start in range(0, resamples, _CHUNK):
        idx = rng.integers(0, len(x), size=(min(_CHUNK, resamples - start), len(x)))
        xs, ys = x[idx], y[idx]
        rs.append(_rows_r(xs, ys))
        maes.append(np.abs(xs - ys).mean(axis=1))
    return np.concatenate(rs), np.concatenate(maes)


def agreement(
    predictor: str,
    predicted: list[float] | FloatArray,
    human: list[float] | FloatArray,
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Agreement:
    """Pearson r and MAE of ``predicted`` against ``human`` (one value per question)."""
    x = np.asarray(predicted, dtype=np.float64)
    y = np.asarray(human, dtype=np.float64)
    n = len(x)
    if n != len(y):
        raise ValueError(f"{n} predicted values but {len(y)} human values")
    base = {"predictor": predictor, "questions": n, "confidence": confidence}
    if n == 0:
        return Agreement(
            **base, r=None, r_low=None, r_high=None, mae=None, mae_low=None, mae_high=None,
            note="no question has both values",
        )  # fmt: skip
    r_all = _rows_r(x[None, :], y[None, :])[0]
    r = None if np.isnan(r_all) else float(r_all)
    mae = float(np.abs(x - y).mean())
    notes = [] if r is not None else ["no spread in one of the two: r is undefined"]
    if n < 3:
        notes.append(f"{n} question(s): too few for an interval")
        return Agreement(
            **base, r=r, r_low=None, r_high=None, mae=mae, mae_low=None, mae_high=None,
            note="; ".join(notes),
        )  # fmt: skip
    rs, maes = _bootstrap(x, y, resamples, seed)
    tail = (1 - confidence) / 2 * 100
    lo_hi = [tail, 100 - tail]
    mae_low, mae_high = (float(v) for v in np.percentile(maes, lo_hi))
    valid = rs[~np.isnan(rs)]
    if len(valid) < resamples:
        notes.append(f"{resamples - len(valid)} of {resamples} resamples had no spread")
    r_low = r_high = None
    if r is not None and len(valid) >= 2:
        r_low, r_high = (float(v) for v in np.percentile(valid, lo_hi))
    return Agreement(
        **base, r=r, r_low=r_low, r_high=r_high, mae=mae, mae_low=mae_low, mae_high=mae_high,
        note="; ".join(notes) or None,
    )  # fmt: skip
