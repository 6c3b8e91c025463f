"""``mailmind eval compare OLD NEW``: per system and metric, the delta, whether the new value
lies outside the old interval (and the intervals do not overlap), and - when both runs scored
the same examples - a paired bootstrap of the difference, which is far more sensitive."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from evals.harness.report import Report
from evals.harness.stats import paired_bootstrap


class MetricDelta(BaseModel):
    """One metric of one system in two runs."""

    system: str
    metric: str
    old: float | None
    new: float | None
    delta: float | None
    old_ci: list[float] | None
    new_ci: list[float] | None
    #: The new value lies outside the old interval.
    outside_old_interval: bool
    #: The two intervals do not overlap.
    intervals_disjoint: bool
    #: Paired bootstrap over the shared examples (``None`` when the examples differ).
    paired_ci: list[float] | None = None
    paired_p: float | None = None
    significant: bool
    better: bool | None = None


class Comparison(BaseModel):
    """All deltas between two reports of one suite."""

    suite: str
    old: dict[str, Any]
    new: dict[str, Any]
    paired: bool
    deltas: list[MetricDelta]


def compare_reports(old: Report, new: Report) -> Comparison:
    """Compare ``new`` to ``old`` (same suite; systems and metrics present in both)."""
    from core.errors import InputError

    if old.suite != new.suite:
        raise InputError(f"cannot compare suite {old.suite!r} with suite {new.suite!r}")
    paired = bool(old.example_ids) and old.example_ids == new.example_ids
    deltas: list[MetricDelta] = []
    names = {s.name for s in new.systems}
    for o in old.systems:
        if o.name not in names:
            continue
        n = new.system(o.name)
        for metric, os_ in o.metrics.items():
            ns = n.metrics.get(metric)
            if ns is None:
                continue
            delta = None if os_.value is None or ns.value is None else ns.value - os_.value
            outside = bool(
                ns.value is not None and os_.lo is not None and os_.hi is not None
                and not (os_.lo <= ns.value <= os_.hi)
            )  # fmt: skip
            disjoint = bool(
                None not in (os_.lo, os_.hi, ns.lo, ns.hi) and (ns.lo > os_.hi or ns.hi < os_.lo)  # type: ignore[operator]
            )
            pci: list[float] | None = None
            p: float | None = None
            if paired and metric in o.per_example and metric in n.per_example:
                pd = paired_bootstrap(o.per_example[metric], n.per_example[metric])
                pci, p = [round(pd.lo, 4), round(pd.hi, 4)], round(pd.p_value, 4)
                significant = pd.significant
            else:
                significant = disjoint
            better = None
            if delta is not None and delta != 0:
                lower = metric in new.lower_is_better
                better = (delta < 0) if lower else (delta > 0)
            deltas.append(
                MetricDelta(
                    system=o.name,
                    metric=metric,
                    old=os_.value,
                    new=ns.value,
                    delta=None if delta is None else round(delta, 4),
                    old_ci=os_.ci(),
                    new_ci=ns.ci(),
                    outside_old_interval=outside,
                    intervals_disjoint=disjoint,
                    paired_ci=pci,
                    paired_p=p,
                    significant=significant,
                    better=better,
                )
            )

    def info(r: Report) -> dict[str, Any]:
        return {"created_at": r.meta.created_at, "git_commit": r.meta.git_commit, "n": r.n,
                "model": r.meta.model, "prompts": r.meta.prompts,
                "dataset_fingerprint": r.meta.dataset_fingerprint}  # fmt: skip

    return Comparison(suite=new.suite, old=info(old), new=info(new), paired=paired, deltas=deltas)


def format_comparison(c: Comparison) -> str:
    """Console table of a comparison; ``*`` marks a significant change."""
    kind = "paired bootstrap" if c.paired else "interval overlap (examples differ)"
    lines = [f"{c.suite}: old {c.old['git_commit']} -> new {c.new['git_commit']}; test: {kind}"]
    lines.append(f"{'system':<22}{'metric':<24}{'old':>9}{'new':>9}{'delta':>9}  sig")
    for d in c.deltas:

        def f(x: float | None) -> str:
            return "-" if x is None else f"{x:.3f}"

        mark = "*" if d.significant else ""
        arrow = {True: " better", False: " worse", None: ""}[d.better] if d.significant else ""
        lines.append(
            f"{d.system:<22}{d.metric:<24}{f(d.old):>9}{f(d.new):>9}{f(d.delta):>9}  {mark}{arrow}"
        )
    return "\n".join(lines)
