"""``summaries``: thread summaries on a BC3-format folder against its three human summaries.

Per thread: ROUGE-1/2/L F1 (mean over the three annotators), **faithfulness** (share of summary
sentences whose content words occur in the messages they cite - a lexical judge independent of
the product's own embedding check, which would pass its own output by construction) and
**citation precision** (for each summary sentence, the closest human sentence by ROUGE-1; the
share of its cited messages that human sentence links to). Ours is the product path
(:func:`agents.summarize.thread.summarize_messages` with the chat model); beside it, the
product's extractive summary alone, and the baseline: the extractive lead (the first sentence of
each of the first four messages, citing its message).
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.harness.formats import BC3, check_bc3
from evals.harness.meta import run_meta
from evals.harness.report import Report, system_from_rows
from evals.suites.base import SHARED_DATA, SuiteContext, SuiteSpec

DEFAULT = SHARED_DATA / "summaries" / "bc3_dev"
PROMPTS = ("summarize_thread", "summarize_partial")
LEAD_MESSAGES = 4
#: Share of a sentence's content words that must occur in its cited messages.
SUPPORT_SHARE = 0.6
_WORD = re.compile(r"[a-z][a-z0-9'-]{3,}")
_GLUE = frozenset(
    "says said asks asked writes wrote notes noted adds added replies replied thinks suggests "
    "responds agrees that this with from they their there have about would could should which "
    "what will been were also into than then them these those some just only very".split()
)


@dataclass
class Thread:
    """One BC3 thread: its messages and the human summaries (sentence, linked message ids)."""

    id: str
    subject: str
    messages: list[Any]
    summaries: list[list[tuple[str, set[str]]]]


def read_threads(folder: Path, limit: int | None = None) -> list[Thread]:
    """The threads of a BC3-format folder, in corpus order."""
    from evals.retrieval.datasets import read_bc3

    check_bc3(folder)
    ds = read_bc3(folder)
    by_thread: dict[str, list[Any]] = defaultdict(list)
    for m in ds.messages:
        by_thread[m.thread_id or ""].append(m)
    root = ET.parse(folder / "annotation.xml").getroot()
    threads: list[Thread] = []
    for t in root.iter("thread"):
        listno = (t.findtext("listno") or "").strip()
        summaries = []
        for ann in t.iter("annotation"):
            sents = []
            for s in ann.iter("sent"):
                links = (s.get("link") or "").replace(" ", "").split(",")
                ids = {f"{listno}:{x.split('.')[0]}" for x in links if "." in x}
                sents.append((" ".join((s.text or "").split()), ids))
            if sents:
                summaries.append(sents)
        if listno in by_thread and summaries:
            subject = (t.findtext("name") or "").strip()
            threads.append(Thread(listno, subject, by_thread[listno], summaries))
        if limit is not None and len(threads) >= limit:
            break
    return threads


def content_words(text: str) -> set[str]:
    """Lower-cased words of four letters or more, reporting verbs and glue words removed."""
    return {w for w in _WORD.findall(text.lower()) if w not in _GLUE}


def supported(sentence: str, cited_texts: list[str], names: list[str]) -> bool:
    """Whether enough of ``sentence``'s content words occur in its cited messages."""
    words = content_words(sentence) - content_words(" ".join(names))
    if not cited_texts:
        return False
    if not words:
        return True
    source = content_words(" ".join(cited_texts))
    return len(words & source) / len(words) >= SUPPORT_SHARE


