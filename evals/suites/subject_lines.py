"""``subject-lines``: a subject line for each email of an AESLC-format folder, scored against
its human lines with ROUGE-1/2/L F1 (``rouge-score``, Porter stemming), averaged over the
references as in the AESLC paper.

Ours is the product path, :func:`agents.summarize.thread.summarize_message` with the configured
chat model (it renders the ``summarize_message`` prompt and falls back to extraction when the
model's summary fails the faithfulness check). Beside it: the product's extractive fallback
alone, the configured model asked with the plain ``subject_line`` prompt (the base of
``mailmind finetune subject-lines``), with ``--tuned NAME`` the fine-tuned model on the same
prompt, and three baselines - the lead sentence, the first eight words, and the sender's own
subject (``@subject``), which is the real bar: a person wrote it for this email.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.harness.formats import AESLC, check_aeslc
from evals.harness.meta import run_meta
from evals.harness.report import Report, system_from_rows
from evals.suites.base import SHARED_DATA, SuiteContext, SuiteSpec

PROMPTS = ("summarize_message", "subject_line")
LEAD_WORDS = 8
DEFAULT = SHARED_DATA / "summaries" / "aeslc_dev"


@dataclass(frozen=True, slots=True)
class Email:
    """One AESLC example."""

    id: str
    body: str
    subject: str
    references: list[str]


def read_emails(folder: Path, limit: int | None = None) -> list[Email]:
    """The examples of an AESLC-format folder, sorted by file name, those without a body or
    without human lines skipped."""
    from evals.retrieval.datasets import _parse_aeslc

    out: list[Email] = []
    for path in sorted(check_aeslc(folder).glob("*.subject")):
        body, subject, anns = _parse_aeslc(path.read_text(encoding="utf-8", errors="replace"))
        refs = [a for a in anns if a]
        if body.strip() and refs:
            out.append(Email(path.stem, body, subject, refs))
        if limit is not None and len(out) >= limit:
            break
    return out


def lead_sentence(body: str) -> str:
    """The email's first sentence."""
    from agents.summarize.faithfulness import split_sentences

    sentences = split_sentences(body)
    return sentences[0] if sentences else body[:200]


def first_words(body: str, n: int = LEAD_WORDS) -> str:
    """The email's first ``n`` words."""
    return " ".join(body.split()[:n])


def rouge_rows(pred: str, refs: list[str], scorer: object) -> dict[str, float]:
    """ROUGE-1/2/L F1 of ``pred``, each averaged over ``refs``."""
    out: dict[str, float] = {}
    for key in ("rouge1", "rouge2", "rougeL"):
        vals = [scorer.score(r, pred)[key].fmeasure for r in refs]  # type: ignore[attr-defined]
        out[key] = sum(vals) / len(vals)
    return out


