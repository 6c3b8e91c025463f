"""``mailmind train trigger|priority``: fit, calibrate, evaluate on held-out owners, write a card.

1. Examples and labels from a tree of mailboxes (:mod:`evals.training.data`); features from
   :func:`agents.smart_reply.learned.features` (hand features + the MiniLM query vector).
2. **Held-out owners**: for each owner, a model is trained on the other owners' mail only and
   scored on this owner's: PR-AUC, precision at the rules' recall, the rules' own precision and
   recall (the baseline), and the expected calibration error. No owner is in both sides.
3. The **shipped model** is trained on every owner with a split by time: the oldest 75% of the
   examples fit the logistic regression (scikit-learn, balanced class weights), the newest 25%
   fit the Platt calibration and choose the threshold: the lowest probability whose precision on
   that set reaches ``--precision`` (most recall at the stated precision), or the best-F1
   threshold when no threshold reaches it (the card says so).
4. ``model.json`` (weights, scaling, calibration, threshold) and its card (data fingerprint,
   hyper-parameters, metrics, seed, commit, machine) go to ``--out``; the service picks it up from
   ``<data_dir>/models/<kind>/``.

The priority model never sees the features its label is made of (whether and how often the
owner wrote to the sender): those columns are zeroed, so it learns from the message itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from agents.smart_reply.learned import (
    FEATURE_VERSION,
    HAND_FEATURES,
    LearnedModel,
    ModelKind,
    features,
)
from core.errors import InputError
from core.settings import REPO_ROOT
from evals.harness.meta import fingerprint, git_state, machine
from evals.training.data import Example, load_examples

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "mail" / "enron_maildir"
#: Features the priority label is defined by (zeroed for that model).
PRIORITY_EXCLUDED = ("user_wrote_to_sender", "wrote_to_sender_log")
C = 0.5  # L2 strength of the logistic regression (inverse)
CALIBRATION_SHARE = 0.25


def _labels(examples: list[Example], kind: ModelKind) -> np.ndarray:
    return np.array([e.replied if kind == "trigger" else e.important for e in examples], dtype=int)


def _matrix(examples: list[Example], vectors: np.ndarray, kind: ModelKind) -> np.ndarray:
    rows = [
        features(e.message, v, user_emails=e.owner_emails, history=e.history)
        for e, v in zip(examples, vectors, strict=True)
    ]
    x = np.vstack(rows) if rows else np.zeros((0, len(HAND_FEATURES) + vectors.shape[1]))
    if kind == "priority":
        for name in PRIORITY_EXCLUDED:
            x[:, HAND_FEATURES.index(name)] = 0.0
    return x


def _rules(examples: list[Example]) -> np.ndarray:
    """The hand-written trigger's decision per example (the baseline)."""
    from agents.smart_reply.timeparse import find_proposed_time
    from agents.smart_reply.trigger import decide

    out = []
    for e in examples:
        m = e.message
        ref = m.date or datetime(2001, 1, 1, tzinfo=UTC)
        found = find_proposed_time(f"{m.subject}\n{m.new_text}", ref, UTC) is not None
        out.append(decide(m, user_emails=e.owner_emails, meeting_request=found).triggered)
    return np.array(out, dtype=int)


