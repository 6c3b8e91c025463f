"""``retrieval``: known-item search over an AESLC-format folder (human subject lines as queries,
the email as the one relevant document) or BC3 (summary sentences as queries, linked emails
relevant), through the product's indexer and searcher in a fresh Qdrant Edge shard
(:mod:`evals.retrieval.suite`). Ours is the configured hybrid ranking; baselines are dense
alone, sparse (BM25) alone and plain RRF (k=60) fusion; the other fusion settings compared while
choosing the default are reported as variants. ``--distractors DIR`` adds a Maildir of extra
documents.
"""

from __future__ import annotations

from pathlib import Path

from evals.harness.formats import AESLC, BC3, DatasetFormatError, check_aeslc, check_bc3
from evals.harness.meta import run_meta
from evals.harness.report import Report, Role, system_from_rows
from evals.suites.base import SHARED_DATA, SuiteContext, SuiteSpec

DEFAULT = SHARED_DATA / "summaries" / "aeslc_dev"
_ROLES: dict[str, Role] = {
    "hybrid": "ours", "dense": "baseline", "sparse": "baseline", "rrf_k60_plain": "baseline",
}  # fmt: skip
_METRICS = {"mrr@10": "mrr@10", "r@1": "recall@1", "r@10": "recall@10", "ndcg@10": "ndcg@10"}


def check_dataset(path: Path) -> Path:
    """BC3 when the folder holds ``corpus.xml``, else it must be AESLC-format."""
    if (path / "corpus.xml").is_file():
        return check_bc3(path)
    try:
        return check_aeslc(path)
    except DatasetFormatError as exc:
        raise DatasetFormatError(f"{exc}; or {BC3}") from None


def run(ctx: SuiteContext) -> Report:
    """Index, query and score every ranking."""
    from evals.retrieval.suite import evaluate, load_dataset

    folder = check_dataset(ctx.dataset or DEFAULT)
    distractors: Path | None = ctx.options.get("distractors")
    ds = load_dataset(folder, limit=ctx.limit)
    from evals.retrieval import suite as retrieval_suite

    # The embedder alone (no model, store or index of the data dir) unless services are shared.
    embedder = (
        ctx.services.embedder if ctx.services is not None
        else retrieval_suite.load_embedder(ctx.settings.embeddings)
    )  # fmt: skip
    raw = evaluate(
        ds, embedder, settings=ctx.settings, distractors=distractors,
        progress=ctx.log, per_query=True,
    )  # fmt: skip
    meta = run_meta(
        "retrieval", dataset=folder, model=raw["model"], runtime="qdrant-edge",
        parameters={"limit": ctx.limit, "distractors": str(distractors) if distractors else None,
                    "documents": raw["documents"], "distractor_documents": raw["distractors"],
                    **raw["config"]},
    )  # fmt: skip
    systems = []
    for name, rows in raw["per_query"].items():
        renamed = [{_METRICS[k]: v for k, v in r.items()} for r in rows]
        systems.append(system_from_rows(name, _ROLES.get(name, "variant"), renamed))
    order = {"ours": 0, "baseline": 1, "variant": 2}
    systems.sort(key=lambda s: order[s.role])
    return Report(
        suite="retrieval", primary_metric="mrr@10", n=raw["queries"],
        example_ids=[f"{i}:{q[:48]}" for i, (q, _) in enumerate(ds.queries)], systems=systems,
        meta=meta,
        notes=[f"{raw['documents']} documents + {raw['distractors']} distractors, "
               f"{raw['chunks']} chunks; index {raw['index_seconds']} s, "
               f"queries {raw['query_seconds']} s"],
        extra={k: raw[k] for k in ("dataset", "documents", "distractors", "chunks", "config")},
    )  # fmt: skip


SPEC = SuiteSpec(
    name="retrieval",
    help="Known-item retrieval (MRR@10, recall@k, nDCG@10): hybrid vs dense, sparse, plain RRF.",
    expected_format=f"{AESLC}; or {BC3}",
    run=run,
    default_dataset=DEFAULT,
)
