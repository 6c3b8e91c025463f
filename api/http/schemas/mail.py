"""Bodies of ``GET /v1/search``, ``GET /v1/messages/{id}`` and ``GET /v1/threads/{id}``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from core.types import Address, Attachment, Message, Thread
    from retrieval.index.search import SearchHit

SearchMode = Literal["hybrid", "dense", "sparse"]

MSG_EXAMPLE = "m3f1c2b9a0d4e5f60718a"
THREAD_EXAMPLE = "t9a8b7c6d5e4f30211a2b"


class SearchHitOut(BaseModel):
    """One message found by a search."""

    message_id: str = Field(description="Message id for `GET /v1/messages/{id}`.")
    thread_id: str = Field(description="Thread id for `GET /v1/threads/{id}`.")
    score: float = Field(description="Fused relevance score (higher is better).")
    date: datetime | None = Field(description="When the message was sent (UTC).")
    sender: str = Field(description="Sender address.")
    sender_name: str = Field(description="Sender display name.")
    subject: str
    folder: str
    snippet: str = Field(description="Text around the matched query terms.")
    matched_terms: list[str] = Field(default_factory=list)

    @classmethod
    def from_hit(cls, hit: SearchHit) -> SearchHitOut:
        """Wire form of a :class:`~retrieval.index.search.SearchHit`."""
        return cls(
            message_id=hit.message_id,
            thread_id=hit.thread_id,
            score=round(hit.score, 6),
            date=datetime.fromisoformat(hit.date) if hit.date else None,
            sender=hit.sender,
            sender_name=hit.sender_name,
            subject=hit.subject,
            folder=hit.folder,
            snippet=hit.snippet,
            matched_terms=list(hit.matched_terms),
        )


class SearchResponse(BaseModel):
    """Search results, best first."""

    query: str
    mode: SearchMode
    count: int
    results: list[SearchHitOut]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "query": "housing quote",
                    "mode": "hybrid",
                    "count": 1,
                    "results": [
                        {
                            "message_id": MSG_EXAMPLE,
                            "thread_id": THREAD_EXAMPLE,
                            "score": 0.91,
                            "date": "2026-11-10T18:02:00Z",
                            "sender": "kenji@shapeworks.example",
                            "sender_name": "Kenji Watanabe",
                            "subject": "Re: Quote request: NW-200 sensor housings",
                            "folder": "INBOX",
                            "snippet": "... the quote for 500 housings is USD 4.20 per unit ...",
                            "matched_terms": ["quote", "housing"],
                        }
                    ],
                }
            ]
        }
    }


class AddressOut(BaseModel):
    """A mailbox."""

    name: str = Field(examples=["Kenji Watanabe"])
    email: str = Field(examples=["kenji@shapeworks.example"])

    @classmethod
    def of(cls, address: Address) -> AddressOut:
        """Wire form of a :class:`~core.types.Address`."""
        return cls(name=address.name, email=address.email)


class AttachmentOut(BaseModel):
    """Metadata of one attachment (the content is not kept)."""

    filename: str | None = Field(examples=["quote.pdf"])
    content_type: str = Field(examples=["application/pdf"])
    size: int = Field(examples=[48213])
    content_id: str | None = None
    disposition: str | None = Field(None, examples=["attachment"])

    @classmethod
    def of(cls, attachment: Attachment) -> AttachmentOut:
        """Wire form of a :class:`~core.types.Attachment`."""
        return cls(
            filename=attachment.filename,
            content_type=attachment.content_type,
            size=attachment.size,
            content_id=attachment.content_id,
            disposition=attachment.disposition,
        )


class MessageOut(BaseModel):
    """Everything a client needs to show one message."""

    id: str = Field(description="mailmind's message id.", examples=[MSG_EXAMPLE])
    message_id: str = Field(
        description="The RFC 5322 Message-ID (synthetic when the message had none).",
        examples=["<quote-42@shapeworks.example>"],
    )
    thread_id: str | None = Field(examples=[THREAD_EXAMPLE])
    subject: str = Field(examples=["Re: Quote request: NW-200 sensor housings"])
    sender: AddressOut | None
    to: list[AddressOut]
    cc: list[AddressOut]
    bcc: list[AddressOut]
    reply_to: list[AddressOut]
    date: datetime | None = Field(examples=["2026-11-10T18:02:00Z"])
    folder: str | None = Field(examples=["INBOX"])
    in_reply_to: str | None
    references: list[str]
    body_text: str = Field(description="The plain-text body (converted when the mail was HTML).")
    body_from_html: bool
    new_text: str = Field(description="The body without quoted replies and signature.")
    attachments: list[AttachmentOut]
    headers: dict[str, str] = Field(description="The message's headers as received.")
    size: int = Field(description="Size of the raw message in bytes.")

    @classmethod
    def of(cls, m: Message) -> MessageOut:
        """Wire form of a :class:`~core.types.Message`."""
        return cls(
            id=m.id,
            message_id=m.message_id,
            thread_id=m.thread_id,
            subject=m.subject,
            sender=AddressOut.of(m.sender) if m.sender else None,
            to=[AddressOut.of(a) for a in m.to],
            cc=[AddressOut.of(a) for a in m.cc],
            bcc=[AddressOut.of(a) for a in m.bcc],
            reply_to=[AddressOut.of(a) for a in m.reply_to],
            date=m.date,
            folder=m.folder,
            in_reply_to=m.in_reply_to,
            references=list(m.references),
            body_text=m.body_text,
            body_from_html=m.body_from_html,
            new_text=m.new_text,
            attachments=[AttachmentOut.of(a) for a in m.attachments],
            headers=dict(m.headers),
            size=m.size,
        )


class ThreadEntry(BaseModel):
    """One message of a thread, as a list row."""

    id: str = Field(examples=[MSG_EXAMPLE])
    subject: str
    sender: AddressOut | None
    date: datetime | None

    @classmethod
    def of(cls, m: Message) -> ThreadEntry:
        """List row of a message."""
        return cls(
            id=m.id,
            subject=m.subject,
            sender=AddressOut.of(m.sender) if m.sender else None,
            date=m.date,
        )


class MessageResponse(BaseModel):
    """A message and the list of its thread's messages (oldest first)."""

    message: MessageOut
    thread: list[ThreadEntry] = Field(
        description="Every message of the message's thread, oldest first (itself included)."
    )


class ThreadOut(BaseModel):
    """A thread with its messages, oldest first."""

    id: str = Field(examples=[THREAD_EXAMPLE])
    subject: str = Field(examples=["Quote request: NW-200 sensor housings"])
    first_date: datetime | None
    last_date: datetime | None
    message_count: int = Field(examples=[3])
    messages: list[MessageOut]

    @classmethod
    def of(cls, thread: Thread, messages: list[Message]) -> ThreadOut:
        """Wire form of a thread and its messages."""
        return cls(
            id=thread.id,
            subject=thread.subject,
            first_date=thread.first_date,
            last_date=thread.last_date,
            message_count=len(messages),
            messages=[MessageOut.of(m) for m in messages],
        )
