"""``agent``: the assistant over the demo data on the agent task set (evals/agent/tasks.yaml).

Tasks whose ``note`` says ``split=test`` are the frozen test part (never tuned on); the rest is
the dev part. ``--split dev|test|all`` picks one (default ``all``; the report's breakdown has
both). Per task: tool-selection accuracy (first tool), tool-set recall, fact recall on the
answer with its sources and on the model's prose alone, unsupported-claim rate of the prose
(:mod:`evals.agent.claims`), steps and latency. Baselines: the router alone (tool choice, no
answer) and the keyword router with word-overlap passages (no model).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evals.agent.dataset import TaskSet, load_tasks
from evals.agent.runner import DEMO_DIR
from evals.harness.formats import TASKS, check_tasks
from evals.harness.meta import run_meta
from evals.harness.report import Report, Role, system_from_rows
from evals.suites.base import SuiteContext, SuiteSpec

DEFAULT = Path(__file__).resolve().parents[1] / "agent" / "tasks.yaml"
PROMPTS = ("assistant_args", "assistant_answer", "assistant_chat")
SPLITS = ("all", "dev", "test")


def split_of(note: str) -> str:
    """``test`` for the frozen part, else ``dev``."""
    return "test" if "split=test" in note else "dev"


def select(tasks: TaskSet, split: str) -> TaskSet:
    """The tasks of one split (``all``: every task)."""
    from core.errors import InputError

    if split not in SPLITS:
        raise InputError(f"--split must be one of {list(SPLITS)}: {split!r}")
    if split == "all":
        return tasks
    return tasks.model_copy(
        update={"tasks": tuple(t for t in tasks.tasks if split_of(t.note) == split)}
    )


def _rows(report: dict[str, Any], *, answers: bool, prose: dict[str, dict[str, Any]] | None
          ) -> list[dict[str, float]]:  # fmt: skip
    from evals.agent.claims import unsupported

    out = []
    for t in report["tasks"]:
        row = {
            "tool_selection_accuracy": float(t["first_tool_ok"]),
            "tool_set_recall": float(t["tool_set_recall"]),
        }
        if answers:
            # The prose the model wrote (no Sources list), checked against this run's tool
            # results; a system without tool results against the whole demo data.
            source = prose[t["id"]] if prose is not None else t
            if source.get("checkable_claims") is not None:
                bad, total = source["unsupported_claims"], source["checkable_claims"]
            else:
                bad, total = unsupported(source["answer"], t["question"], DEMO_DIR)
            row["fact_recall"] = float(t["fact_recall"])
            row["unsupported_claim_rate"] = bad / total if total else 0.0
            row["steps"] = float(t["steps"])
            row["latency_s"] = float(t["latency_s"])
        out.append(row)
    return out


def report_from_live(raw: dict[str, Any], tasks: TaskSet, meta_kwargs: dict[str, Any]) -> Report:
    """The harness report of a :func:`evals.agent.live.run_live_eval` result."""
    agent = raw["agent"]
    split = {t.id: split_of(t.note) for t in tasks.tasks}
    cats = [f"{split[t['id']]}:{t['category']}" for t in agent["tasks"]]
    prose = {t["id"]: t for t in raw["agent_prose_only"]["tasks"]}
    ours_rows = _rows(agent, answers=True, prose=prose)
    for row, t in zip(ours_rows, raw["agent_prose_only"]["tasks"], strict=True):
        row["fact_recall_prose"] = float(t["fact_recall"])
    for row, t in zip(ours_rows, agent["tasks"], strict=True):
        row["error_rate"] = float(bool(t["error"]))
    specs: list[tuple[str, Role, str, dict[str, Any], bool]] = [
        ("assistant", "ours", agent["system"], agent, True),
        ("router_only", "baseline", "the intent router's first tool, no answer",
         raw["router_only"], False),
        ("keyword_baseline", "baseline", "keyword routing + best word-overlap passages, no model",
         raw["baseline"], True),
    ]  # fmt: skip
    systems = []
    for name, role, desc, rep, answers in specs:
        rows = ours_rows if name == "assistant" else _rows(rep, answers=answers, prose=None)
        systems.append(system_from_rows(name, role, rows, description=desc, categories=cats))
    n_test = sum(1 for t in agent["tasks"] if split[t["id"]] == "test")
    return Report(
        suite="agent", primary_metric="fact_recall", n=len(agent["tasks"]),
        lower_is_better=["unsupported_claim_rate", "steps", "latency_s", "error_rate"],
        example_ids=[t["id"] for t in agent["tasks"]], systems=systems,
        meta=run_meta("agent", **meta_kwargs),
        latencies={"assistant": [t["latency_s"] for t in agent["tasks"]]},
        notes=[f"{n_test} of {len(agent['tasks'])} tasks are the frozen test split",
               "fact_recall counts the answer with its Sources list; fact_recall_prose the "
               "model's own words; unsupported_claim_rate: numbers in the prose found in no "
               "demo file nor the question"],
        extra={"failures": agent["failures"][:40], "now": agent["now"]},
    )  # fmt: skip


def run(ctx: SuiteContext) -> Report:
    """Run the assistant and the baselines on the selected split."""
    from evals.agent.live import run_live_eval

    path = check_tasks(ctx.dataset or DEFAULT)
    split = str(ctx.options.get("split") or "all")
    tasks = select(load_tasks(path), split)
    if ctx.limit is not None:
        tasks = tasks.model_copy(update={"tasks": tasks.tasks[: ctx.limit]})
    # Shared services are used only when the caller says they hold the demo data.
    shared = ctx.services if ctx.options.get("demo_ready") else None
    raw = run_live_eval(ctx.settings, tasks=tasks, log=ctx.log, services=shared)
    meta = {
        "dataset": path, "model": ctx.model_name, "runtime": ctx.settings.llm.runtime,
        "prompts": PROMPTS, "parameters": {"split": split, "limit": ctx.limit,
                                           "routing": ctx.settings.agent.routing},
    }  # fmt: skip
    return report_from_live(raw, tasks, meta)


SPEC = SuiteSpec(
    name="agent",
    help="The assistant on the agent task set (dev/test): tools, facts, claims, steps, latency.",
    expected_format=TASKS,
    run=run,
    default_dataset=DEFAULT,
)
