"""The curated response set (``responses.yaml``): loading, validation and slot filling.

The YAML file is the single source of the chips mailmind can offer; it is reviewed like code.
:func:`load_responses` validates it strictly (unique ids, known intents, slots, examples) and
records its sha256, which keys the vector collection built from it.
"""

from __future__ import annotations

import hashlib
import re
import string
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import ConfigError

RESPONSES_PATH = Path(__file__).resolve().parent / "responses.yaml"

Intent = Literal[
    "accept",
    "decline",
    "thanks",
    "welcome",
    "will_do",
    "question",
    "defer",
    "acknowledge",
    "approve",
    "reject",
    "congrats",
    "sympathize",
    "confirm_time",
    "propose_time",
]
Polarity = Literal["positive", "negative", "neutral"]
Need = Literal["proposed_time", "alternative_time", "on_calendar"]

#: Slots a response text may use; a {first_name} slot is optional, the others come with ``needs``.
SLOTS = frozenset({"first_name", "proposed_time", "alternative_time"})
_SLOT_FOR_NEED = {"proposed_time": "proposed_time", "alternative_time": "alternative_time"}
_ID_RE = re.compile(r"^[a-z][a-z0-9_]{1,47}$")
# ", {first_name}" / " {first_name}" and the slot itself: removed when no name is used.
_NAME_SLOT = re.compile(r"(?:,\s*|\s+)?\{first_name\}")


class ResponseSpec(BaseModel):
    """One curated reply."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    intent: Intent
    polarity: Polarity
    text: str = Field(min_length=1, max_length=80)
    needs: Need | None = None
    examples: tuple[str, ...] = Field(min_length=2, max_length=4)

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _ID_RE.match(value):
            raise ValueError(f"id {value!r} must be snake_case, 2-48 characters")
        return value

    @field_validator("examples")
    @classmethod
    def _check_examples(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not e.strip() for e in value):
            raise ValueError("examples must not be empty")
        return value

    @model_validator(mode="after")
    def _check_slots(self) -> ResponseSpec:
        slots = {f for _, f, _, _ in string.Formatter().parse(self.text) if f is not None}
        if unknown := slots - SLOTS:
            raise ValueError(f"{self.id}: unknown slots {sorted(unknown)}")
        for need, slot in _SLOT_FOR_NEED.items():
            if slot in slots and self.needs != need:
                raise ValueError(f"{self.id}: slot {{{slot}}} requires `needs: {need}`")
        if not _NAME_SLOT.sub("", self.text).strip(" ,"):
            raise ValueError(f"{self.id}: text is empty without the name")
        return self

    @property
    def has_name_slot(self) -> bool:
        """Whether the text can carry the sender's first name."""
        return "{first_name}" in self.text

    def render(
        self,
        *,
        first_name: str | None = None,
        proposed_time: str | None = None,
        alternative_time: str | None = None,
    ) -> str:
        """The chip text with slots filled; an unused name slot is dropped with its comma."""
        text = self.text
        if not first_name:
            text = _NAME_SLOT.sub("", text)
        text = text.format(
            first_name=first_name or "",
            proposed_time=proposed_time or "",
            alternative_time=alternative_time or "",
        )
        # "{proposed_time} works" starts lower-case when the time is a weekday phrase.
        return text[:1].upper() + text[1:]


class ResponseSet(BaseModel):
    """The whole file, with its content hash."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    responses: tuple[ResponseSpec, ...] = Field(min_length=3)
    sha256: str = ""

    @model_validator(mode="after")
    def _unique(self) -> ResponseSet:
        ids = [r.id for r in self.responses]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate response ids: {dupes}")
        texts = [r.text.lower() for r in self.responses]
        if len(set(texts)) != len(texts):
            raise ValueError("two responses have the same text")
        return self

    def by_id(self, response_id: str) -> ResponseSpec:
        """The response with ``response_id`` (KeyError when unknown)."""
        for response in self.responses:
            if response.id == response_id:
                return response
        raise KeyError(response_id)


def parse_responses(text: str, *, source: str = "responses.yaml") -> ResponseSet:
    """Validate YAML text as a response set (raises :class:`ConfigError` with the reason)."""
    try:
        data = yaml.safe_load(text)
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a mapping with `version` and `responses`")
        data["sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return ResponseSet.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{source}: invalid response set: {exc}") from exc


def load_responses(path: Path = RESPONSES_PATH) -> ResponseSet:
    """Load and validate the response set (cached per path and modification time)."""
    return _load(path, path.stat().st_mtime)


@lru_cache(maxsize=8)
def _load(path: Path, mtime: float) -> ResponseSet:
    del mtime  # cache key only: an edited file is re-read
    return parse_responses(path.read_text(encoding="utf-8"), source=path.name)