def score(sentences: list[tuple[str, list[str]]], thread: Thread, scorer: Any) -> dict[str, float]:
    """ROUGE, faithfulness and citation precision of one summary (sentence, cited ids)."""
    text = " ".join(s for s, _ in sentences)
    row: dict[str, float] = {}
    for key in ("rouge1", "rouge2", "rougeL"):
        vals = [scorer.score(" ".join(s for s, _ in ref), text)[key].fmeasure
                for ref in thread.summaries]  # fmt: skip
        row[key] = sum(vals) / len(vals)
    by_id = {m.id: m for m in thread.messages}
    humans = [h for ref in thread.summaries for h in ref]
    faithful, precision = [], []
    for sent, cites in sentences:
        known = [c for c in cites if c in by_id]
        names = [by_id[c].sender.name for c in known if by_id[c].sender]
        faithful.append(supported(sent, [by_id[c].body_text for c in known], names))
        if cites:
            best = max(humans, key=lambda h: scorer.score(h[0], sent)["rouge1"].fmeasure)
            precision.append(sum(1 for c in cites if c in best[1]) / len(cites))
    row["faithfulness"] = sum(faithful) / len(faithful) if faithful else 0.0
    row["citation_precision"] = sum(precision) / len(precision) if precision else 0.0
    return row


def lead(thread: Thread) -> list[tuple[str, list[str]]]:
    """The extractive lead baseline."""
    from agents.summarize.faithfulness import split_sentences

    out = []
    for m in thread.messages[:LEAD_MESSAGES]:
        sents = split_sentences(m.body_text)
        if sents:
            out.append((sents[0], [m.id]))
    return out


def run(ctx: SuiteContext) -> Report:
    """Summarise every thread with ours, the extractive summary and the lead baseline."""
    check_bc3(ctx.dataset or DEFAULT)  # a wrong folder fails before the heavy imports
    from rouge_score import rouge_scorer

    from agents.summarize.thread import extractive_summary, summarize_messages

    folder = ctx.dataset or DEFAULT
    threads = read_threads(folder, ctx.limit)
    services = ctx.open_services()
    embedder, model = services.embedder, services.chat_model
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    meta = run_meta(
        "summaries", dataset=folder, model=ctx.model_name, runtime=ctx.settings.llm.runtime,
        prompts=PROMPTS, parameters={"limit": ctx.limit, "lead_messages": LEAD_MESSAGES,
                                     "support_share": SUPPORT_SHARE},
    )  # fmt: skip
    ours, extractive, baseline, times = [], [], [], []
    for i, t in enumerate(threads, 1):
        started = time.perf_counter()
        summary = summarize_messages(t.id, t.subject, t.messages, model=model, embedder=embedder)
        times.append(time.perf_counter() - started)
        row = score([(s.text, s.citations) for s in summary.sentences], t, scorer)
        kept, dropped = len(summary.sentences), len(summary.dropped_sentences)
        row["fallback_rate"] = float(summary.method == "extractive")
        row["citation_drop_rate"] = dropped / (kept + dropped) if kept + dropped else 0.0
        ours.append(row)
        ext = extractive_summary(t.messages, embedder)
        extractive.append(score([(s.text, s.citations) for s in ext], t, scorer))
        baseline.append(score(lead(t), t, scorer))
        ctx.log(f"summaries: {i}/{len(threads)} ({summary.method})")
    systems = [
        system_from_rows("model", "ours", ours, description="summarize_messages, chat model"),
        system_from_rows("extractive", "variant", extractive,
                         description="the product's extractive summary alone"),
        system_from_rows("lead", "baseline", baseline,
                         description=f"first sentence of the first {LEAD_MESSAGES} messages"),
    ]  # fmt: skip
    return Report(
        suite="summaries", primary_metric="rouge1", n=len(threads),
        lower_is_better=["fallback_rate", "citation_drop_rate"],
        example_ids=[t.id for t in threads], systems=systems, meta=meta,
        latencies={"model": times},
        notes=["ROUGE vs each of the three human summaries, averaged; faithfulness is lexical "
               f"(>= {SUPPORT_SHARE:.0%} of content words in the cited messages)"],
    )  # fmt: skip


SPEC = SuiteSpec(
    name="summaries",
    help="Thread summaries on BC3: ROUGE, faithfulness, citation precision vs extractive lead.",
    expected_format=BC3,
    run=run,
    default_dataset=DEFAULT,
)
