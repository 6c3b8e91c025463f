"""The evaluation harness: one report shape for every suite (``Report``), bootstrap intervals,
run metadata, dataset format checks, report files and comparisons."""

from evals.harness.report import Report, RunMeta, Score, SystemResult, system_from_rows
from evals.harness.stats import Interval, PairedDelta, bootstrap_ci, paired_bootstrap

__all__ = [
    "Interval",
    "PairedDelta",
    "Report",
    "RunMeta",
    "Score",
    "SystemResult",
    "bootstrap_ci",
    "paired_bootstrap",
    "system_from_rows",
]
