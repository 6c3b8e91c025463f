"""Body of ``POST /v1/ingest``: what was uploaded and what the store made of it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

FileKind = Literal["mail", "calendar", "contacts"]


class UploadedFile(BaseModel):
    """One file of the upload."""

    name: str = Field(description="The file name as stored for this ingest (sanitised).")
    kind: FileKind
    size: int = Field(description="Bytes received.")


class MailCounts(BaseModel):
    """What happened to the uploaded mail (same counts as `mailmind ingest --json`)."""

    seen: int = 0
    added: int = 0
    duplicates: int = 0
    quarantined: int = 0
    already_quarantined: int = 0
    threads: int = 0


class Failure(BaseModel):
    """A calendar event or contact card that could not be read, and why."""

    item: str
    reason: str


class PimCounts(BaseModel):
    """What happened to uploaded calendar or contact files."""

    files: int = 0
    counts: dict[str, int] = Field(
        default_factory=dict, description="Store outcomes, e.g. `added`, `updated`, `unchanged`."
    )
    failures: list[Failure] = Field(default_factory=list)

    @classmethod
    def from_report(cls, report: dict[str, Any]) -> PimCounts:
        """From a calendar/contacts ingest report (``IngestReport.as_dict()``)."""
        counts = {
            k: int(v)
            for k, v in report.items()
            if k not in ("files", "failures", "skipped") and isinstance(v, int)
        }
        failures = [
            Failure(item=str(f["item"]), reason=str(f["reason"]))
            for f in report.get("failures", [])
        ]
        return cls(files=int(report.get("files", 0)), counts=counts, failures=failures)


class IngestResponse(BaseModel):
    """Counts of one upload, and why anything was quarantined."""

    files: list[UploadedFile]
    bytes: int = Field(description="Total bytes of the uploaded files.")
    mail: MailCounts
    quarantine_reasons: dict[str, int] = Field(
        description="Quarantined mail per reason (the raw copies stay in the server's quarantine)."
    )
    calendar: PimCounts | None = None
    contacts: PimCounts | None = None
    index: dict[str, int] | None = Field(
        None, description="What indexing the new mail did (messages embedded, chunks, ...)."
    )
    events: int = Field(
        0,
        description="`message.stored` events published for the new mail: workers precompute "
        "its smart-reply chips and thread summaries from them.",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "files": [
                        {"name": "quote.eml", "kind": "mail", "size": 2113},
                        {"name": "broken.eml", "kind": "mail", "size": 40},
                        {"name": "team.ics", "kind": "calendar", "size": 980},
                    ],
                    "bytes": 3133,
                    "mail": {
                        "seen": 2,
                        "added": 1,
                        "duplicates": 0,
                        "quarantined": 1,
                        "already_quarantined": 0,
                        "threads": 1,
                    },
                    "quarantine_reasons": {"no headers": 1},
                    "calendar": {"files": 1, "counts": {"added": 2}, "failures": []},
                    "contacts": None,
                    "index": {"messages": 1, "embedded": 1, "chunks": 1, "deleted": 0},
                    "events": 1,
                }
            ]
        }
    }


class MessageIngestResponse(BaseModel):
    """One RFC 822 message delivered with ``Content-Type: message/rfc822`` (202 Accepted)."""

    message_id: str = Field(description="The stored message's id (also for a duplicate).")
    added: bool = Field(description="False when the same message was stored before.")
    events: int = Field(
        description="`message.stored` events published (1 for a new message, else 0): a worker "
        "indexes it and precomputes its chips and thread summary."
    )

    model_config = {
        "json_schema_extra": {
            "examples": [{"message_id": "m1f0c2a9e5b7d34c81a6e", "added": True, "events": 1}]
        }
    }
