"""The agent eval task set: pydantic models for ``tasks.yaml`` and a validating loader.

File shape::

    now: 2026-11-25T09:00:00-08:00     # the eval's fixed clock ("tomorrow" resolves against it)
    user: demo
    timezone: America/Los_Angeles
    tasks:
      - id: mail-jose-quote
        category: mail_search
        question: "what did José quote us for the housings"
        tools: [search_mailbox]          # the first one is the expected *first* tool call
        facts:
          - "4.12"                        # plain string: must occur in the answer
          - any_of: ["slate grey", "slate gray"]
          - date: 2027-01-12             # expands to "12 Jan", "January 12", "2027-01-12", ...

Validation: ids unique and slug-shaped, tools from :data:`TOOLS`, at least one tool and one fact
per task, an aware ``now`` and a known time zone.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import InputError
from evals.agent.metrics import date_variants

DEFAULT_TASKS = Path(__file__).with_name("tasks.yaml")

ToolName = Literal[
    "search_mailbox",
    "read_thread",
    "read_message",
    "list_events",
    "find_free_time",
    "lookup_contacts",
    "list_messages",
]
# "thread" = the answer needs a whole thread or message (read_thread / read_message).
Category = Literal["mail_search", "thread", "calendar", "free_time", "contacts", "multi_tool"]

#: The agent's tools, in the order reports list them.
TOOLS: tuple[str, ...] = get_args(ToolName)
#: Task categories, in the order reports list them.
CATEGORIES: tuple[str, ...] = get_args(Category)


class Fact(BaseModel):
    """One fact a correct answer states: any one of ``any_of``, or the calendar ``date``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    any_of: tuple[str, ...] = ()
    date: dt.date | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_plain_string(cls, value: Any) -> Any:
        return {"any_of": [value]} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _not_empty(self) -> Fact:
        if not any(a.strip() for a in self.any_of) and self.date is None:
            raise ValueError("a fact needs a non-empty string, `any_of` or `date`")
        return self

    def alternatives(self) -> list[str]:
        """Every accepted spelling of the fact."""
        return [*self.any_of, *(date_variants(self.date) if self.date else [])]

    @property
    def label(self) -> str:
        """Short human-readable form for reports."""
        if self.date is not None:
            return self.date.isoformat()
        return self.any_of[0] if len(self.any_of) == 1 else " | ".join(self.any_of)


class Task(BaseModel):
    """One question, the tools a correct agent calls, and the facts its answer must contain."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    category: Category
    question: str = Field(min_length=1)
    tools: tuple[ToolName, ...] = Field(min_length=1)
    facts: tuple[Fact, ...] = Field(min_length=1)
    note: str = ""

    @field_validator("tools")
    @classmethod
    def _no_repeats(cls, tools: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(tools)) != len(tools):
            raise ValueError(f"tools listed twice: {list(tools)}")
        return tools

    @property
    def first_tool(self) -> str:
        """The tool a correct agent calls first."""
        return self.tools[0]


class TaskSet(BaseModel):
    """The whole task file: the fixed clock, the user the questions are asked as, the tasks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    now: dt.datetime
    user: str = Field(min_length=1)
    timezone: str
    tasks: tuple[Task, ...] = Field(min_length=1)

    @field_validator("now")
    @classmethod
    def _aware(cls, now: dt.datetime) -> dt.datetime:
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("`now` needs a UTC offset, e.g. 2026-11-25T09:00:00-08:00")
        return now

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r}") from exc
        return name

    @model_validator(mode="after")
    def _unique_ids(self) -> TaskSet:
        dupes = sorted(i for i, n in Counter(t.id for t in self.tasks).items() if n > 1)
        if dupes:
            raise ValueError(f"duplicate task ids: {dupes}")
        return self

    @property
    def local_now(self) -> dt.datetime:
        """``now`` in the task set's time zone."""
        return self.now.astimezone(ZoneInfo(self.timezone))


def parse_tasks(data: Any, *, source: str = "<data>") -> TaskSet:
    """Validate already-loaded YAML data; raises :class:`InputError` naming the bad fields."""
    try:
        return TaskSet.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"invalid agent eval task file {source}: {exc}") from exc


def load_tasks(path: str | Path | None = None) -> TaskSet:
    """Load and validate a task file (default: the packaged ``evals/agent/tasks.yaml``)."""
    import yaml

    file = Path(path) if path is not None else DEFAULT_TASKS
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read agent eval task file {file}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"agent eval task file {file} is not valid YAML: {exc}") from exc
    return parse_tasks(data, source=str(file))
