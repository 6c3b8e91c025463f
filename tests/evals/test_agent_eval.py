"""The agent eval: the packaged task set, fact/tool metrics, the runner and the keyword baseline."""

from __future__ import annotations

import email
import email.policy
import json
import re
from collections import Counter
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from core.errors import InputError
from evals.agent.dataset import CATEGORIES, TOOLS, Fact, TaskSet, load_tasks, parse_tasks
from evals.agent.metrics import (
    contains_fact,
    fact_recall,
    first_tool_accuracy,
    normalise,
    percentile,
    tool_set_recall,
)
from evals.agent.runner import (
    AgentResult,
    format_report,
    keyword_baseline_ask,
    route_question,
    run_agent_eval,
)

DEMO = Path(__file__).resolve().parents[2] / "demo"
ENTRY_TOOLS = ("search_mailbox", "list_events", "find_free_time", "lookup_contacts")


@pytest.fixture(scope="module")
def tasks() -> TaskSet:
    return load_tasks()


def _task_data(**overrides: Any) -> dict[str, Any]:
    task = {
        "id": "t1",
        "category": "contacts",
        "question": "whats kenji's email",
        "tools": ["lookup_contacts"],
        "facts": ["kenji.watanabe@aquatest-labs.example"],
    }
    task.update(overrides)
    return {
        "now": "2026-11-25T09:00:00-08:00",
        "user": "demo",
        "timezone": "America/Los_Angeles",
        "tasks": [task],
    }


# ------------------------------------------------------------------------------ the task set


def test_packaged_task_set_is_big_and_covers_every_category_and_tool(tasks: TaskSet) -> None:
    assert len(tasks.tasks) >= 70
    assert tasks.user == "demo"
    assert tasks.local_now.isoformat() == "2026-11-25T09:00:00-08:00"
    assert set(Counter(t.category for t in tasks.tasks)) == set(CATEGORIES)
    first = Counter(t.first_tool for t in tasks.tasks)
    assert all(first[tool] >= 5 for tool in ENTRY_TOOLS), first
    used = Counter(str(tool) for t in tasks.tasks for tool in t.tools)
    assert all(used[tool] >= 5 for tool in TOOLS), used
    assert all(len(t.tools) >= 2 for t in tasks.tasks if t.category == "multi_tool")


def test_packaged_task_set_is_roughly_balanced(tasks: TaskSet) -> None:
    share = {c: n / len(tasks.tasks) for c, n in Counter(t.category for t in tasks.tasks).items()}
    mail = share["mail_search"] + share["thread"]
    assert 0.25 <= mail <= 0.35
    for category in ("calendar", "free_time", "contacts", "multi_tool"):
        assert 0.12 <= share[category] <= 0.25, (category, share[category])


