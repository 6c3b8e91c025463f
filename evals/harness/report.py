"""The one report every suite returns: run metadata, systems (ours, baselines, variants) with a
95% bootstrap interval per metric, per-example scores (for paired comparisons) and breakdowns.

JSON round-trips through :meth:`Report.model_validate_json`, so ``mailmind eval compare`` reads
what ``--out`` wrote."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from evals.harness.stats import Statistic, bootstrap_ci

Role = Literal["ours", "baseline", "variant"]


class Score(BaseModel):
    """One metric of one system: the estimate and its 95% interval (``None``: no data)."""

    value: float | None
    lo: float | None = None
    hi: float | None = None

    @classmethod
    def of(cls, values: Sequence[float], *, stat: Statistic | None = None) -> Score:
        """Mean (or ``stat``) of ``values`` with its bootstrap interval."""
        ci = bootstrap_ci(values) if stat is None else bootstrap_ci(values, stat=stat)
        clean = [None if math.isnan(x) else round(x, 4) for x in (ci.value, ci.lo, ci.hi)]
        return cls(value=clean[0], lo=clean[1], hi=clean[2])

    def ci(self) -> list[float] | None:
        """``[lo, hi]``, or ``None`` without data."""
        return None if self.lo is None or self.hi is None else [self.lo, self.hi]


class SystemResult(BaseModel):
    """One system measured by a suite."""

    name: str
    role: Role
    description: str = ""
    metrics: dict[str, Score]
    #: Per-example values of each averaged metric, in ``Report.example_ids`` order.
    per_example: dict[str, list[float]] = Field(default_factory=dict)
    #: Category -> metric -> mean (e.g. agent task categories).
    breakdown: dict[str, dict[str, float | None]] = Field(default_factory=dict)


class RunMeta(BaseModel):
    """What a result depends on, so two reports can be told apart."""

    suite: str
    created_at: str
    model: str | None = None
    runtime: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    #: Prompt name -> version of every prompt the measured path renders.
    prompts: dict[str, int] = Field(default_factory=dict)
    dataset: str | None = None
    dataset_fingerprint: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    machine: dict[str, Any] = Field(default_factory=dict)
    seconds: float | None = None
    command: str | None = None


class Report(BaseModel):
    """A suite's result (see the module docstring)."""

    suite: str
    #: The headline metric (first column of tables, the bar chart, README).
    primary_metric: str
    #: Metrics where lower is better (latency, unsupported claims...).
    lower_is_better: list[str] = Field(default_factory=list)
    n: int
    example_ids: list[str] = Field(default_factory=list)
    systems: list[SystemResult]
    meta: RunMeta
    #: Latency samples (seconds) per system or capability, for the distribution chart.
    latencies: dict[str, list[float]] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)

    def system(self, name: str) -> SystemResult:
        """The system called ``name`` (KeyError naming the known ones otherwise)."""
        for s in self.systems:
            if s.name == name:
                return s
        raise KeyError(f"no system {name!r}; known: {[s.name for s in self.systems]}")

    @property
    def ours(self) -> SystemResult:
        """The first system with role ``ours``."""
        return next(s for s in self.systems if s.role == "ours")

    @property
    def metric_names(self) -> list[str]:
        """Every metric some system reports, primary first, in first-seen order."""
        names = [self.primary_metric]
        for s in self.systems:
            names += [m for m in s.metrics if m not in names]
        return names


def system_from_rows(
    name: str,
    role: Role,
    rows: Sequence[Mapping[str, float]],
    *,
    description: str = "",
    categories: Sequence[str] | None = None,
    keep_per_example: bool = True,
) -> SystemResult:
    """A system whose metrics are the means of per-example ``rows`` (one dict per example,
    same keys), each with its bootstrap interval; ``categories`` (aligned with ``rows``) adds a
    per-category breakdown of the means."""
    keys = list(rows[0]) if rows else []
    metrics = {k: Score.of([float(r[k]) for r in rows]) for k in keys}
    per_example = {k: [round(float(r[k]), 5) for r in rows] for k in keys}
    breakdown: dict[str, dict[str, float | None]] = {}
    if categories is not None:
        for cat in dict.fromkeys(categories):
            members = [r for r, c in zip(rows, categories, strict=True) if c == cat]
            breakdown[cat] = {
                k: round(sum(float(r[k]) for r in members) / len(members), 4) for k in keys
            }
    return SystemResult(
        name=name, role=role, description=description, metrics=metrics,
        per_example=per_example if keep_per_example else {}, breakdown=breakdown,
    )  # fmt: skip
