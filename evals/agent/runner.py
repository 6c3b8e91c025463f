"""Run the agent eval: ask every task, score tool choice and facts, aggregate, format.

The agent is any callable ``ask(user, question, now) -> AgentResult``; the real LangGraph agent
is adapted to it by its CLI command, and :func:`keyword_baseline_ask` is a model-free baseline
(keyword routing to one tool, then the best-matching passages of the demo data as the answer)
that gives the report a floor to compare the agent with.

Report shape (JSON-serialisable)::

    {"system": ..., "now": ..., "user": ..., "n_tasks": ...,
     "overall": {n, first_tool_accuracy, tool_set_recall, fact_recall, all_facts_rate,
                 steps_median, latency_p50_s, latency_p95_s, errors},
     "by_category": {category: {same keys}}, "by_first_tool": {tool: {same keys}},
     "failures": [{id, category, reasons, ...}], "tasks": [per-task rows]}
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from evals.agent.dataset import CATEGORIES, TOOLS, Task, TaskSet
from evals.agent.metrics import (
    fact_hits,
    first_tool_correct,
    mean,
    median,
    normalise,
    percentile,
    tool_set_recall,
)

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"


@dataclass
class AgentResult:
    """What one agent run returns to the eval."""

    #: The final answer shown to the user.
    answer: str
    #: Names of the tools called, in call order (repeats kept).
    tool_calls: list[str] = field(default_factory=list)
    #: Graph steps (model turns) the run took.
    steps: int = 0
    #: Ids of the messages / events / contacts the answer cites.
    citations: list[str] = field(default_factory=list)
    #: Wall-clock seconds; 0 lets the runner use its own measurement around ``ask``.
    latency_s: float = 0.0
    #: What the tools returned in this run (the unsupported-claim check's reference); empty
    #: for systems that call no tools.
    evidence: str = ""


AskFn = Callable[[str, str, datetime], AgentResult]


def score_task(task: Task, result: AgentResult, *, error: str | None = None) -> dict[str, Any]:
    """One task's row: tool choice, fact recall (with the missing facts), steps, latency."""
    from evals.agent.claims import unsupported_in

    hits = fact_hits(result.answer, task.facts)
    bad, checkable = (
        unsupported_in(result.answer, task.question, result.evidence)
        if result.evidence else (None, None)
    )  # fmt: skip
    return {
        "id": task.id,
        "category": task.category,
        "question": task.question,
        "expected_tools": list(task.tools),
        "tool_calls": list(result.tool_calls),
        "first_tool_ok": first_tool_correct(task.tools, result.tool_calls),
        "tool_set_recall": tool_set_recall(task.tools, result.tool_calls),
        "fact_recall": sum(hits) / len(hits),
        "missing_facts": [f.label for f, hit in zip(task.facts, hits, strict=True) if not hit],
        "steps": result.steps,
        "latency_s": round(result.latency_s, 4),
        "citations": len(result.citations),
        "answer": result.answer,
        # Numbers in the answer found neither in this run's tool results nor in the question.
        "unsupported_claims": bad,
        "checkable_claims": checkable,
        "error": error,
    }


def _clean(value: float, digits: int = 4) -> float | None:
    # NaN is not valid JSON; an empty group reports null instead.
    return None if math.isnan(value) else round(value, digits)


