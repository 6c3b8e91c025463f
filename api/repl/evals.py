"""``/eval``: run the eval suite registered for a prompt on the REPL's working copy.

``api`` never imports ``evals``: suites are found through the ``mailmind.prompt_evals``
entry-point group (name = prompt name, value = a callable
``run(prompt, *, limit, services) -> report``). The report's shape::

    {"suite": str, "n": int, "metric": str, "score": float, "ci": [lo, hi],
     "baselines": [{"name": str, "score": float, "ci": [lo, hi]}],
     "saved": {"score": float, "ci": [lo, hi], "version": str | None} | None}
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from core.errors import InputError, ModelError
from core.tracing import span
from prompts.render import Prompt, prompt_overrides

if TYPE_CHECKING:
    from api.services import Services

GROUP = "mailmind.prompt_evals"
EvalRunner = Callable[..., dict[str, Any]]


class NoEvalSuiteError(InputError):
    """No eval suite is registered for a prompt."""

    code = "no_eval_suite"


def find_eval_runner(name: str) -> EvalRunner | None:
    """The runner registered for prompt ``name``, or ``None``."""
    for ep in entry_points(group=GROUP):
        if ep.name == name:
            runner: EvalRunner = ep.load()
            return runner
    return None


def registered_suites() -> list[str]:
    """Names of the prompts that have an eval suite."""
    return sorted({ep.name for ep in entry_points(group=GROUP)})


def run_eval(prompt: Prompt, *, limit: int, services: Services) -> dict[str, Any]:
    """Run ``prompt``'s suite on ``limit`` examples with ``prompt`` in place of the saved file
    (every ``load_prompt(prompt.name)`` during the run returns it)."""
    if limit < 1:
        raise InputError("/eval N needs N >= 1")
    runner = find_eval_runner(prompt.name)
    if runner is None:
        known = ", ".join(registered_suites()) or "none"
        raise NoEvalSuiteError(
            f"no eval suite is registered for prompt {prompt.name!r} (entry-point group "
            f"{GROUP}); prompts with one: {known}"
        )
    with (
        span("repl.eval", attributes={"mailmind.prompt": prompt.id, "mailmind.eval.n": limit}),
        prompt_overrides({prompt.name: prompt}),
    ):
        report = runner(prompt, limit=limit, services=services)
    missing = [k for k in ("suite", "n", "metric", "score", "ci") if k not in report]
    if missing:
        raise ModelError(f"eval suite for {prompt.name} returned a report without {missing}")
    return report


def score_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows for the scores table: the working copy, the saved baseline, then the suite's
    baselines, each with its score, interval and the working copy's delta against it."""
    score = float(report["score"])
    rows = [{"name": "working copy", "score": score, "ci": report.get("ci"), "delta": None}]
    saved = report.get("saved")
    if saved:
        label = f"saved baseline ({saved.get('version') or 'unversioned'})"
        rows.append({"name": label, "score": float(saved["score"]), "ci": saved.get("ci"),
                     "delta": score - float(saved["score"])})  # fmt: skip
    for b in report.get("baselines") or []:
        rows.append({"name": str(b["name"]), "score": float(b["score"]), "ci": b.get("ci"),
                     "delta": score - float(b["score"])})  # fmt: skip
    return rows
