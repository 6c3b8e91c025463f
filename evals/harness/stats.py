"""Bootstrap confidence intervals: one system's score, and the difference of two on the same
examples (paired). Percentile bootstrap with a fixed seed, so a report is reproducible."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: Resamples per interval: enough for a stable 95% percentile interval at report precision.
RESAMPLES = 2000
SEED = 0

Statistic = Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]


def _mean(samples: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(samples.mean(axis=-1), dtype=np.float64)


def percentile_stat(q: float) -> Statistic:
    """A statistic for :func:`bootstrap_ci`: the ``q``-th percentile (0..100) of each resample."""

    def stat(samples: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.asarray(np.percentile(samples, q, axis=-1), dtype=np.float64)

    return stat


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate and its ``level`` confidence interval."""

    value: float
    lo: float
    hi: float

    def contains(self, x: float) -> bool:
        """Whether ``x`` lies inside the interval (bounds included)."""
        return self.lo <= x <= self.hi


def bootstrap_ci(
    values: Sequence[float] | npt.NDArray[np.float64],
    *,
    stat: Statistic = _mean,
    level: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Interval:
    """``stat`` of ``values`` (default: the mean) with a percentile-bootstrap interval.

    An empty sample gives NaN everywhere; a single value gives a zero-width interval."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return Interval(math.nan, math.nan, math.nan)
    point = float(stat(data[None, :])[0])
    rng = np.random.default_rng(seed)
    # Resample in chunks: resamples x n indices can be large for long latency samples.
    stats: list[npt.NDArray[np.float64]] = []
    chunk = max(1, 2_000_000 // data.size)
    for start in range(0, resamples, chunk):
        idx = rng.integers(0, data.size, size=(min(chunk, resamples - start), data.size))
        stats.append(stat(data[idx]))
    dist = np.concatenate(stats)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(dist, [tail, 100 - tail])
    return Interval(point, float(lo), float(hi))


@dataclass(frozen=True, slots=True)
class PairedDelta:
    """Mean difference ``new - old`` over the same examples, its interval and a two-sided
    bootstrap p-value (share of resampled deltas on the other side of zero, doubled)."""

    delta: float
    lo: float
    hi: float
    p_value: float

    @property
    def significant(self) -> bool:
        """Whether the interval excludes zero."""
        return not (self.lo <= 0.0 <= self.hi)


def paired_bootstrap(
    old: Sequence[float],
    new: Sequence[float],
    *,
    level: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> PairedDelta:
    """Paired bootstrap of ``mean(new - old)``: both lists score the same examples in order."""
    a = np.asarray(old, dtype=np.float64)
    b = np.asarray(new, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.size} vs {b.size}")
    if a.size == 0:
        return PairedDelta(math.nan, math.nan, math.nan, math.nan)
    diff = b - a
    ci = bootstrap_ci(diff, level=level, resamples=resamples, seed=seed)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, diff.size, size=(resamples, diff.size))
    dist = diff[idx].mean(axis=1)
    if ci.value == 0.0:
        p = 1.0
    else:
        other_side = float(np.mean(dist <= 0.0)) if ci.value > 0 else float(np.mean(dist >= 0.0))
        p = min(1.0, 2 * other_side)
    return PairedDelta(ci.value, ci.lo, ci.hi, p)