def aggregate(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Means of the per-task scores, median steps and latency percentiles over ``rows``."""
    latencies = [r["latency_s"] for r in rows]
    return {
        "n": len(rows),
        "first_tool_accuracy": _clean(mean([float(r["first_tool_ok"]) for r in rows])),
        "tool_set_recall": _clean(mean([r["tool_set_recall"] for r in rows])),
        "fact_recall": _clean(mean([r["fact_recall"] for r in rows])),
        "all_facts_rate": _clean(mean([float(r["fact_recall"] == 1.0) for r in rows])),
        "steps_median": _clean(median([float(r["steps"]) for r in rows]), 1),
        "latency_p50_s": _clean(percentile(latencies, 50), 3),
        "latency_p95_s": _clean(percentile(latencies, 95), 3),
        "errors": sum(1 for r in rows if r["error"]),
    }


def _failure(row: dict[str, Any]) -> dict[str, Any] | None:
    reasons = []
    if row["error"]:
        reasons.append(f"error: {row['error']}")
    if not row["first_tool_ok"]:
        got = row["tool_calls"][0] if row["tool_calls"] else "none"
        reasons.append(f"first tool {got}, expected {row['expected_tools'][0]}")
    if row["tool_set_recall"] < 1.0:
        missing = sorted(set(row["expected_tools"]) - set(row["tool_calls"]))
        reasons.append(f"never called {', '.join(missing)}")
    if row["missing_facts"]:
        reasons.append(f"missing facts: {'; '.join(row['missing_facts'])}")
    if not reasons:
        return None
    keep = ("id", "category", "question", "expected_tools", "tool_calls")
    return {**{k: row[k] for k in keep}, "reasons": reasons}


def run_agent_eval(
    ask: AskFn,
    tasks: TaskSet,
    *,
    limit: int | None = None,
    categories: Sequence[str] | None = None,
    system: str = "agent",
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Ask every task (at the task set's fixed clock) and return the JSON-serialisable report.

    ``limit`` keeps the first N tasks (after the ``categories`` filter); ``progress`` is called
    after each task with ``(done, total, row)``. An exception from ``ask`` is recorded as that
    task's error (empty answer, no tools) and the run goes on.
    """
    selected = [t for t in tasks.tasks if categories is None or t.category in categories]
    if limit is not None:
        selected = selected[: max(0, limit)]
    now = tasks.local_now
    rows: list[dict[str, Any]] = []
    for i, task in enumerate(selected, start=1):
        started = time.perf_counter()
        error: str | None = None
        try:
            result = ask(tasks.user, task.question, now)
        except Exception as exc:  # noqa: BLE001 - one crashing task must not end the run
            result = AgentResult(answer="")
            error = f"{type(exc).__name__}: {exc}"
        if result.latency_s <= 0:
            result.latency_s = time.perf_counter() - started
        row = score_task(task, result, error=error)
        rows.append(row)
        if progress is not None:
            progress(i, len(selected), row)

    def group(key: str, order: Sequence[str]) -> dict[str, Any]:
        return {
            name: aggregate(members)
            for name in order
            if (members := [r for r in rows if key_of(r, key) == name])
        }

    return {
        "system": system,
        "now": now.isoformat(),
        "user": tasks.user,
        "n_tasks": len(rows),
        "overall": aggregate(rows),
        "by_category": group("category", CATEGORIES),
        "by_first_tool": group("first_tool", TOOLS),
        "failures": [f for r in rows if (f := _failure(r)) is not None],
        "tasks": rows,
    }


def key_of(row: dict[str, Any], key: str) -> str:
    """Grouping key of a task row (``first_tool`` is the expected first tool)."""
    return str(row["expected_tools"][0] if key == "first_tool" else row[key])


_COLUMNS = (
    ("n", "n", "{:d}"),
    ("first_tool_accuracy", "first tool", "{:.2f}"),
    ("tool_set_recall", "tool recall", "{:.2f}"),
    ("fact_recall", "fact recall", "{:.2f}"),
    ("all_facts_rate", "all facts", "{:.2f}"),
    ("steps_median", "steps p50", "{:.1f}"),
    ("latency_p50_s", "lat p50 s", "{:.2f}"),
    ("latency_p95_s", "lat p95 s", "{:.2f}"),
)


def _table_row(label: str, stats: dict[str, Any]) -> str:
    cells = [f"{label:<18}"]
    for key, title, fmt in _COLUMNS:
        value = stats.get(key)
        cells.append(f"{'-' if value is None else fmt.format(value):>{len(title)}}")
    return "  ".join(cells)


def format_report(report: dict[str, Any], *, max_failures: int = 20) -> str:
    """A plain-text table of a report: overall, per category, per expected first tool, failures."""
    header = "  ".join([f"{'':<18}", *(title for _, title, _ in _COLUMNS)])
    lines = [
        f"agent eval: {report['system']}  ({report['n_tasks']} tasks, user {report['user']}, "
        f"now {report['now']})",
        header,
        _table_row("overall", report["overall"]),
        "by category",
        *(_table_row(f"  {name}", stats) for name, stats in report["by_category"].items()),
        "by expected first tool",
        *(_table_row(f"  {name}", stats) for name, stats in report["by_first_tool"].items()),
    ]
    failures = report["failures"]
    lines.append(f"failures: {len(failures)}")
    for failure in failures[:max_failures]:
        lines.append(f"  {failure['id']}: {' / '.join(failure['reasons'])}")
    if len(failures) > max_failures:
        lines.append(f"  ... and {len(failures) - max_failures} more (see --json)")
    return "\n".join(lines)


# ---------------------------------------------------------------- keyword baseline (no model)

# Generic keywords, deliberately not tuned to tasks.yaml (a baseline, not a router).
_FREE_WORDS = re.compile(r"\b(free|available|availability|free time|slot)\b")
_CONTACT_WORDS = re.compile(
    r"\b(email address|e-mail|email|phone|number|cell|mobile|who is|who's|title|birthday|contact)\b"
)
_CALENDAR_WORDS = re.compile(
    r"\b(calendar|meeting|schedule|event|appointment|today|tomorrow|this week|next week)\b"
)
_THREAD_WORDS = re.compile(r"\b(summari[sz]e|summary|thread|recap)\b")
_MESSAGE_WORDS = re.compile(r"\b(read|open)\b")
_TOKEN = re.compile(r"[a-z0-9][a-z0-9@.\-]*[a-z0-9]|[a-z0-9]")
_STOPWORDS = (
    "a an and any are as at be can did do does for from get got had has have he her his how i "
    "i'm in is it its me my of on or our pls please s she that the their them there this to "
    "up us was we what whats what's when when's where where's which who who's whos will with "
    "would you your"
)
_STOP = frozenset(_STOPWORDS.split())


def route_question(question: str) -> list[str]:
    """The keyword baseline's tool choice: one tool, plus a read step for summaries."""
    q = normalise(question)
    if _FREE_WORDS.search(q):
        return ["find_free_time"]
    if _CONTACT_WORDS.search(q):
        return ["lookup_contacts"]
    if _CALENDAR_WORDS.search(q):
        return ["list_events"]
    if _THREAD_WORDS.search(q):
        return ["search_mailbox", "read_thread"]
    if _MESSAGE_WORDS.search(q):
        return ["search_mailbox", "read_message"]
    return ["search_mailbox"]


def _unfold(text: str) -> str:
    text = re.sub(r"\r?\n[ \t]", "", text).replace("\\,", ",").replace("\\n", "\n")
    # 20261201T150000 -> 2026-12-01 15:00, so times read as a tool would print them
    text = re.sub(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})\d{2}", r"\1-\2-\3 \4:\5", text)
    return re.sub(r"VALUE=DATE:(\d{4})(\d{2})(\d{2})", r"VALUE=DATE:\1-\2-\3", text)


