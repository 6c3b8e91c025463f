"""Prompt evals for the REPL's ``/eval`` (entry-point group ``mailmind.prompt_evals``).

Each entry point is ``run(prompt, *, limit, services) -> dict``: it runs the suite that measures
the prompt through the normal agent code path (which loads prompts by name, so an override the
REPL has active is what gets measured) and returns our score, the baselines and the last saved
score of the prompt (``evals/baselines/prompts.json``, written by ``scripts/eval_results.py``
after ``make eval``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.services import Services
    from prompts.render import Prompt

#: Saved scores per prompt name: {"suite", "metric", "score", "ci", "version"}.
SAVED = Path(__file__).resolve().parent / "baselines" / "prompts.json"

#: Prompt name -> (suite, metric) that measures it.
PROMPT_SUITES: dict[str, tuple[str, str]] = {
    "summarize_message": ("subject-lines", "rouge1"),  # scored on the model_subject row
    "summarize_thread": ("summaries", "rouge1"),
    "summarize_partial": ("summaries", "rouge1"),
    "assistant_args": ("agent", "fact_recall"),
    "assistant_answer": ("agent", "fact_recall"),
    "assistant_chat": ("agent", "fact_recall"),
}


#: Prompts measured on a row other than the suite's own system.
PROMPT_SYSTEMS: dict[str, str] = {"summarize_message": "model_subject"}


def saved_score(name: str, path: Path = SAVED) -> dict[str, Any] | None:
    """The last saved ``{"score", "ci", "version"}`` of prompt ``name`` (``None`` if none)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    entry = data.get(name)
    if not isinstance(entry, dict) or "score" not in entry:
        return None
    return {"score": entry["score"], "ci": entry.get("ci"), "version": entry.get("version")}


def evaluate_prompt(prompt: Prompt, *, limit: int, services: Services) -> dict[str, Any]:
    """Run the suite measuring ``prompt`` on ``limit`` examples (see the module docstring)."""
    from core.errors import InputError
    from evals.eval_cli import run_suite

    if prompt.name not in PROMPT_SUITES:
        raise InputError(f"no eval suite measures prompt {prompt.name!r}")
    suite, metric = PROMPT_SUITES[prompt.name]
    report = run_suite(suite, services.settings, limit=limit, services=services)
    # summarize_message: the product extracts subjects, so the prompt's own output is the
    # model_subject row; every other prompt is measured by the suite's own system.
    system = (
        report.system(PROMPT_SYSTEMS[prompt.name]) if prompt.name in PROMPT_SYSTEMS else report.ours
    )
    ours = system.metrics[metric]
    baselines = [
        {"name": s.name, "score": s.metrics[metric].value, "ci": s.metrics[metric].ci()}
        for s in report.systems
        if s.role == "baseline" and metric in s.metrics
    ]
    return {
        "suite": suite, "n": report.n, "metric": metric, "score": ours.value, "ci": ours.ci(),
        "baselines": baselines, "saved": saved_score(prompt.name),
    }  # fmt: skip