def test_questions_are_distinct(tasks: TaskSet) -> None:
    questions = [normalise(t.question) for t in tasks.tasks]
    assert len(set(questions)) == len(questions)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"tools": ["send_email"]}, "tools"),
        ({"tools": []}, "tools"),
        ({"facts": []}, "facts"),
        ({"facts": [""]}, "fact"),
        ({"category": "chitchat"}, "category"),
        ({"id": "Bad Id"}, "id"),
        ({"tools": ["list_events", "list_events"]}, "twice"),
    ],
)
def test_invalid_tasks_are_rejected(override: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_tasks(_task_data(**override))


def test_duplicate_ids_naive_clock_and_unknown_zone_are_rejected() -> None:
    data = _task_data()
    data["tasks"] = data["tasks"] * 2
    with pytest.raises(InputError, match="duplicate task ids"):
        parse_tasks(data)
    with pytest.raises(InputError, match="UTC offset"):
        parse_tasks({**_task_data(), "now": "2026-11-25T09:00:00"})
    with pytest.raises(InputError, match="time zone"):
        parse_tasks({**_task_data(), "timezone": "Mars/Olympus"})


def test_load_tasks_reports_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_tasks(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("tasks: [unclosed", encoding="utf-8")
    with pytest.raises(InputError, match="not valid YAML"):
        load_tasks(broken)


# ---------------------------------------------------- every fact with a digit is in demo/


def _ics_dates(text: str) -> str:
    """Unfold and unescape iCalendar/vCard text; 20261201T150000 -> 2026-12-01 15:00."""
    text = re.sub(r"\r?\n[ \t]", "", text).replace("\\,", ",").replace("\\n", "\n")
    text = re.sub(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})\d{2}", r"\1-\2-\3 \4:\5", text)
    return re.sub(r"(?<=[:=])(\d{4})(\d{2})(\d{2})\b", r"\1-\2-\3", text)


@cache
def _demo_corpus() -> str:
    parts = []
    for path in sorted((DEMO / "mail").rglob("*")):
        if path.is_file() and path.parent.name in {"cur", "new"}:
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            parts += [str(msg["Subject"]), str(msg["From"]), str(msg["To"]), str(msg["Cc"])]
            for part in msg.walk():
                if part.get_content_maintype() == "text":
                    parts.append(part.get_content())  # type: ignore[attr-defined]
    parts.append(_ics_dates((DEMO / "calendar" / "dana.ics").read_text(encoding="utf-8")))
    for card in sorted((DEMO / "contacts").glob("*.vcf")):
        parts.append(_ics_dates(card.read_text(encoding="utf-8")))
    return normalise("\n".join(parts))


def _with_year(day: date) -> list[str]:
    month = day.strftime("%B")
    return [f"{day.day} {month} {day.year}", f"{day.day} {month[:3]} {day.year}"]


def test_every_number_id_date_and_time_fact_occurs_in_the_demo_data(tasks: TaskSet) -> None:
    corpus = _demo_corpus()
    missing = []
    for task in tasks.tasks:
        if "derived" in task.note:  # a count, a duration or "nothing found": not in the data
            continue
        for fact in task.facts:
            if fact.date is not None:
                # a spelling with the year, so "12 Dec" of another year cannot pass
                checked = [fact.date.isoformat(), *_with_year(fact.date)]
            else:
                checked = [alt for alt in fact.any_of if re.search(r"\d", alt)]
            if checked and not any(contains_fact(corpus, alt) for alt in checked):
                missing.append((task.id, fact.label))
    assert not missing, f"facts absent from demo/: {missing}"


def test_word_facts_occur_in_the_demo_data(tasks: TaskSet) -> None:
    # Words a *correct* answer must contain come from the data too (names, titles, places),
    # except the few phrasings a free-time answer uses ("yes", "free", "clear", ...).
    corpus = _demo_corpus()
    missing = [
        (task.id, fact.label)
        for task in tasks.tasks
        if task.category != "free_time" and "derived" not in task.note
        for fact in task.facts
        if fact.date is None and not any(contains_fact(corpus, alt) for alt in fact.any_of)
    ]
    assert not missing, f"facts absent from demo/: {missing}"


# ---------------------------------------------------------------------------------- metrics


def test_fact_recall_ignores_case_accents_whitespace_and_thousands_separators() -> None:
    answer = "JOSE MARTINEZ  quoted USD 20600.00\nfor 5,000 housings"
    assert fact_recall(answer, ["José Martínez", "20,600", "5000", "housings"]) == 1.0
    assert fact_recall("José Martínez", ["jose martinez"]) == 1.0
    assert fact_recall("anything", []) == 1.0


def test_fact_recall_counts_the_fraction_present() -> None:
    assert fact_recall("The quote is 4.12 per unit", ["4.12", "3.79"]) == 0.5
    assert fact_recall("", ["4.12"]) == 0.0


def test_numbers_match_only_whole() -> None:
    assert fact_recall("USD 24.12", ["4.12"]) == 0.0
    assert fact_recall("on 12 Dec", [Fact(date=date(2026, 12, 2))]) == 0.0
    assert fact_recall("3.795", ["3.79"]) == 0.0
    assert fact_recall("firmware 1.4.3+217", ["1.4.3"]) == 1.0


def test_any_of_and_date_facts() -> None:
    grey = Fact.model_validate({"any_of": ["slate grey", "slate gray"]})
    assert fact_recall("Slate Gray, Pantone 7545 C", [grey, "7545"]) == 1.0
    launch = Fact.model_validate({"date": date(2027, 1, 12)})
    for spelling in ("Tue 12 Jan", "January 12th, 2027", "2027-01-12", "Jan. 12", "on 1/12"):
        assert fact_recall(f"The launch is now {spelling}.", [launch]) == 1.0, spelling
    assert fact_recall("The launch is 15 Dec", [launch]) == 0.0
    assert Fact.model_validate("NW-482").alternatives() == ["NW-482"]


def test_times_and_phone_numbers_are_normalised() -> None:
    assert fact_recall("You're free from 2pm", ["14:00"]) == 1.0
    assert fact_recall("at 2:00 P.M. PT", ["14:00"]) == 1.0
    assert fact_recall("standup at 09:30", ["9:30"]) == 1.0
    assert fact_recall("lunch at noon", ["12:00"]) == 1.0
    assert fact_recall("10 am", ["10:00"]) == 1.0
    assert fact_recall("call (415) 555 0111", ["555-0111"]) == 1.0
    assert fact_recall("+52 81 5550 1942", ["5550-1942"]) == 1.0
    assert fact_recall("Hardware & Operations Lead", ["hardware and operations"]) == 1.0


def test_tool_metrics() -> None:
    pairs = [
        (["search_mailbox", "read_thread"], ["search_mailbox", "search_mailbox"]),
        (["list_events"], ["find_free_time", "list_events"]),
        (["lookup_contacts"], []),
        (["find_free_time"], ["find_free_time"]),
    ]
    assert first_tool_accuracy(pairs) == 0.5
    assert tool_set_recall(["search_mailbox", "read_thread"], ["search_mailbox"]) == 0.5
    assert tool_set_recall(["list_events"], ["find_free_time", "list_events"]) == 1.0
    assert tool_set_recall(["list_events"], []) == 0.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.0


# ----------------------------------------------------------------------------------- runner


def _perfect(tasks: TaskSet) -> dict[str, AgentResult]:
    return {
        t.question: AgentResult(
            answer=" ".join(f.alternatives()[0] for f in t.facts),
            tool_calls=list(t.tools),
            steps=len(t.tools) + 1,
            citations=["m1"],
            latency_s=1.0,
        )
        for t in tasks.tasks
    }


def test_runner_scores_a_scripted_agent_that_is_right_on_half_the_tasks(tasks: TaskSet) -> None:
    perfect = _perfect(tasks)
    right = {t.question for i, t in enumerate(tasks.tasks) if i % 2 == 0}
    calls: list[tuple[str, datetime]] = []

    def ask(user: str, question: str, now: datetime) -> AgentResult:
        calls.append((user, now))
        if question in right:
            return perfect[question]
        return AgentResult(answer="I don't know.", tool_calls=[], steps=1, latency_s=3.0)

    subset = TaskSet.model_validate({**tasks.model_dump(), "tasks": tasks.tasks[:40]})
    report = run_agent_eval(ask, subset, system="scripted")
    overall = report["overall"]
    assert report["n_tasks"] == overall["n"] == 40
    assert overall["first_tool_accuracy"] == 0.5
    assert overall["tool_set_recall"] == 0.5
    assert overall["fact_recall"] == 0.5
    assert overall["all_facts_rate"] == 0.5
    assert overall["latency_p50_s"] == 1.0
    assert overall["latency_p95_s"] == 3.0
    assert overall["errors"] == 0
    assert len(report["failures"]) == 20
    assert {f["id"] for f in report["failures"]} == {
        t.id for t in subset.tasks if t.question not in right
    }
    assert all(u == "demo" and n == tasks.local_now for u, n in calls)
    assert sum(s["n"] for s in report["by_category"].values()) == 40
    json.loads(json.dumps(report))


def test_runner_records_errors_limits_and_filters(tasks: TaskSet) -> None:
    def ask(user: str, question: str, now: datetime) -> AgentResult:
        raise RuntimeError("model crashed")

    seen: list[int] = []
    report = run_agent_eval(
        ask, tasks, limit=3, categories=["contacts"], progress=lambda i, n, row: seen.append(i)
    )
    assert report["n_tasks"] == 3 and seen == [1, 2, 3]
    assert set(report["by_category"]) == {"contacts"}
    assert report["overall"]["errors"] == 3
    assert report["overall"]["first_tool_accuracy"] == 0.0
    assert report["overall"]["latency_p50_s"] is not None
    assert all("RuntimeError: model crashed" in f["reasons"][0] for f in report["failures"])


def test_format_report_prints_every_category(tasks: TaskSet) -> None:
    perfect = _perfect(tasks)
    report = run_agent_eval(lambda u, q, n: perfect[q], tasks, system="oracle")
    text = format_report(report)
    assert report["overall"]["fact_recall"] == 1.0
    assert report["overall"]["first_tool_accuracy"] == 1.0
    assert "failures: 0" in text
    for category in CATEGORIES:
        assert category in text


def test_keyword_baseline_runs_over_every_task(tasks: TaskSet) -> None:
    report = run_agent_eval(keyword_baseline_ask, tasks, system="keyword-baseline")
    overall = report["overall"]
    assert report["n_tasks"] == len(tasks.tasks)
    assert overall["errors"] == 0
    # A floor to beat, not a ceiling: it must be neither useless nor near perfect.
    assert 0.3 < overall["first_tool_accuracy"] < 0.9
    assert 0.2 < overall["fact_recall"] < 0.9
    assert all(row["tool_calls"][0] in TOOLS for row in report["tasks"])


def test_keyword_routing() -> None:
    assert route_question("am I free tomorrow?") == ["find_free_time"]
    assert route_question("whats kenji's email") == ["lookup_contacts"]
    assert route_question("what's on my calendar today") == ["list_events"]
    assert route_question("summarise the NW-482 thread") == ["search_mailbox", "read_thread"]
    assert route_question("did the launch date change?") == ["search_mailbox"]