@lru_cache(maxsize=4)
def _demo_passages(demo_dir: Path) -> dict[str, list[tuple[str, str]]]:
    """(source, text) passages of the demo data, keyed by the tool that would return them."""
    import email
    import email.policy

    mail: list[tuple[str, str]] = []
    for path in sorted((demo_dir / "mail").rglob("*")):
        if not path.is_file() or path.parent.name not in {"cur", "new"}:
            continue
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain", "html"))
        text = body.get_content() if body is not None else ""  # type: ignore[attr-defined]
        head = f"{msg['Subject']} | {msg['From']} | {msg['Date']}"
        for para in re.split(r"\n\s*\n", text):
            if para.strip() and not para.lstrip().startswith(">"):
                mail.append((path.name, f"{head}\n{para.strip()}"))
    events = []
    ics = _unfold((demo_dir / "calendar" / "dana.ics").read_text(encoding="utf-8"))
    for i, block in enumerate(re.findall(r"BEGIN:VEVENT(.*?)END:VEVENT", ics, re.S)):
        events.append((f"event-{i}", block.strip()))
    cards = [
        (path.stem, _unfold(path.read_text(encoding="utf-8")))
        for path in sorted((demo_dir / "contacts").glob("*.vcf"))
    ]
    return {"mail": mail, "calendar": events, "contacts": cards}


def _tokens(text: str) -> set[str]:
    return {t for t in _TOKEN.findall(normalise(text)) if t not in _STOP}


def keyword_baseline_answer(
    question: str, tools: Sequence[str], *, demo_dir: Path = DEMO_DIR, top_k: int = 3
) -> tuple[str, list[str]]:
    """The ``top_k`` passages of the routed source sharing most question words, and their ids."""
    source = {"find_free_time": "calendar", "list_events": "calendar"}.get(tools[0], "mail")
    source = "contacts" if tools[0] == "lookup_contacts" else source
    passages = _demo_passages(demo_dir)[source]
    wanted = _tokens(question)
    scored = sorted(
        ((len(wanted & _tokens(text)), i) for i, (_, text) in enumerate(passages)),
        key=lambda pair: (-pair[0], pair[1]),
    )
    best = [passages[i] for score, i in scored[:top_k] if score > 0]
    return "\n\n".join(text for _, text in best), [pid for pid, _ in best]


def keyword_baseline_ask(user: str, question: str, now: datetime) -> AgentResult:
    """Model-free baseline: route by keywords, answer with the best-matching demo passages.

    It ignores ``user`` and ``now`` (it reads the bundled demo files directly), so it measures
    how far keyword routing and word overlap get without a model or the clock.
    """
    started = time.perf_counter()
    tools = route_question(question)
    answer, citations = keyword_baseline_answer(question, tools)
    return AgentResult(
        answer=answer,
        tool_calls=tools,
        steps=len(tools) + 1,
        citations=citations,
        latency_s=time.perf_counter() - started,
    )
