"""Bodies of ``GET /v1/folders``, ``GET /v1/messages`` and ``GET /v1/conversations/{id}``:
what a mail client needs to draw a mailbox and to restore an assistant conversation."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from api.http.schemas.chat import Citation, ToolCallView
from api.http.schemas.mail import MSG_EXAMPLE, THREAD_EXAMPLE, AddressOut

if TYPE_CHECKING:
    from retrieval.store.base import FolderCount, ListedMessage


class FolderOut(BaseModel):
    """One folder of the key's user."""

    name: str = Field(
        description="The folder's name, for `GET /v1/messages?folder=`; messages stored without "
        "a folder (a top-level Maildir, a single mbox) are under `INBOX`.",
        examples=["INBOX"],
    )
    messages: int = Field(examples=[32])
    unread: int = Field(
        description="Messages the source marked unread (Maildir `new/` or no `S` flag, mbox "
        "`Status` without `R`).",
        examples=[4],
    )
    last_date: datetime | None = Field(description="Date of the newest message (UTC).")

    @classmethod
    def of(cls, folder: FolderCount) -> FolderOut:
        """Wire form of a :class:`~retrieval.store.base.FolderCount`."""
        return cls(
            name=folder.name,
            messages=folder.messages,
            unread=folder.unread,
            last_date=folder.last_date,
        )


class FolderList(BaseModel):
    """The key's user's folders, by name."""

    folders: list[FolderOut]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "folders": [
                        {"name": ".Sent", "messages": 15, "unread": 0, "last_date": None},
                        {
                            "name": "INBOX",
                            "messages": 32,
                            "unread": 4,
                            "last_date": "2026-12-04T19:05:00Z",
                        },
                    ]
                }
            ]
        }
    }


class MessageRowOut(BaseModel):
    """One row of a message list."""

    id: str = Field(examples=[MSG_EXAMPLE])
    thread_id: str | None = Field(examples=[THREAD_EXAMPLE])
    thread_size: int = Field(description="Messages in this message's thread.", examples=[3])
    folder: str = Field(examples=["INBOX"])
    subject: str = Field(examples=["Re: Quote request: NW-200 sensor housings"])
    sender: AddressOut | None
    date: datetime | None
    unread: bool
    has_attachments: bool
    summary: str = Field(
        description="One line about the message: the opening of its first informative "
        "sentence, taken from its own text (quotes and greeting removed; no LLM).",
        examples=["the quote for 500 housings is USD 4.20 per unit"],
    )

    @classmethod
    def of(cls, row: ListedMessage, summary: str) -> MessageRowOut:
        """Wire form of a :class:`~retrieval.store.base.ListedMessage`."""
        from retrieval.store.base import INBOX

        m = row.message
        return cls(
            id=m.id,
            thread_id=m.thread_id,
            thread_size=row.thread_size,
            folder=m.folder or INBOX,
            subject=m.subject,
            sender=AddressOut.of(m.sender) if m.sender else None,
            date=m.date,
            unread=row.unread,
            has_attachments=bool(m.attachments),
            summary=summary,
        )


class MessagePage(BaseModel):
    """A page of messages, newest first."""

    folder: str | None = Field(description="The folder listed; null for all folders.")
    total: int = Field(description="Messages in the folder (all pages).", examples=[32])
    offset: int = Field(examples=[0])
    limit: int = Field(examples=[25])
    next_offset: int | None = Field(
        description="`offset` of the next page; null on the last page.", examples=[25]
    )
    messages: list[MessageRowOut]


class ConversationTurn(BaseModel):
    """One question of a conversation and the assistant's answer to it."""

    question: str = Field(examples=["What did ACME quote for housings?"])
    answer: str = Field(examples=["ACME quoted 4.12 per unit [m3f9a0c2b7d1e4f5a6b7c]."])
    citations: list[Citation] = Field(
        description="The ids the answer cites that this turn's tools returned, described from "
        "those tool results."
    )
    tool_calls: list[ToolCallView]


class ConversationOut(BaseModel):
    """A conversation of the key's user with the assistant, oldest turn first."""

    conversation_id: str = Field(examples=["kitchen-42"])
    turns: list[ConversationTurn]
