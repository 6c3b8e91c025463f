"""User feedback on what the assistant produced, stored per user for evaluation.

One row is one signal from a client (``POST /v1/feedback``):

- a **chip choice** (``kind="chip"``, no rating): which smart-reply chip the user picked, or
  ``chip_chosen=None`` when they picked none of ``chips_shown``;
- a **rating** (any kind, ``rating`` up/down, optional ``reason``): a thumbs up or down on an
  answer, a summary, a chip or a draft;
- an **edit** (``suggestion`` and ``sent_text``): what we suggested and what the user actually
  sent; the Levenshtein distance between the two (raw and normalised to 0..1) is computed here,
  so every writer stores it the same way.

A row may carry more than one signal (a rating and an edit). :meth:`FeedbackStore.stats` turns
them into the numbers evaluation and ``/metrics`` report: the chip acceptance rate (share of chip
choices where a chip was chosen), the thumbs-up rate and the mean edit distance.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from rapidfuzz.distance import Levenshtein

from core.errors import InputError
from retrieval.store.base import check_user
from retrieval.store.migrations import apply_migrations, split_statements
from retrieval.store.pim_sqlite import connect, from_ts, now_ts

if TYPE_CHECKING:
    from core.settings import Settings

FeedbackKind = Literal["chip", "answer", "summary", "draft"]
Rating = Literal["up", "down"]
KINDS: tuple[str, ...] = get_args(FeedbackKind)
RATINGS: tuple[str, ...] = get_args(Rating)
#: Longest reason, suggestion or sent text kept (longer input is refused, not truncated).
MAX_TEXT = 20_000

_COMPONENT = "feedback"
_V1 = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    target_id TEXT,
    rating TEXT CHECK (rating IS NULL OR rating IN ('up', 'down')),
    reason TEXT,
    chip_chosen INTEGER,
    chips_shown_json TEXT,
    suggestion TEXT,
    sent_text TEXT,
    edit_distance INTEGER,
    edit_distance_norm REAL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_feedback_user ON feedback(user_id, kind, id);
"""
#: Append-only migrations (see :mod:`retrieval.store.migrations`): v2 records which prompt (or
#: response-set) version produced what the feedback is about.
MIGRATIONS: list[list[str]] = [
    split_statements(_V1),
    ["ALTER TABLE feedback ADD COLUMN prompt_version TEXT"],
]


def edit_distance(suggestion: str, sent: str) -> tuple[int, float]:
    """Levenshtein distance between ``suggestion`` and ``sent``, raw and normalised (0 = same,
    1 = nothing in common)."""
    return (
        int(Levenshtein.distance(suggestion, sent)),
        float(Levenshtein.normalized_distance(suggestion, sent)),
    )


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    """One feedback signal as a client sends it (the distances are filled in by the store)."""

    kind: FeedbackKind
    target_id: str | None = None
    rating: Rating | None = None
    reason: str | None = None
    #: Index into ``chips_shown`` of the chip the user picked; ``None`` = none was picked.
    chip_chosen: int | None = None
    chips_shown: list[str] = field(default_factory=list)
    suggestion: str | None = None
    sent_text: str | None = None
    edit_distance: int | None = None
    edit_distance_norm: float | None = None
    #: ``name@version`` of the prompt (or ``responses@<sha>`` of the chip set) in force when the
    #: signal arrived; filled in by the service, not the client.
    prompt_version: str | None = None

    def validated(self) -> FeedbackRecord:
        """The record with its edit distance computed; :class:`InputError` when inconsistent."""
        if self.kind not in KINDS:
            raise InputError(f"feedback kind must be one of {list(KINDS)}: {self.kind!r}")
        if self.rating is not None and self.rating not in RATINGS:
            raise InputError(f"rating must be one of {list(RATINGS)}: {self.rating!r}")
        if self.chip_chosen is not None:
            if self.kind != "chip":
                raise InputError("chip_chosen is only meaningful for kind 'chip'")
            if self.chip_chosen < 0 or (
                self.chips_shown and self.chip_chosen >= len(self.chips_shown)
            ):
                raise InputError(f"chip_chosen {self.chip_chosen} is not an index into chips_shown")
        if (self.suggestion is None) != (self.sent_text is None):
            raise InputError("an edit needs both suggestion and sent_text")
        for name in ("reason", "suggestion", "sent_text"):
            value = getattr(self, name)
            if value is not None and len(value) > MAX_TEXT:
                raise InputError(f"{name} is longer than {MAX_TEXT} characters")
        if self.kind != "chip" and self.rating is None and self.suggestion is None:
            raise InputError("feedback needs a rating or a suggestion/sent_text pair")
        if self.suggestion is not None and self.sent_text is not None:
            dist, norm = edit_distance(self.suggestion, self.sent_text)
            return replace(self, edit_distance=dist, edit_distance_norm=norm)
        return replace(self, edit_distance=None, edit_distance_norm=None)

    @property
    def is_chip_choice(self) -> bool:
        """A chip row without a rating reports which chip (if any) was picked."""
        return self.kind == "chip" and self.rating is None


@dataclass(frozen=True, slots=True)
class StoredFeedback:
    """A stored row: the record, its id and when it arrived."""

    id: int
    created_at: datetime
    record: FeedbackRecord

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        r = self.record
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "kind": r.kind,
            "target_id": r.target_id,
            "rating": r.rating,
            "reason": r.reason,
            "chip_chosen": r.chip_chosen,
            "chips_shown": list(r.chips_shown),
            "suggestion": r.suggestion,
            "sent_text": r.sent_text,
            "edit_distance": r.edit_distance,
            "edit_distance_norm": r.edit_distance_norm,
            "prompt_version": r.prompt_version,
        }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


