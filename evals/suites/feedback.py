"""``feedback``: what ``POST /v1/feedback`` stored (the data dir's feedback store), in the harness
format: chip acceptance (chip choices where a chip was picked), thumbs-up rate and normalised
edit distance (suggestion vs what was sent), each with a bootstrap interval; overall (ours),
per day, per kind and per prompt version (variants): each row carries the prompt (or chip set)
version in force when it was stored (rows from before that was recorded count as
``unrecorded``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from agents.versions import FEEDBACK_PROMPTS
from evals.harness.meta import run_meta
from evals.harness.report import Report, Role, Score, SystemResult
from evals.suites.base import SuiteContext, SuiteSpec

PROMPTS = tuple(FEEDBACK_PROMPTS.values())


def signals(rows: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Per-row values of each signal (only the rows that carry it)."""
    out: dict[str, list[float]] = {"chip_acceptance": [], "thumbs_up_rate": [],
                                   "edit_distance_norm": []}  # fmt: skip
    for r in rows:
        if r["kind"] == "chip" and r["rating"] is None:
            out["chip_acceptance"].append(float(r["chip_chosen"] is not None))
        if r["rating"] is not None:
            out["thumbs_up_rate"].append(float(r["rating"] == "up"))
        if r["edit_distance_norm"] is not None:
            out["edit_distance_norm"].append(float(r["edit_distance_norm"]))
    return out


def _system(name: str, role: Role, rows: list[dict[str, Any]]) -> SystemResult:
    values = signals(rows)
    metrics = {k: Score.of(v) for k, v in values.items()}
    metrics["rows"] = Score(value=float(len(rows)))
    return SystemResult(name=name, role=role, metrics=metrics)


def load_rows(ctx: SuiteContext) -> list[dict[str, Any]]:
    """Every stored row (of ``--user`` only when given), oldest first, since ``--since``."""
    from core.errors import InputError

    store = ctx.open_services().feedback
    user = ctx.options.get("user")
    users = [user] if user else store.users()
    since_text = ctx.options.get("since")
    try:
        since = date.fromisoformat(since_text) if since_text else None
    except ValueError:
        raise InputError(f"--since must be an ISO date (YYYY-MM-DD): {since_text!r}") from None
    rows = [s.as_dict() | {"user": u} for u in users for s in store.list(u, limit=1_000_000)]
    rows = [r for r in rows if since is None or r["created_at"][:10] >= since.isoformat()]
    return sorted(rows, key=lambda r: (r["created_at"], r["id"]))


#: The online quality-signal gauges of ``api/http/observability.py`` read by ``--metrics-url``.
SIGNALS = (
    "mailmind_smart_reply_trigger_ratio", "mailmind_chip_acceptance_ratio",
    "mailmind_thumbs_up_ratio", "mailmind_summary_fallback_ratio",
    "mailmind_citation_drop_ratio", "mailmind_tool_error_ratio",
)  # fmt: skip


def online_signals(url: str) -> dict[str, float]:
    """The quality-signal gauges and the mean answer length from a running server's
    ``/metrics`` (they live in the server's memory, since its start)."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    from core.errors import InputError

    try:
        text = httpx.get(url, timeout=10).raise_for_status().text
    except httpx.HTTPError as exc:
        raise InputError(f"cannot read metrics from {url}: {exc}") from None
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            values[s.name] = values.get(s.name, 0.0) + float(s.value)
    out = {name: values[name] for name in SIGNALS if name in values}
    count = values.get("mailmind_answer_length_chars_count", 0.0)
    if count:
        out["answer_length_chars_mean"] = values["mailmind_answer_length_chars_sum"] / count
    return out


def run(ctx: SuiteContext) -> Report:
    """Aggregate the stored feedback (and a server's online signals with ``metrics_url``)."""
    rows = load_rows(ctx)
    url = ctx.options.get("metrics_url")
    online = online_signals(url) if url else {}
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_version: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_day[r["created_at"][:10]].append(r)
        by_kind[r["kind"]].append(r)
        by_version[r.get("prompt_version") or "unrecorded"].append(r)
    systems = [_system("all", "ours", rows)]
    systems += [_system(f"kind:{k}", "variant", v) for k, v in sorted(by_kind.items())]
    systems += [_system(f"version:{k}", "variant", v) for k, v in sorted(by_version.items())]
    systems += [_system(f"day:{d}", "variant", v) for d, v in sorted(by_day.items())]
    return Report(
        suite="feedback", primary_metric="chip_acceptance", n=len(rows),
        lower_is_better=["edit_distance_norm"], systems=systems,
        meta=run_meta("feedback", prompts=PROMPTS,
                      parameters={"user": ctx.options.get("user"),
                                  "since": ctx.options.get("since"),
                                  "data_dir": str(ctx.settings.data_dir)}),
        extra={"online_signals": online, "metrics_url": url},
        notes=["each row carries the prompt version in force when it was stored "
               "(`version:` variants)", "no baseline: compare two runs with `eval compare`"],
    )  # fmt: skip


SPEC = SuiteSpec(
    name="feedback",
    help="Stored feedback: chip acceptance, thumbs, edit distance per day and per kind.",
    expected_format="none (the data dir's feedback store)",
    run=run,
)
