"""The real assistant under the agent eval: demo data in a fresh data dir, the configured model.

``run_live_eval`` ingests and indexes the bundled demo mailbox, calendar and contacts as the task
set's user, then asks every task through the same graph ``mailmind ask`` uses, at the task set's
fixed clock. Beside it, the same tasks are run through the router alone (tool choice without any
generation) and through the keyword baseline, so the report shows what each stage contributes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.settings import REPO_ROOT, Settings
from evals.agent.dataset import TaskSet, load_tasks
from evals.agent.runner import AgentResult, keyword_baseline_ask, run_agent_eval

if TYPE_CHECKING:
    from api.services import Services


def run_live_eval(
    settings: Settings,
    *,
    limit: int | None = None,
    tasks: TaskSet | None = None,
    log: Callable[[str], None] = print,
    services: Services | None = None,
) -> dict[str, Any]:
    """Run the assistant, the router alone and the keyword baseline over the agent tasks.

    ``services`` may be given when they already hold the demo data as the task set's user (the
    smoke test shares one); they are then used and left open."""
    from agents.assistant.run import ask as run_ask
    from api.services import Services

    taskset = tasks or load_tasks()
    shared = services
    with tempfile.TemporaryDirectory(prefix="mailmind-eval-") as tmp:
        # Fresh store and index, but the already pulled (and converted) model weights.
        if shared is None and settings.model_cache_dir.is_dir():
            (Path(tmp) / "models").symlink_to(settings.model_cache_dir)
        services = shared or Services(settings.scratch(Path(tmp)))
        try:
            if shared is None:
                for part in ("mail", "calendar", "contacts"):
                    services.ingest_path(taskset.user, REPO_ROOT / "demo" / part)
            graph = services.assistant

            seen: dict[str, AgentResult] = {}

            def ask(user: str, question: str, now: datetime) -> AgentResult:
                ctx = services.agent_context(user, now=now, timezone=taskset.timezone)
                res = run_ask(graph, ctx, question)
                out = AgentResult(
                    answer=res.answer, tool_calls=[c.name for c in res.tool_calls],
                    steps=res.steps, citations=res.citations, latency_s=res.latency_s,
                    evidence=res.evidence,
                )  # fmt: skip
                seen[question] = out
                return out

            def prose_only(user: str, question: str, now: datetime) -> AgentResult:
                # The same answers without the "Sources:" list the graph appends: what the
                # model itself wrote.
                r = seen[question]
                prose = r.answer.split("\n\nSources:", 1)[0]
                return AgentResult(prose, r.tool_calls, r.steps, r.citations, r.latency_s,
                                   evidence=r.evidence)  # fmt: skip

            def router_only(user: str, question: str, now: datetime) -> AgentResult:
                # The first tool the graph would run (reads start with a search).
                plan = services.router.plan(question) or ["none"]
                first = "search_mailbox" if plan[0] in ("read_thread", "read_message") else plan[0]
                return AgentResult(answer="", tool_calls=[first], steps=0)

            def progress(done: int, total: int, row: dict[str, Any]) -> None:
                if done % 10 == 0 or done == total:
                    log(f"agent eval: {done}/{total}")

            model_name = f"{settings.llm.model} via {settings.llm.runtime}"
            agent = run_agent_eval(
                ask, taskset, limit=limit, progress=progress,
                system=f"assistant ({model_name}, routing={settings.agent.routing})",
            )  # fmt: skip
            prose = run_agent_eval(
                prose_only, taskset, limit=limit, system="assistant, model prose only"
            )
            router = run_agent_eval(router_only, taskset, limit=limit, system="router only")
        finally:
            if shared is None:
                services.close()
    baseline = run_agent_eval(keyword_baseline_ask, taskset, limit=limit, system="keyword baseline")
    return {
        "benchmark": "agent", "agent": agent, "agent_prose_only": prose, "router_only": router,
        "baseline": baseline,
    }  # fmt: skip