class FeedbackStore:
    """Feedback rows in the main SQLite file (table ``feedback``), every query per user."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        conn.row_factory = sqlite3.Row
        self.conn = conn
        apply_migrations(conn, _COMPONENT, MIGRATIONS)

    def add(self, user: str, record: FeedbackRecord) -> int:
        """Store one signal of ``user`` (validated, edit distance computed); returns its id."""
        check_user(user)
        r = record.validated()
        with self.conn:
            cur = self.conn.execute(
                "INSERT INTO feedback (user_id, kind, target_id, rating, reason, chip_chosen,"
                " chips_shown_json, suggestion, sent_text, edit_distance, edit_distance_norm,"
                " prompt_version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    user, r.kind, r.target_id, r.rating, r.reason, r.chip_chosen,
                    json.dumps(r.chips_shown, ensure_ascii=False), r.suggestion, r.sent_text,
                    r.edit_distance, r.edit_distance_norm, r.prompt_version, now_ts(),
                ),
            )  # fmt: skip
        assert cur.lastrowid is not None
        return cur.lastrowid

    def list(
        self, user: str, *, kind: FeedbackKind | None = None, limit: int = 100
    ) -> list[StoredFeedback]:
        """``user``'s feedback, newest first, optionally of one ``kind``."""
        check_user(user)
        if limit < 1:
            raise InputError("limit must be at least 1")
        if kind is None:
            rows = self.conn.execute(
                "SELECT * FROM feedback WHERE user_id = ? ORDER BY id DESC LIMIT ?",
                (user, limit),
            )
        else:
            rows = self.conn.execute(
                "SELECT * FROM feedback WHERE user_id = ? AND kind = ? ORDER BY id DESC LIMIT ?",
                (user, kind, limit),
            )
        return [self._row(r) for r in rows]

    def stats(self, user: str) -> dict[str, Any]:
        """Counts and rates of ``user``'s feedback.

        ``chip.acceptance_rate`` is the share of chip choices (chip rows without a rating) where
        a chip was chosen; ``ratings.up_rate`` the share of ratings that are thumbs up; rates are
        ``None`` when there is nothing to divide by.
        """
        check_user(user)
        by_kind = {k: 0 for k in KINDS}
        for r in self.conn.execute(
            "SELECT kind, COUNT(*) AS n FROM feedback WHERE user_id = ? GROUP BY kind", (user,)
        ):
            by_kind[r["kind"]] = r["n"]
        chip = self.conn.execute(
            "SELECT COUNT(*) AS n, COUNT(chip_chosen) AS chosen FROM feedback"
            " WHERE user_id = ? AND kind = 'chip' AND rating IS NULL",
            (user,),
        ).fetchone()
        ratings = self.conn.execute(
            # CASE, not SUM(rating = 'up'): Postgres cannot sum booleans.
            "SELECT COALESCE(SUM(CASE WHEN rating = 'up' THEN 1 ELSE 0 END), 0) AS up,"
            " COALESCE(SUM(CASE WHEN rating = 'down' THEN 1 ELSE 0 END), 0) AS down"
            " FROM feedback WHERE user_id = ? AND rating IS NOT NULL",
            (user,),
        ).fetchone()
        edits = self.conn.execute(
            "SELECT COUNT(edit_distance) AS n, AVG(edit_distance) AS mean,"
            " AVG(edit_distance_norm) AS mean_norm FROM feedback"
            " WHERE user_id = ? AND edit_distance IS NOT NULL",
            (user,),
        ).fetchone()
        up, down = int(ratings["up"]), int(ratings["down"])
        return {
            "total": sum(by_kind.values()),
            "by_kind": by_kind,
            "chip": {
                "choices": chip["n"],
                "chosen": chip["chosen"],
                "acceptance_rate": _rate(chip["chosen"], chip["n"]),
            },
            "ratings": {"up": up, "down": down, "up_rate": _rate(up, up + down)},
            "edits": {
                "count": edits["n"],
                "mean_distance": round(edits["mean"], 3) if edits["n"] else None,
                "mean_normalized_distance": round(edits["mean_norm"], 6) if edits["n"] else None,
            },
        }

    def users(self) -> builtins.list[str]:
        """Users with any feedback, sorted (evaluation and maintenance only)."""
        rows = self.conn.execute("SELECT DISTINCT user_id FROM feedback ORDER BY 1")
        return [str(r[0]) for r in rows]

    def delete_user(self, user: str) -> int:
        """Remove every feedback row of ``user``; returns how many."""
        with self.conn:
            cur = self.conn.execute("DELETE FROM feedback WHERE user_id = ?", (check_user(user),))
        return cur.rowcount

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    @staticmethod
    def _row(row: sqlite3.Row) -> StoredFeedback:
        created = from_ts(row["created_at"])
        assert created is not None
        record = FeedbackRecord(
            kind=row["kind"],
            target_id=row["target_id"],
            rating=row["rating"],
            reason=row["reason"],
            chip_chosen=row["chip_chosen"],
            chips_shown=json.loads(row["chips_shown_json"] or "[]"),
            suggestion=row["suggestion"],
            sent_text=row["sent_text"],
            edit_distance=row["edit_distance"],
            edit_distance_norm=row["edit_distance_norm"],
            prompt_version=row["prompt_version"],
        )
        return StoredFeedback(id=row["id"], created_at=created, record=record)


def open_feedback_store(settings: Settings) -> FeedbackStore:
    """The feedback store in the main SQLite file of ``settings`` (or on its Postgres backend)."""
    if settings.store.backend == "postgres":
        from retrieval.store.postgres import open_postgres_feedback

        return open_postgres_feedback(settings)
    return FeedbackStore(connect(settings.store_path, settings.store.busy_timeout_s))
