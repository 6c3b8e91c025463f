"""Bodies of ``POST /v1/feedback`` and ``GET /v1/feedback/stats``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from core.ids import ConversationId
from retrieval.store.feedback import MAX_TEXT, FeedbackRecord


class FeedbackIn(BaseModel):
    """One feedback signal: a chip choice, a thumbs up/down, and/or an edit."""

    kind: Literal["chip", "answer", "summary", "draft"] = Field(
        description="What the feedback is about."
    )
    # Message and thread ids are conversation-id shaped too, so one check covers all three.
    target_id: ConversationId | None = Field(
        None,
        description="The message, thread or conversation the feedback is about. A message or "
        "thread id must be one of the key's user's (404 otherwise).",
    )
    chip_chosen: int | None = Field(
        None,
        ge=0,
        description="`kind: chip` only: index into `chips_shown` of the chip the user picked; "
        "null when they picked none.",
    )
    chips_shown: list[str] = Field(
        default_factory=list, max_length=10, description="The chips the user saw, in order."
    )
    rating: Literal["up", "down"] | None = Field(None, description="Thumbs up or down.")
    reason: str | None = Field(None, max_length=2000, description="Why (usually with a rating).")
    suggestion: str | None = Field(
        None, max_length=MAX_TEXT, description="What mailmind suggested (a chip or draft text)."
    )
    sent_text: str | None = Field(
        None,
        max_length=MAX_TEXT,
        description="What the user actually sent; with `suggestion` the server stores their "
        "edit distance.",
    )

    model_config = {
        "extra": "forbid",
        "json_schema_extra": {
            "examples": [
                {
                    "kind": "chip",
                    "target_id": "m3f1c2b9a0d4e5f60718a",
                    "chip_chosen": 1,
                    "chips_shown": ["Yes, Tuesday works.", "Can we do Wednesday?", "No, sorry."],
                },
                {
                    "kind": "summary",
                    "target_id": "t9a8b7c6d5e4f30211a2b",
                    "rating": "down",
                    "reason": "missed the new delivery date",
                },
                {
                    "kind": "draft",
                    "target_id": "m3f1c2b9a0d4e5f60718a",
                    "suggestion": "Thanks, Tuesday works for me.",
                    "sent_text": "Thanks Kenji, Tuesday 10am works for me.",
                },
            ],
        },
    }

    def record(self) -> FeedbackRecord:
        """The store's record for this signal."""
        return FeedbackRecord(
            kind=self.kind,
            target_id=self.target_id,
            rating=self.rating,
            reason=self.reason,
            chip_chosen=self.chip_chosen,
            chips_shown=list(self.chips_shown),
            suggestion=self.suggestion,
            sent_text=self.sent_text,
        )


class FeedbackOut(BaseModel):
    """The stored signal."""

    id: int = Field(examples=[42])
    kind: Literal["chip", "answer", "summary", "draft"]
    target_id: str | None
    edit_distance: int | None = Field(
        description="Levenshtein distance between suggestion and sent text (characters).",
        examples=[11],
    )
    edit_distance_norm: float | None = Field(
        description="The same distance divided by the longer text's length (0..1).",
        examples=[0.275],
    )
    prompt_version: str | None = Field(
        None,
        description="The prompt (`name@version`) or chip set (`responses@<sha>`) in force when "
        "the signal was stored; the feedback eval compares versions by it.",
        examples=["draft_reply@3"],
    )


class ChipStats(BaseModel):
    """Chip choices (chip feedback without a rating)."""

    choices: int
    chosen: int
    acceptance_rate: float | None = Field(description="chosen / choices; null when no choices.")


class RatingStats(BaseModel):
    """Thumbs up/down."""

    up: int
    down: int
    up_rate: float | None = Field(description="up / (up + down); null when no ratings.")


class EditStats(BaseModel):
    """Edits between a suggestion and what was sent."""

    count: int
    mean_distance: float | None
    mean_normalized_distance: float | None


class FeedbackStats(BaseModel):
    """The key's user's feedback in numbers."""

    total: int
    by_kind: dict[str, int]
    chip: ChipStats
    ratings: RatingStats
    edits: EditStats

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "total": 5,
                    "by_kind": {"chip": 3, "answer": 1, "summary": 1, "draft": 0},
                    "chip": {"choices": 3, "chosen": 2, "acceptance_rate": 0.666667},
                    "ratings": {"up": 1, "down": 1, "up_rate": 0.5},
                    "edits": {
                        "count": 1,
                        "mean_distance": 11.0,
                        "mean_normalized_distance": 0.275,
                    },
                }
            ]
        }
    }
