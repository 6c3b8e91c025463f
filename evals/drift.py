"""``mailmind eval drift --since DATE``: did the input or the quality signals move?

Input features of the mail stored since ``DATE`` (the current window) against the
``--reference-days`` before it: language (``langdetect``), length in words (binned), sender
domain (the reference window's top ten, the rest as ``other``) and HTML-only share; and the
feedback signals of the same windows (chip acceptance, thumbs, edit distance, binned), and - when
trained - the learned trigger's and priority model's probabilities on the mail received in each
window (``model:trigger``, ``model:priority``, in tenths). For each
feature the population-stability index PSI = sum((cur - ref) * ln(cur / ref)) over its bins:
below 0.1 stable, 0.1-0.25 moderate, above 0.25 a real shift. Writes ``drift.json`` and
``drift.png`` (PSI per feature).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import InputError
from core.settings import Settings

if TYPE_CHECKING:
    from core.types import Message

LENGTH_BINS = (20, 50, 100, 200, 500, 1000)
EDIT_BINS = (0.1, 0.25, 0.5, 0.75)
#: Bins of a classifier's probability (``model:trigger``, ``model:priority``).
SCORE_BINS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
_EPS = 1e-4  # empty bins: keep the logarithm finite
STABLE, SHIFT = 0.1, 0.25


def psi(reference: dict[str, float], current: dict[str, float]) -> float:
    """Population-stability index of two distributions over the same bins (shares)."""
    total = 0.0
    for key in set(reference) | set(current):
        r = max(reference.get(key, 0.0), _EPS)
        c = max(current.get(key, 0.0), _EPS)
        total += (c - r) * math.log(c / r)
    return total


def shares(values: Sequence[str]) -> dict[str, float]:
    """Share of each value."""
    counts = Counter(values)
    n = sum(counts.values())
    return {k: v / n for k, v in counts.items()} if n else {}


def bin_of(x: float, edges: Sequence[float]) -> str:
    """The label of the bin ``x`` falls in (``<=20``, ``<=50``, ... ``>1000``)."""
    for edge in edges:
        if x <= edge:
            return f"<={edge:g}"
    return f">{edges[-1]:g}"


def language(text: str) -> str:
    """ISO code of the text's language (``unknown`` when too short to tell)."""
    from langdetect import DetectorFactory, LangDetectException, detect

    DetectorFactory.seed = 0  # langdetect is randomised: make it reproducible
    sample = " ".join(text.split()[:80])
    if len(sample) < 20:
        return "unknown"
    try:
        return str(detect(sample))
    except LangDetectException:
        return "unknown"


def domain(message: Message) -> str:
    """The sender's domain, lower-cased (``none`` without a sender)."""
    email = message.sender.email if message.sender else ""
    return email.rsplit("@", 1)[-1].lower() if "@" in email else "none"


FEATURES: dict[str, Callable[[Message], str]] = {
    "language": lambda m: language(m.body_text),
    "length_words": lambda m: bin_of(len(m.body_text.split()), LENGTH_BINS),
    "sender_domain": domain,
    "html_only": lambda m: str(bool(m.body_from_html)).lower(),
}


def feature_drift(ref: list[Message], cur: list[Message]) -> dict[str, dict[str, Any]]:
    """Per input feature: reference and current shares and the PSI."""
    out: dict[str, dict[str, Any]] = {}
    for name, fn in FEATURES.items():
        r_vals, c_vals = [fn(m) for m in ref], [fn(m) for m in cur]
        if name == "sender_domain":  # bounded bins: the reference's top ten, the rest "other"
            top = {d for d, _ in Counter(r_vals).most_common(10)}
            r_vals = [v if v in top else "other" for v in r_vals]
            c_vals = [v if v in top else "other" for v in c_vals]
        r, c = shares(r_vals), shares(c_vals)
        out[name] = {"reference": r, "current": c, "psi": round(psi(r, c), 4) if r and c else None}
    return out


