"""``smart-reply``: chips on real reply pairs (:mod:`evals.smart_reply.pairs`) from a Maildir
tree (default: the Enron maildir in ../shared/data; ``--dataset`` takes any, e.g. the notmuch
lkml corpus).

* **trigger precision / recall**: did the product offer chips on messages that got a reply
  (positives) and stay quiet on those that did not (negatives);
* **hit@3**: on triggered positives, whether any of the (up to) three chips is within
  ``threshold`` cosine similarity (MiniLM) of the real reply. *Calibration*: the threshold is the
  95th percentile of the similarity between chips and the replies of *other*, shuffled pairs
  (so a hit is better than chance at the 5% level), never below 0.3; the chance hit rate at that
  threshold is reported beside hit@3;
* **chip diversity**: mean pairwise cosine distance between the chips shown.

Baselines: always trigger (recall 1, precision = share of positives) with the three most
frequent responses - the three curated responses nearest to the most real replies of this
dataset (fitted on the evaluation data itself: a generous baseline). The response set was
curated from Enron replies, so Enron numbers are optimistic; lkml is independent.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from evals.harness.formats import MAILDIR, check_maildir
from evals.harness.meta import run_meta
from evals.harness.report import Report, Score, system_from_rows
from evals.suites.base import SHARED_DATA, SuiteContext, SuiteSpec

DEFAULT = SHARED_DATA / "mail" / "enron_maildir"
MIN_THRESHOLD = 0.3
NULL_QUANTILE = 95


def _unit(vecs: Any) -> np.ndarray:
    arr = np.asarray(vecs, dtype=np.float32)
    return arr / np.maximum(np.linalg.norm(arr, axis=1, keepdims=True), 1e-9)


def run(ctx: SuiteContext) -> Report:
    """Trigger, hit@3 and diversity of the product's chips vs the baseline."""
    from agents.smart_reply import suggest
    from agents.smart_reply.responses import load_responses
    from evals.smart_reply.pairs import load_pairs

    folder = check_maildir(ctx.dataset or DEFAULT)
    pairs, negatives = load_pairs(folder)
    rng = random.Random(0)  # a fixed sample of negatives, as many as positives
    negatives = ctx.limited(rng.sample(negatives, min(len(negatives), len(pairs))))
    pairs = ctx.limited(pairs)
    embedder = ctx.open_services().embedder
    ctx.log(f"smart-reply: {len(pairs)} pairs, {len(negatives)} negatives")

    reasons: Counter[str] = Counter()

    def chips_for(message: Any) -> tuple[bool, list[str]]:
        r = suggest(message, "eval", message.id, calendar=None, embedder=embedder,
                    user_emails=())  # fmt: skip
        reasons[str(r.reason)] += 1
        return r.triggered, [c.text for c in r.chips]

    pos = [chips_for(p.parent) for p in pairs]
    neg = [chips_for(m) for m in negatives]
    learned = _learned_replier(ctx.options.get("models"), embedder)
    if learned is not None:  # the same chips path with a trained trigger (--models DIR)

        def learned_for(message: Any) -> tuple[bool, list[str]]:
            r = learned.suggest(message, "eval", message.id, user_emails=())
            return r.triggered, [c.text for c in r.chips]

        l_pos = [learned_for(p.parent) for p in pairs]
        l_neg = [learned_for(m) for m in negatives]
    replies = _unit(embedder.embed([p.reply for p in pairs])) if pairs else np.zeros((0, 1))
    responses = [r.text.replace("{first_name}", "").strip(" ,") for r in load_responses().responses]
    resp_vecs = _unit(embedder.embed(responses))
    # The baseline's three responses: nearest response of the most real replies.
    nearest = Counter(int(i) for i in (replies @ resp_vecs.T).argmax(axis=1)) if pairs else {}
    top3 = [responses[i] for i, _ in Counter(nearest).most_common(3)]
    top3_vecs = _unit(embedder.embed(top3)) if top3 else np.zeros((0, replies.shape[1]))

    def best_sim(chips: list[str], reply_vec: np.ndarray) -> float:
        if not chips:
            return 0.0
        return float((_unit(embedder.embed(chips)) @ reply_vec).max())

    ours_sims = [best_sim(c, replies[i]) for i, (_t, c) in enumerate(pos)]
    shuffled = list(range(len(pairs)))
    rng.shuffle(shuffled)
    # Null: both systems' chips against an unrelated real reply.
    null = [best_sim(pos[i][1], replies[j]) for i, j in enumerate(shuffled) if i != j and pos[i][1]]
    null += [best_sim(top3, replies[j]) for i, j in enumerate(shuffled) if i != j and top3]
    threshold = max(MIN_THRESHOLD, float(np.percentile(null, NULL_QUANTILE)) if null else 0.0)

    def rows(
        triggers: list[bool], sims: list[float], chips: list[list[str]]
    ) -> list[dict[str, float]]:
        out = []
        for t, s, c in zip(triggers, sims, chips, strict=True):
            row = {"trigger_recall": float(t), "hit@3": float(t and s >= threshold),
                   "best_similarity": s if t else 0.0}  # fmt: skip
            if len(c) >= 2:
                v = _unit(embedder.embed(c))
                sims_c = v @ v.T
                k = len(c)
                row["chip_diversity"] = float((k * k - sims_c.sum()) / (k * (k - 1)))
            out.append(row)
        return out

    ours_rows = rows([t for t, _ in pos], ours_sims, [c for _, c in pos])
    base_sims = [float((top3_vecs @ replies[i]).max()) if top3 else 0.0 for i in range(len(pairs))]
    base_rows = rows([True] * len(pairs), base_sims, [top3] * len(pairs))
    tp, fp = sum(t for t, _ in pos), sum(t for t, _ in neg)
    ours = system_from_rows("product", "ours", _fill(ours_rows), description="suggest() chips")
    base = system_from_rows("always_top3", "baseline", _fill(base_rows),
                            description=f"always trigger; chips {top3}")  # fmt: skip
    ours.metrics["trigger_precision"] = (
        Score.of([1.0] * tp + [0.0] * fp) if tp + fp else Score(value=None)
    )
    base.metrics["trigger_precision"] = Score.of([1.0] * len(pos) + [0.0] * len(neg))
    # Chips offered on unanswered mail: the false-trigger rate (1.0 for always-trigger).
    ours.metrics["false_trigger_rate"] = Score.of([float(t) for t, _ in neg])
    base.metrics["false_trigger_rate"] = Score.of([1.0] * len(neg))
    systems = [ours, base]
    every = [(ours, ours_rows), (base, base_rows)]
    if learned is not None:
        l_sims = [best_sim(c, replies[i]) for i, (_t, c) in enumerate(l_pos)]
        l_rows = rows([t for t, _ in l_pos], l_sims, [c for _, c in l_pos])
        system = system_from_rows(
            "learned_trigger", "variant", _fill(l_rows),
            description=f"suggest() with the trained trigger in {learned.data_dir}",
        )  # fmt: skip
        l_tp, l_fp = sum(t for t, _ in l_pos), sum(t for t, _ in l_neg)
        system.metrics["trigger_precision"] = (
            Score.of([1.0] * l_tp + [0.0] * l_fp) if l_tp + l_fp else Score(value=None)
        )
        system.metrics["false_trigger_rate"] = Score.of([float(t) for t, _ in l_neg])
        systems.append(system)
        every.append((system, l_rows))
    for system, all_rows in every:
        div = [r["chip_diversity"] for r in all_rows if "chip_diversity" in r]
        system.metrics["chip_diversity"] = Score.of(div) if div else Score(value=None)
    chance = [float(s >= threshold) for s in null]
    return Report(
        suite="smart-reply", primary_metric="hit@3", n=len(pairs),
        lower_is_better=["false_trigger_rate"],
        example_ids=[p.parent.id for p in pairs], systems=systems,
        meta=run_meta("smart-reply", dataset=folder, model=embedder.name, runtime="in-process",
                      parameters={"limit": ctx.limit, "threshold": round(threshold, 4),
                                  "negatives": len(negatives), "null_quantile": NULL_QUANTILE}),
        notes=[f"hit threshold {threshold:.3f} (calibrated: {NULL_QUANTILE}th percentile of "
               f"chip-vs-unrelated-reply similarity, floor {MIN_THRESHOLD}); chance hit rate "
               f"{(sum(chance) / len(chance)) if chance else 0:.3f}",
               f"{len(pairs)} reply pairs, {len(negatives)} unanswered messages; "
               f"trigger on negatives {fp}/{len(neg)}"],
        extra={"threshold": threshold, "trigger_reasons": dict(reasons.most_common()),
               "baseline_chips": top3,
               "chance_hit_rate": (sum(chance) / len(chance)) if chance else None},
    )  # fmt: skip


def _learned_replier(models: Path | None, embedder: Any) -> Any:
    """A replier using the trained trigger under ``models`` (a data dir holding
    ``models/trigger/model.json``), or ``None`` without ``--models``."""
    if models is None:
        return None
    from agents.smart_reply.learned import load_model
    from agents.smart_reply.responses import load_responses
    from agents.smart_reply.service import SmartReplier, shared_index
    from core.errors import InputError

    if load_model(models, "trigger") is None:
        raise InputError(f"no trained trigger under {models} (expected models/trigger/model.json)")
    return SmartReplier(embedder=embedder, data_dir=models,
                        index=shared_index(load_responses(), embedder, None))  # fmt: skip


def _fill(rows: list[dict[str, float]]) -> list[dict[str, float]]:
    # Diversity exists only with two chips or more: it is averaged over those rows separately,
    # so the per-example table keeps one key set.
    keys = ("trigger_recall", "hit@3", "best_similarity")
    return [{k: r[k] for k in keys} for r in rows]


SPEC = SuiteSpec(
    name="smart-reply",
    help="Chips on real reply pairs: trigger precision/recall, hit@3, diversity vs always-top-3.",
    expected_format=MAILDIR,
    run=run,
    default_dataset=DEFAULT,
)
