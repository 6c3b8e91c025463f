"""Suite building blocks without the model: dataset readers, baselines, claims, splits, reply
pairs, and the agent report built from a scripted run."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.agent.claims import claims, unsupported
from evals.agent.dataset import load_tasks
from evals.agent.runner import DEMO_DIR, AgentResult, keyword_baseline_ask, run_agent_eval
from evals.smart_reply.pairs import load_pairs
from evals.suites.agent import report_from_live, select
from evals.suites.subject_lines import first_words, lead_sentence, read_emails, rouge_rows
from evals.suites.summaries import lead, read_threads, score, supported
from tests.conftest import shared_path


def test_claims_are_numbers_times_and_amounts_checked_against_the_demo_data() -> None:
    assert claims("It was $4.12, then 3,800 on 12 Dec at 2pm; 7 items.") == [
        "4.12", "3800", "12", "14:00",
    ]  # fmt: skip
    bad, total = unsupported("Castellan quoted 4.12 and 99.17 per housing.", "q?", DEMO_DIR)
    assert (bad, total) == (1, 2)
    assert unsupported("No numbers here.", "q?", DEMO_DIR) == (0, 0)


def test_claims_are_checked_against_the_runs_own_tool_results() -> None:
    from evals.agent.claims import unsupported_in

    evidence = "find_free_time: free Fri 27 Nov 14:30-16:00; 12 messages from Kenji"
    # Values the tools computed are supported even though no demo file contains them...
    assert unsupported_in("You are free from 2:30pm to 16:00; Kenji sent 12.", "q?", evidence) == (
        0, 3,
    )  # fmt: skip
    # ...while a number from the mailbox that no tool returned in this run is not.
    assert unsupported_in("Castellan quoted 4.12 per housing.", "q?", evidence) == (1, 1)
    assert unsupported_in("The 2026 plan", "What about 2026?", "") == (0, 1)  # from the question


def test_splits_partition_the_task_set() -> None:
    tasks = load_tasks()
    dev, test = select(tasks, "dev"), select(tasks, "test")
    assert len(test.tasks) == 10 and len(dev.tasks) + len(test.tasks) == len(tasks.tasks)
    assert all("split=test" in t.note for t in test.tasks)
    with pytest.raises(Exception, match="--split"):
        select(tasks, "train")


def test_agent_report_from_a_scripted_run_has_every_system_and_split() -> None:
    tasks = load_tasks()
    subset = tasks.model_copy(
        update={"tasks": (*tasks.tasks[:3], *select(tasks, "test").tasks[:2])}
    )
    agent = run_agent_eval(keyword_baseline_ask, subset, system="scripted")

    def nothing(user: str, q: str, now: object) -> AgentResult:
        return AgentResult(answer="", tool_calls=["search_mailbox"])

    raw = {
        "agent": agent, "agent_prose_only": agent, "baseline": agent,
        "router_only": run_agent_eval(nothing, subset, system="router"),  # type: ignore[arg-type]
    }  # fmt: skip
    report = report_from_live(raw, subset, {"dataset": None})
    assert [s.name for s in report.systems] == ["assistant", "router_only", "keyword_baseline"]
    assert report.n == 5 and report.example_ids == [t.id for t in subset.tasks]
    ours = report.ours
    assert len(ours.per_example["fact_recall"]) == 5
    assert {c.split(":")[0] for c in ours.breakdown} == {"dev", "test"}
    assert "fact_recall" not in report.system("router_only").metrics
    assert ours.metrics["unsupported_claim_rate"].value == 0.0  # passages quote the demo data


def test_aeslc_reader_and_subject_baselines(tmp_path: Path) -> None:
    (tmp_path / "a.subject").write_text(
        "Hi all, the gas meeting moved to Friday. Bring the numbers.\n\n@subject\nMeeting moved\n"
        "@ann0\nGas meeting moved\n@ann1\nMeeting on Friday\n@ann2\nMeeting change\n"
    )
    (tmp_path / "b.subject").write_text("\n\n@subject\nempty body\n@ann0\nx\n")
    emails = read_emails(tmp_path)
    assert [e.id for e in emails] == ["a"] and len(emails[0].references) == 3
    assert emails[0].subject == "Meeting moved"
    assert lead_sentence(emails[0].body).endswith("Friday.")
    assert first_words("one two three", 2) == "one two"
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    perfect = rouge_rows("Gas meeting moved", ["Gas meeting moved"], scorer)
    assert perfect == {"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0}
    assert rouge_rows("unrelated words", ["Gas meeting moved"], scorer)["rouge1"] == 0.0


def test_bc3_threads_and_summary_scores() -> None:
    from rouge_score import rouge_scorer

    threads = read_threads(shared_path("summaries", "bc3_dev"))
    assert len(threads) == 20 and all(len(t.summaries) == 3 for t in threads)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    row = score(lead(threads[0]), threads[0], scorer)
    assert 0.0 < row["rouge1"] < 1.0 and 0.0 <= row["citation_precision"] <= 1.0
    assert row["faithfulness"] == 1.0  # the lead copies each message's first sentence
    assert not supported("Budgets exploded in Tokyo yesterday.", ["We met in Bristol."], [])
    assert supported("Wendy proposes Bristol meeting.", ["Meeting in Bristol proposed"], ["Wendy"])


def test_reply_pairs_by_header_and_by_subject(tmp_path: Path) -> None:
    box = tmp_path / "ann"
    for folder in ("inbox", "sent"):
        (box / folder).mkdir(parents=True)
    (box / "inbox" / "1").write_text(
        "From: Bo <bo@x.com>\nTo: ann@y.com\nSubject: Lunch?\nMessage-ID: <p1@x>\n"
        "Date: Mon, 2 Nov 2026 10:00:00 +0000\n\nLunch on Friday?\n"
    )
    (box / "inbox" / "2").write_text(
        "From: Cy <cy@x.com>\nTo: ann@y.com\nSubject: Report\n"
        "Date: Mon, 2 Nov 2026 11:00:00 +0000\n\nHere is the report.\n"
    )
    (box / "inbox" / "3").write_text(
        "From: Di <di@x.com>\nTo: ann@y.com\nSubject: Newsletter\nMessage-ID: <n1@x>\n"
        "Date: Mon, 2 Nov 2026 12:00:00 +0000\n\nNews.\n"
    )
    (box / "sent" / "4").write_text(
        "From: Ann <ann@y.com>\nTo: bo@x.com\nSubject: Re: Lunch?\nIn-Reply-To: <p1@x>\n"
        "Date: Mon, 2 Nov 2026 13:00:00 +0000\n\nSounds good!\n"
    )
    (box / "sent" / "5").write_text(
        "From: Ann <ann@y.com>\nTo: cy@x.com\nSubject: RE: Report\n"
        "Date: Mon, 2 Nov 2026 14:00:00 +0000\n\nThanks Cy.\n"
    )
    pairs, negatives = load_pairs(tmp_path)
    assert sorted((p.parent.subject, p.reply) for p in pairs) == [
        ("Lunch?", "Sounds good!"), ("Report", "Thanks Cy."),
    ]  # fmt: skip
    assert [m.subject for m in negatives] == ["Newsletter"]