def signal_values(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The feedback signals of ``rows`` as categorical values."""
    out: dict[str, list[str]] = {"chip_acceptance": [], "thumbs": [], "edit_distance": []}
    for r in rows:
        if r["kind"] == "chip" and r["rating"] is None:
            out["chip_acceptance"].append("chosen" if r["chip_chosen"] is not None else "none")
        if r["rating"] is not None:
            out["thumbs"].append(r["rating"])
        if r["edit_distance_norm"] is not None:
            out["edit_distance"].append(bin_of(r["edit_distance_norm"], EDIT_BINS))
    return out


def model_scores(services: Any, user: str, messages: list[Message]) -> dict[str, list[str]]:
    """Binned probabilities of the trained trigger and priority models (when trained) on the
    mail ``user`` received among ``messages``: a model whose scores move while users' behaviour
    does not (or the reverse) has stopped fitting. Empty without a trained model."""
    from agents.smart_reply.learned import SenderHistory, features, load_model
    from agents.smart_reply.service import query_text, user_addresses
    from agents.smart_reply.trigger import is_sent_folder

    models = {k: load_model(services.settings.data_dir, k) for k in ("trigger", "priority")}
    if not any(models.values()):
        return {}
    emails = user_addresses(services.store, user)
    received = [
        m for m in messages
        if not is_sent_folder(m.folder) and not (m.sender and m.sender.email.lower() in emails)
    ]  # fmt: skip
    vectors = services.embedder.embed([query_text(m) for m in received])
    out: dict[str, list[str]] = {}
    for kind, model in models.items():
        if model is None:
            continue
        values = []
        for m, vector in zip(received, vectors, strict=True):
            contact = services.pim.contacts.get_by_email(user, m.sender.email) if m.sender else None
            history = SenderHistory(contact.messages_to, contact.messages_from) if contact else (
                SenderHistory())  # fmt: skip
            x = features(m, vector, user_emails=emails, history=history, embedding=model.embedding)
            values.append(bin_of(model.probability(x), SCORE_BINS))
        out[f"model:{kind}"] = values
    return out


def verdict(value: float | None) -> str:
    """``stable``, ``moderate`` or ``shift`` (``no data`` without both windows)."""
    if value is None:
        return "no data"
    return "stable" if value < STABLE else "moderate" if value <= SHIFT else "shift"


def run_drift(
    settings: Settings, *, since: str, reference_days: int = 30, user: str | None = None,
    out: Path | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Compute the drift report (and write ``drift.json`` + ``drift.png`` into ``out``)."""
    from api.services import Services

    try:
        start = datetime.combine(date.fromisoformat(since), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        raise InputError(f"--since must be an ISO date (YYYY-MM-DD): {since!r}") from None
    if reference_days < 1:
        raise InputError("--reference-days must be at least 1")
    ref_start = start - timedelta(days=reference_days)
    services = Services(settings)
    try:
        users = [user] if user else services.store.users()
        ref: list[Message] = []
        cur: list[Message] = []
        rows: list[dict[str, Any]] = []
        r_scores: dict[str, list[str]] = {}
        c_scores: dict[str, list[str]] = {}
        for u in users:
            u_ref = services.store.list_messages(u, after=ref_start, before=start, limit=100_000)
            u_cur = services.store.list_messages(u, after=start, limit=100_000)
            ref += u_ref
            cur += u_cur
            rows += [s.as_dict() for s in services.feedback.list(u, limit=1_000_000)]
            for scores, window in ((r_scores, u_ref), (c_scores, u_cur)):
                for name, values in model_scores(services, u, window).items():
                    scores.setdefault(name, []).extend(values)
    finally:
        services.close()
    ref_rows = [r for r in rows if ref_start.isoformat() <= r["created_at"] < start.isoformat()]
    cur_rows = [r for r in rows if r["created_at"] >= start.isoformat()]
    features = feature_drift(ref, cur)
    r_sig, c_sig = signal_values(ref_rows), signal_values(cur_rows)
    for name in r_sig:
        r, c = shares(r_sig[name]), shares(c_sig[name])
        features[f"signal:{name}"] = {
            "reference": r,
            "current": c,
            "psi": round(psi(r, c), 4) if r and c else None,
        }
    for name in sorted(set(r_scores) | set(c_scores)):
        r, c = shares(r_scores.get(name, [])), shares(c_scores.get(name, []))
        features[name] = {
            "reference": r,
            "current": c,
            "psi": round(psi(r, c), 4) if r and c else None,
        }
    for f in features.values():
        f["verdict"] = verdict(f["psi"])
    report = {
        "since": start.date().isoformat(), "reference_from": ref_start.date().isoformat(),
        "users": users, "messages": {"reference": len(ref), "current": len(cur)},
        "feedback_rows": {"reference": len(ref_rows), "current": len(cur_rows)},
        "thresholds": {"stable_below": STABLE, "shift_above": SHIFT}, "features": features,
    }  # fmt: skip
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "drift.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
        chart(report, out / "drift.png")
    return report


def chart(report: dict[str, Any], path: Path) -> Path:
    """Horizontal bars of PSI per feature with the two thresholds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["features"])
    values = [report["features"][n]["psi"] or 0.0 for n in names]
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(names) + 1.2))
    ax.barh(names, values, color=["#d62728" if v > SHIFT else "#1f77b4" for v in values])
    for x in (STABLE, SHIFT):
        ax.axvline(x, color="grey", linestyle="--", linewidth=1)
    ax.invert_yaxis()
    ax.set_xlabel("population-stability index")
    ax.set_title(f"drift since {report['since']} vs {report['reference_from']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def format_drift(report: dict[str, Any]) -> str:
    """Console table."""
    lines = [
        f"drift since {report['since']} (reference from {report['reference_from']}): "
        f"messages {report['messages']['reference']} -> {report['messages']['current']}, "
        f"feedback rows {report['feedback_rows']['reference']} -> "
        f"{report['feedback_rows']['current']}",
        f"{'feature':<26}{'PSI':>8}  verdict",
    ]
    for name, f in report["features"].items():
        value = "-" if f["psi"] is None else f"{f['psi']:.3f}"
        lines.append(f"{name:<26}{value:>8}  {f['verdict']}")
    return "\n".join(lines)