def run(ctx: SuiteContext) -> Report:
    """Score ours, the extractive fallback and the baselines on the folder."""
    check_aeslc(ctx.dataset or DEFAULT)  # a wrong folder fails before the heavy imports
    from rouge_score import rouge_scorer

    from agents.summarize.subject import model_subject as plain_subject
    from agents.summarize.thread import extractive_subject, summarize_message
    from evals.retrieval.datasets import make_message

    folder = ctx.dataset or DEFAULT
    emails = read_emails(folder, ctx.limit)
    tuned_name = ctx.options.get("tuned")
    meta = run_meta(
        "subject-lines", dataset=folder, model=ctx.model_name, runtime=ctx.settings.llm.runtime,
        prompts=PROMPTS, parameters={"limit": ctx.limit, "lead_words": LEAD_WORDS,
                                     "rouge": "rouge-score, stemming, mean over references",
                                     "tuned": tuned_name},
    )  # fmt: skip
    services = ctx.open_services()
    embedder = services.embedder
    model = None if ctx.options.get("no_model") else services.chat_model
    tuned = _tuned_model(ctx, tuned_name) if tuned_name else None
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)

    fallback: list[float] = []

    def model_subject(e: Email) -> str:
        # The model's own subject line from the summarize_message prompt (rendered by name, so a
        # REPL override applies): the product now always extracts the subject, so without this
        # row a prompt edit could not move the score.
        from agents.summarize.thread import MessageSummaryDraft
        from prompts import render

        assert model is not None  # only listed when a model is configured
        try:
            structured = model.with_structured_output(MessageSummaryDraft)
            out = structured.invoke(render("summarize_message", text=e.body.strip()[:4000]))
        except Exception:  # noqa: BLE001 - an unparsable answer scores as an empty subject
            return ""
        return " ".join(out.subject.split()[:10]) if isinstance(out, MessageSummaryDraft) else ""

    def ours(e: Email) -> str:
        out = summarize_message(make_message(e.id, e.body), model=model, embedder=embedder)
        fallback.append(float(out.method == "extractive"))
        return out.subject

    systems: list[tuple[str, str, str, Callable[[Email], str]]] = [
        ("model", "ours", "summarize_message with the chat model (product path)", ours),
        ("model_subject", "variant", "the model's own subject (summarize_message prompt)",
         model_subject),
        ("extractive", "variant", "the product's extractive subject alone",
         lambda e: extractive_subject(e.body, embedder)),
        ("lead_sentence", "baseline", "the email's first sentence",
         lambda e: lead_sentence(e.body)),
        (f"first_{LEAD_WORDS}_words", "baseline", f"the first {LEAD_WORDS} words",
         lambda e: first_words(e.body)),
        ("sender_subject", "baseline", "the sender's own subject line (@subject)",
         lambda e: e.subject),
    ]  # fmt: skip
    if model is not None:
        systems.insert(2, ("subject_line", "variant",
                           "the chat model on the plain subject_line prompt (the tuning's base)",
                           lambda e: plain_subject(model, e.body)))  # fmt: skip
    if tuned is not None:
        systems.insert(3 if model is not None else 0, (
            "tuned", "variant", f"the fine-tuned {tuned_name} on the subject_line prompt",
            lambda e: plain_subject(tuned, e.body)))  # fmt: skip
    if model is None:
        systems = [row for row in systems if row[0] not in ("model", "model_subject")]
        at = next(i for i, row in enumerate(systems) if row[0] == "extractive")
        systems[at] = ("extractive", "ours", systems[at][2], systems[at][3])
    results = []
    latencies: dict[str, list[float]] = {}
    for name, role, desc, fn in systems:
        rows: list[dict[str, float]] = []
        times: list[float] = []
        for i, e in enumerate(emails, 1):
            started = time.perf_counter()
            pred = fn(e)
            times.append(time.perf_counter() - started)
            rows.append(rouge_rows(pred, e.references, scorer))
            if i % 25 == 0:
                ctx.log(f"subject-lines {name}: {i}/{len(emails)}")
        if name == "model":
            for row, fb in zip(rows, fallback, strict=True):
                row["summary_fallback_rate"] = fb
        if name in ("model", "model_subject", "subject_line", "tuned"):
            latencies[name] = times
        results.append(system_from_rows(name, role, rows, description=desc))  # type: ignore[arg-type]
    return Report(
        suite="subject-lines", primary_metric="rouge1", n=len(emails),
        example_ids=[e.id for e in emails], systems=results, meta=meta, latencies=latencies,
        notes=["ROUGE F1 against each human line (@ann0..2), averaged per email; "
               "sender_subject is what the sender wrote, the bar to beat."],
    )  # fmt: skip


def _tuned_model(ctx: SuiteContext, name: str) -> Any:
    """A chat model over ``name`` (a registered tuned model or a path), same runtime choice."""
    from agents.llm import get_chat_model

    llm = ctx.settings.llm.model_copy(update={"model": name})
    return get_chat_model(ctx.settings.model_copy(update={"llm": llm}))


SPEC = SuiteSpec(
    name="subject-lines",
    help="Subject lines on AESLC: ROUGE-1/2/L F1 vs lead, first words and the sender's subject.",
    expected_format=AESLC,
    run=run,
    default_dataset=DEFAULT,
)
