"""Learned classifiers over one message: the smart-reply trigger and a priority score.

Both are logistic regressions trained by ``mailmind train trigger|priority`` (``evals/training``)
on behaviour in real mailboxes, stored as plain JSON (feature names, scaling, weights, Platt
calibration, the decision threshold and the metrics card) - no pickle, nothing executable - and
applied here with numpy only. The service uses a model when ``<data_dir>/models/<kind>/model.json``
exists and falls back to the hand-written rules (:mod:`agents.smart_reply.trigger`) otherwise.

Features (:func:`features`) are the same at training and serving time: header facts (lists,
automation, recipients and where the user stands in them), what the text asks (questions,
requests, thanks, dates), the sender's history with the user (how often the user wrote to them
and heard from them before), and the MiniLM vector of :func:`~agents.smart_reply.service.query_text`
(the one the chip path embeds anyway, so the classifier costs no extra encoding).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from agents.smart_reply.schemas import TriggerDecision
from agents.smart_reply.trigger import _NEWS, _NO_ACTION, _NO_REPLY_LOCAL, _REQUEST, _THANKS
from core.errors import ModelError
from core.types import Message

ModelKind = Literal["trigger", "priority"]
#: Bump when :func:`features` changes meaning: a model of another version is refused.
FEATURE_VERSION = 1
_DATE_WORDS = re.compile(
    r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b|\btomorrow\b|\btoday\b|\bnext week\b|"
    r"\b\d{1,2}(?::\d{2})?\s?(?:am|pm)\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
    r"[a-z]*\.? \d{1,2}\b",
    re.I,
)
_FORWARD = re.compile(r"^\s*(?:fw|fwd)\s*:", re.I)

HAND_FEATURES: tuple[str, ...] = (
    "list_headers", "bulk_precedence", "auto_submitted", "no_reply_sender", "n_to_log",
    "n_cc_log", "user_first_in_to", "user_in_to", "user_only_in_cc", "user_not_addressed",
    "sender_same_domain", "subject_is_reply", "subject_is_forward", "has_attachment",
    "question", "request", "thanks", "news", "no_action", "date_words", "words_log",
    "user_wrote_to_sender", "wrote_to_sender_log", "heard_from_sender_log",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SenderHistory:
    """What the user's mail says about a sender before this message."""

    messages_to: int = 0  # the user wrote to them
    messages_from: int = 0  # they wrote to the user


def hand_features(
    message: Message, *, user_emails: frozenset[str], history: SenderHistory
) -> list[float]:
    """The non-embedding features, in :data:`HAND_FEATURES` order."""
    headers = message.headers
    sender = message.sender.email.lower() if message.sender else ""
    to = [a.email.lower() for a in message.to if a.email]
    cc = [a.email.lower() for a in message.cc if a.email]
    in_to = any(a in user_emails for a in to)
    in_cc = any(a in user_emails for a in cc)
    own_domains = {e.rsplit("@", 1)[-1] for e in user_emails}
    text = f"{message.subject}\n{message.new_text or message.body_text[:2000]}"
    auto = headers.get("auto-submitted", "").strip().lower()
    return [
        float(any(h in headers for h in ("list-id", "list-unsubscribe", "list-post"))),
        float(headers.get("precedence", "").strip().lower() in {"bulk", "list", "junk"}),
        float(bool(auto) and auto != "no"),
        float(bool(_NO_REPLY_LOCAL.match(sender.split("@", 1)[0])) if sender else 0.0),
        math.log1p(len(to)),
        math.log1p(len(cc)),
        float(bool(to) and to[0] in user_emails),
        float(in_to),
        float(in_cc and not in_to),
        float(bool(user_emails) and not in_to and not in_cc),
        float(bool(sender) and sender.rsplit("@", 1)[-1] in own_domains),
        float(message.subject_is_reply),
        float(bool(_FORWARD.match(message.subject))),
        float(bool(message.attachments)),
        float("?" in text),
        float(bool(_REQUEST.search(text))),
        float(bool(_THANKS.search(text))),
        float(bool(_NEWS.search(text))),
        float(bool(_NO_ACTION.search(text))),
        float(bool(_DATE_WORDS.search(text))),
        math.log1p(len(text.split())),
        float(history.messages_to > 0),
        math.log1p(history.messages_to),
        math.log1p(history.messages_from),
    ]


def features(
    message: Message,
    vector: np.ndarray | None,
    *,
    user_emails: frozenset[str],
    history: SenderHistory,
    embedding: bool = True,
) -> np.ndarray:
    """Hand features, then the message's query vector when the model uses one."""
    hand = np.asarray(hand_features(message, user_emails=user_emails, history=history))
    if not embedding:
        return hand
    if vector is None:
        raise ModelError("this model needs the message's embedding")
    return np.concatenate([hand, np.asarray(vector, dtype=np.float64)])