def _fit(
    x: np.ndarray, y: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0  # constant columns (zeroed features) stay at weight ~0
    clf = LogisticRegression(C=C, class_weight="balanced", max_iter=5000, random_state=seed)
    clf.fit((x - mean) / scale, y)
    return mean, scale, clf.coef_[0].astype(np.float64), float(clf.intercept_[0])


def _platt(raw: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    if len(set(y.tolist())) < 2:
        return 1.0, 0.0
    # Mild regularisation: on separable data an unregularised fit saturates at 0/1.
    lr = LogisticRegression(C=1.0, max_iter=1000).fit(raw.reshape(-1, 1), y)
    return float(lr.coef_[0][0]), float(lr.intercept_[0])


def _model(kind: ModelKind, x: np.ndarray, y: np.ndarray, cal_x: np.ndarray, cal_y: np.ndarray,
           seed: int, names: list[str]) -> LearnedModel:  # fmt: skip
    mean, scale, w, b = _fit(x, y, seed)
    raw = ((cal_x - mean) / scale) @ w + b
    return LearnedModel(
        kind=kind, version="unversioned", feature_names=names, embedding=True, mean=mean,
        scale=scale, weights=w, bias=b, platt=_platt(raw, cal_y), threshold=0.5,
    )  # fmt: skip


def ece(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over ``bins`` equal-width probability bins."""
    if len(p) == 0:
        return float("nan")
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for k in range(bins):
        sel = idx == k
        if sel.any():
            total += sel.mean() * abs(p[sel].mean() - y[sel].mean())
    return float(total)


def precision_at_recall(p: np.ndarray, y: np.ndarray, recall: float) -> float | None:
    """Best precision among thresholds whose recall is at least ``recall``."""
    from sklearn.metrics import precision_recall_curve

    if y.sum() == 0:
        return None
    prec, rec, _ = precision_recall_curve(y, p)
    ok = prec[rec >= recall - 1e-12]
    return float(ok.max()) if len(ok) else None


def choose_threshold(p: np.ndarray, y: np.ndarray, precision: float) -> dict[str, Any]:
    """The lowest threshold reaching ``precision`` on (p, y); best F1 when none does."""
    from sklearn.metrics import precision_recall_curve

    prec, rec, thr = precision_recall_curve(y, p)
    prec, rec = prec[:-1], rec[:-1]  # the last point has no threshold
    reach = np.flatnonzero(prec >= precision)
    if len(reach):
        i = int(reach[0])
        # Halfway down to the next lower score: the same decisions on this set, less brittle
        # for a new message scoring just under the lowest kept one.
        cut = (thr[i] + thr[i - 1]) / 2 if i > 0 else thr[i] / 2
        return {"threshold": float(cut), "precision": float(prec[i]), "recall": float(rec[i]),
                "reached_target": True}  # fmt: skip
    f1 = 2 * prec * rec / np.clip(prec + rec, 1e-12, None)
    i = int(f1.argmax()) if len(f1) else 0
    return {"threshold": float(thr[i]) if len(thr) else 0.5,
            "precision": float(prec[i]) if len(prec) else 0.0,
            "recall": float(rec[i]) if len(rec) else 0.0, "reached_target": False}  # fmt: skip


def _bootstrap_ap(p: np.ndarray, y: np.ndarray, n: int = 500, seed: int = 0) -> list[float]:
    """95% percentile bootstrap interval of the average precision (PR-AUC)."""
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n):
        idx = rng.integers(0, len(y), len(y))
        if 0 < y[idx].sum() < len(idx):
            values.append(average_precision_score(y[idx], p[idx]))
    lo, hi = np.percentile(values, [2.5, 97.5]) if values else (float("nan"), float("nan"))
    return [round(float(lo), 4), round(float(hi), 4)]


def _scores(p: np.ndarray, y: np.ndarray, rules: np.ndarray) -> dict[str, Any]:
    from sklearn.metrics import average_precision_score

    has_both = 0 < y.sum() < len(y)
    tp = int(((rules == 1) & (y == 1)).sum())
    rules_precision = float(tp / rules.sum()) if rules.sum() else 0.0
    rules_recall = float(tp / y.sum()) if y.sum() else 0.0
    return {
        "n": len(y), "positives": int(y.sum()),
        "pr_auc": round(float(average_precision_score(y, p)), 4) if has_both else None,
        "pr_auc_ci95": _bootstrap_ap(p, y) if has_both else None,
        "rules_pr_auc": round(float(average_precision_score(y, rules)), 4) if has_both else None,
        "rules_pr_auc_ci95": _bootstrap_ap(rules.astype(float), y) if has_both else None,
        "rules_precision": round(rules_precision, 4), "rules_recall": round(rules_recall, 4),
        "precision_at_rules_recall": (
            None if (v := precision_at_recall(p, y, rules_recall)) is None else round(v, 4)
        ),
        "ece": round(ece(p, y), 4),
    }  # fmt: skip


def train(
    kind: ModelKind,
    data: Path,
    out: Path,
    *,
    embedder: Any,
    precision: float = 0.5,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train, evaluate and write the ``kind`` model to ``out``; returns its card."""
    from agents.smart_reply.service import query_text

    if not data.is_dir():
        raise InputError(f"training data not found: {data} (a folder of mailboxes)")
    if not 0 < precision < 1:
        raise InputError("--precision must be between 0 and 1")
    log(f"reading and labelling {data}")
    examples = load_examples(data)
    owners = sorted({e.owner for e in examples})
    if len(owners) < 2:
        raise InputError(
            f"{data} holds {len(owners)} mailbox owner(s); held-out evaluation needs 2+"
        )
    log(f"{len(examples)} received messages of {len(owners)} owners; embedding")
    vectors = embedder.embed([query_text(e.message) for e in examples])
    x, y = _matrix(examples, vectors, kind), _labels(examples, kind)
    rules = _rules(examples)
    names = [*HAND_FEATURES, *(f"emb{i}" for i in range(vectors.shape[1]))]
    owner_of = np.array([e.owner for e in examples])
    stamps = np.array([(e.message.date or datetime(1970, 1, 1, tzinfo=UTC)).timestamp()
                       for e in examples])  # fmt: skip

    def time_split(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = np.flatnonzero(mask)
        idx = idx[np.argsort(stamps[idx], kind="stable")]
        cut = int(len(idx) * (1 - CALIBRATION_SHARE))
        return idx[:cut], idx[cut:]

    folds: dict[str, Any] = {}
    for owner in owners:
        fit_idx, cal_idx = time_split(owner_of != owner)
        model = _model(kind, x[fit_idx], y[fit_idx], x[cal_idx], y[cal_idx], seed, names)
        test = owner_of == owner
        p = model.probabilities(x[test])
        folds[owner] = _scores(p, y[test], rules[test])
        log(f"held-out {owner}: {folds[owner]}")
    fit_idx, cal_idx = time_split(np.ones(len(examples), dtype=bool))
    model = _model(kind, x[fit_idx], y[fit_idx], x[cal_idx], y[cal_idx], seed, names)
    p_cal = model.probabilities(x[cal_idx])
    chosen = choose_threshold(p_cal, y[cal_idx], precision)
    digest = hashlib.sha256(json.dumps(model.as_json()["weights"]).encode()).hexdigest()[:10]
    commit, dirty = git_state()
    version = f"{kind}-{datetime.now(UTC):%Y%m%d}-{digest}"
    card = {
        "kind": kind, "version": version, "trained_at": datetime.now(UTC).isoformat(),
        "data": str(data), "data_fingerprint": fingerprint(data), "owners": owners,
        "examples": len(examples), "positives": int(y.sum()),
        "label": "owner replied" if kind == "trigger" else
                 "replied within 24 h, filed in an own folder, or from someone the owner writes to",
        "features": {"hand": list(HAND_FEATURES), "embedding": f"{embedder.name} "
                     f"{vectors.shape[1]}-d of query_text", "feature_version": FEATURE_VERSION,
                     "excluded": list(PRIORITY_EXCLUDED) if kind == "priority" else []},
        "hyperparameters": {"model": "LogisticRegression", "C": C, "class_weight": "balanced",
                            "calibration": "Platt", "calibration_share": CALIBRATION_SHARE,
                            "seed": seed},
        "held_out_owners": folds,
        "threshold": {"target_precision": precision, **{k: round(v, 4) if isinstance(v, float)
                      else v for k, v in chosen.items()}},
        "calibration_set": _scores(p_cal, y[cal_idx], rules[cal_idx]),
        "commit": commit, "dirty_tree": dirty, "machine": machine(),
    }  # fmt: skip
    final = LearnedModel(
        kind=kind, version=version, feature_names=names, embedding=True, mean=model.mean,
        scale=model.scale, weights=model.weights, bias=model.bias, platt=model.platt,
        threshold=float(chosen["threshold"]), card=card,
    )  # fmt: skip
    path = final.save(out)
    (out / "card.json").write_text(json.dumps(card, indent=2))
    log(f"written {path}")
    return card
