"""``latency``: p50 / p95 (with bootstrap intervals) per capability, in-process on the demo
data: smart-reply chips, hybrid search, thread summary, chat first token, chat full answer.
The extractive summary (no model) is the baseline for the summary. ``--limit`` caps the samples
of the model capabilities (default 5) and of chips and search (default 30). Speed targets are
compared in the notes; no assertion is made here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from functools import partial
from typing import Any

from evals.harness.meta import run_meta
from evals.harness.report import Report, Role, Score, SystemResult
from evals.harness.stats import percentile_stat
from evals.suites.base import SuiteContext, SuiteSpec

PROMPTS = ("summarize_thread", "assistant_args", "assistant_answer")
#: Targets from the README / issues, in seconds (p95).
TARGETS = {"chips": 0.2, "search": 0.2, "chat_first_token": 3.0}


def _system(name: str, role: Role, samples: list[float], desc: str) -> SystemResult:
    return SystemResult(
        name=name, role=role, description=desc,
        metrics={"p50_s": Score.of(samples, stat=percentile_stat(50)),
                 "p95_s": Score.of(samples, stat=percentile_stat(95)),
                 "mean_s": Score.of(samples)},
        per_example={"latency_s": [round(x, 5) for x in samples]},
    )  # fmt: skip


def _time(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run(ctx: SuiteContext) -> Report:
    """Time every capability on the demo data."""
    from agents.assistant.run import stream_ask
    from agents.smart_reply import suggest
    from agents.summarize.thread import extractive_summary, summarize_thread
    from evals.agent.dataset import load_tasks
    from evals.suites.demo import DEMO_USER, demo_services

    slow_n = ctx.limit or 5
    fast_n = max(slow_n, 30) if ctx.limit is None else ctx.limit
    tasks = load_tasks()
    shared = ctx.options.get("demo_ready") and ctx.services is not None
    with nullcontext(ctx.services) if shared else demo_services(ctx.settings) as services:
        assert services is not None
        store = services.store
        messages = sorted(store.list_messages(DEMO_USER, limit=1000), key=lambda m: m.id)
        threads = list(dict.fromkeys(m.thread_id for m in messages if m.thread_id))[:slow_n]
        questions = [t.question for t in tasks.tasks]
        samples: dict[str, list[float]] = {k: [] for k in
                                           ("chips", "search", "summary", "summary_extractive",
                                            "chat_first_token", "chat_full_answer")}  # fmt: skip

        def chips(mid: str) -> None:
            suggest(store, DEMO_USER, mid, calendar=services.pim.calendars,
                    contacts=services.pim.contacts, embedder=services.embedder,
                    data_dir=services.settings.data_dir)  # fmt: skip

        chips(messages[0].id)  # warm-up: response index, caches
        services.chat_model  # noqa: B018 - load the model before timing
        for m in messages[:fast_n]:
            samples["chips"].append(_time(partial(chips, m.id)))
        for q in questions[:fast_n]:
            samples["search"].append(
                _time(partial(services.searcher.search, DEMO_USER, q, limit=10))
            )
        for tid in threads:
            samples["summary"].append(
                _time(partial(summarize_thread, store, DEMO_USER, tid,
                              model=services.chat_model, embedder=services.embedder))
            )  # fmt: skip
            found = store.get_thread(DEMO_USER, tid)
            msgs = found[1] if found else []
            samples["summary_extractive"].append(
                _time(partial(extractive_summary, msgs, services.embedder))
            )
        ctx.log("latency: chat")
        for q in questions[:slow_n]:
            agent_ctx = services.agent_context(DEMO_USER, now=tasks.local_now,
                                               timezone=tasks.timezone)  # fmt: skip
            started = time.perf_counter()
            first: float | None = None
            for event in stream_ask(services.assistant, agent_ctx, q):
                if event["event"] == "token" and first is None:
                    first = time.perf_counter() - started
            total = time.perf_counter() - started
            samples["chat_first_token"].append(first if first is not None else total)
            samples["chat_full_answer"].append(total)
    systems = [
        _system(name, "baseline" if name == "summary_extractive" else "ours", vals, desc)
        for name, vals, desc in (
            ("chips", samples["chips"], "smart-reply chips for one message"),
            ("search", samples["search"], "hybrid search, 10 hits"),
            ("summary", samples["summary"], "thread summary with the chat model"),
            ("summary_extractive", samples["summary_extractive"], "extractive summary, no model"),
            ("chat_first_token", samples["chat_first_token"], "question to first answer token"),
            ("chat_full_answer", samples["chat_full_answer"], "question to full answer"),
        )
        if vals
    ]  # fmt: skip
    notes = []
    for name, target in TARGETS.items():
        got = next((s.metrics["p95_s"].value for s in systems if s.name == name), None)
        if got is not None:
            verdict = "within" if got <= target else "OVER"
            notes.append(f"{name}: p95 {got:.3f} s, target {target} s ({verdict})")
    return Report(
        suite="latency", primary_metric="p95_s", n=sum(len(v) for v in samples.values()),
        lower_is_better=["p50_s", "p95_s", "mean_s"], systems=systems,
        meta=run_meta("latency", model=ctx.model_name, runtime=ctx.settings.llm.runtime,
                      prompts=PROMPTS, parameters={"limit": ctx.limit, "slow_n": slow_n,
                                                   "fast_n": fast_n}),
        latencies={k: v for k, v in samples.items() if v}, notes=notes,
    )  # fmt: skip


SPEC = SuiteSpec(
    name="latency",
    help="p50/p95 per capability in-process: chips, search, summary, chat first token/full.",
    expected_format="none (the bundled demo data)",
    run=run,
)