@dataclass(frozen=True, slots=True)
class LearnedModel:
    """A trained classifier as stored in ``model.json`` (see :meth:`save` / :func:`load_model`)."""

    kind: ModelKind
    version: str
    feature_names: list[str]
    embedding: bool
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    #: Platt scaling of the raw score: p = sigmoid(a * score + b).
    platt: tuple[float, float]
    threshold: float
    card: dict[str, Any] = field(default_factory=dict)

    def probability(self, x: np.ndarray) -> float:
        """Calibrated probability of the positive class for one feature vector."""
        if x.shape != self.mean.shape:
            raise ModelError(
                f"the {self.kind} model {self.version} takes {self.mean.shape[0]} features, got "
                f"{x.shape[0]}: it was trained with another embedding model; retrain it"
            )
        raw = float(((x - self.mean) / self.scale) @ self.weights + self.bias)
        a, b = self.platt
        return 1.0 / (1.0 + math.exp(-(a * raw + b)))

    def probabilities(self, xs: np.ndarray) -> np.ndarray:
        """:meth:`probability` for a matrix of rows."""
        raw = ((xs - self.mean) / self.scale) @ self.weights + self.bias
        a, b = self.platt
        return np.asarray(1.0 / (1.0 + np.exp(-(a * raw + b))))

    def as_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "kind": self.kind, "version": self.version, "feature_version": FEATURE_VERSION,
            "feature_names": self.feature_names, "embedding": self.embedding,
            "mean": self.mean.tolist(), "scale": self.scale.tolist(),
            "weights": self.weights.tolist(), "bias": self.bias, "platt": list(self.platt),
            "threshold": self.threshold, "card": self.card,
        }  # fmt: skip

    def save(self, folder: Path) -> Path:
        """Write ``folder/model.json`` (atomically) and return its path."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "model.json"
        tmp = folder / ".model.json.tmp"
        tmp.write_text(json.dumps(self.as_json(), indent=1))
        tmp.replace(path)
        return path


def model_path(data_dir: Path, kind: ModelKind) -> Path:
    """Where the service looks for the ``kind`` model."""
    return data_dir / "models" / kind / "model.json"


def parse_model(data: dict[str, Any], source: str = "<model>") -> LearnedModel:
    """A model from its JSON form; :class:`ModelError` for anything inconsistent."""
    try:
        if data.get("feature_version") != FEATURE_VERSION:
            raise ModelError(
                f"{source} was trained on feature version {data.get('feature_version')}, this "
                f"code computes {FEATURE_VERSION}: retrain it with `mailmind train {data['kind']}`"
            )
        names = [str(n) for n in data["feature_names"]]
        if names[: len(HAND_FEATURES)] != list(HAND_FEATURES):
            raise ModelError(f"{source}: its features are not the ones this code computes")
        model = LearnedModel(
            kind=data["kind"], version=str(data["version"]), feature_names=names,
            embedding=bool(data["embedding"]), mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            weights=np.asarray(data["weights"], dtype=np.float64), bias=float(data["bias"]),
            platt=(float(data["platt"][0]), float(data["platt"][1])),
            threshold=float(data["threshold"]), card=dict(data.get("card", {})),
        )  # fmt: skip
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ModelError(f"{source} is not a mailmind classifier: {exc}") from exc
    n = len(model.feature_names)
    if not (model.mean.shape == model.scale.shape == model.weights.shape == (n,)):
        raise ModelError(f"{source}: {n} features but arrays of other sizes")
    return model


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> LearnedModel:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the classifier {path}: {exc}") from exc
    return parse_model(data, path)


def load_model(data_dir: Path | None, kind: ModelKind) -> LearnedModel | None:
    """The ``kind`` model of ``data_dir``, or ``None`` when none was trained (rules apply).

    Cached per file modification time, so a retrained model is picked up without a restart.
    """
    if data_dir is None:
        return None
    path = model_path(data_dir, kind)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    return _load(str(path), mtime)


def learned_decision(
    rules: TriggerDecision, probability: float, model: LearnedModel
) -> TriggerDecision:
    """The trigger decision with the model's say: chips when ``probability`` reaches the
    model's threshold. The rules' reason code is kept when both agree (chip ranking uses it)."""
    triggered = probability >= model.threshold
    sign = ">=" if triggered else "<"
    detail = (
        f"reply probability {probability:.2f} {sign} {model.threshold:.2f} "
        f"(trigger {model.version})"
    )
    if triggered == rules.triggered:
        return TriggerDecision(
            triggered=triggered, reason=rules.reason, detail=f"{rules.detail}; {detail}"
        )
    return TriggerDecision(triggered=triggered, reason="learned", detail=detail)
