"""Readers for the retrieval eval datasets, producing plain ``Message`` objects and queries.

* AESLC-format folders (``*.subject`` files): body, blank line, ``@subject`` + real subject,
  ``@ann0..2`` + human subject lines. The body alone is indexed; the three annotations are the
  queries and that email is the one relevant answer (known-item retrieval).
* Enron maildir distractors: RFC 822 files parsed with the stdlib ``email`` package, body text
  only, minus any whose whitespace-normalised body equals a dataset email's.
* BC3 (``corpus.xml`` + ``annotation.xml``): each summary sentence is a query; the emails its
  ``link`` ids point to (``"2.4"`` = email 2, sentence 4 of that thread) are relevant.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path

from core.errors import InputError
from core.types import Address, Message

_WS_RE = re.compile(r"\s+")


def normalise_ws(text: str) -> str:
    """Collapse all whitespace runs to one space (duplicate detection)."""
    return _WS_RE.sub(" ", text).strip()


def make_message(
    message_id: str,
    text: str,
    *,
    subject: str = "",
    sender: str | None = None,
    sender_name: str = "",
    to: list[str] | None = None,
    cc: list[str] | None = None,
    date: datetime | None = None,
    folder: str | None = None,
    thread_id: str | None = None,
    attachments: int = 0,
) -> Message:
    """A :class:`Message` from plain fields (evals, tests, benchmarks)."""
    from core.types import Attachment

    return Message(
        id=message_id,
        message_id=f"<{message_id}>",
        message_id_synthetic=False,
        subject=subject,
        normalized_subject=subject.lower(),
        subject_is_reply=False,
        sender=Address(sender_name, sender.lower()) if sender else None,
        to=[Address("", a.lower()) for a in to or []],
        cc=[Address("", a.lower()) for a in cc or []],
        bcc=[],
        reply_to=[],
        date=date,
        date_flag="ok" if date else "missing",
        in_reply_to=None,
        references=[],
        body_text=text,
        body_from_html=False,
        new_text=text,
        attachments=[
            Attachment(f"a{i}.bin", "application/octet-stream", 1) for i in range(attachments)
        ],
        headers={},
        size=len(text),
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        folder=folder,
        thread_id=thread_id,
    )


@dataclass(slots=True)
class RetrievalDataset:
    """Documents to index and queries with their relevant document ids."""

    name: str
    messages: list[Message]
    queries: list[tuple[str, set[str]]] = field(default_factory=list)


def read_aeslc(folder: Path, *, limit: int | None = None) -> RetrievalDataset:
    """Known-item queries from an AESLC-format folder (sorted by file name)."""
    files = sorted(Path(folder).glob("*.subject"))
    if not files:
        raise InputError(f"no *.subject files in {folder}")
    if limit is not None:
        files = files[:limit]
    ds = RetrievalDataset(name=Path(folder).name, messages=[])
    for path in files:
        body, _subject, anns = _parse_aeslc(path.read_text(encoding="utf-8", errors="replace"))
        if not body.strip():
            continue
        ds.messages.append(make_message(path.stem, body))
        for ann in anns:
            if ann.strip():
                ds.queries.append((ann.strip(), {path.stem}))
    return ds


def _parse_aeslc(text: str) -> tuple[str, str, list[str]]:
    # Sections start at lines "@subject", "@ann0", ...; the body is everything before the first.
    lines = text.splitlines()
    body: list[str] = []
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        tag = line.strip()
        if tag.startswith("@") and (tag == "@subject" or re.fullmatch(r"@ann\d+", tag)):
            current = sections.setdefault(tag, [])
            continue
        (body if current is None else current).append(line)
    anns = [" ".join(sections[k]).strip() for k in sorted(sections) if k.startswith("@ann")]
    return "\n".join(body).strip(), " ".join(sections.get("@subject", [])).strip(), anns


def iter_maildir(root: Path) -> Iterator[Path]:
    """Every regular file under ``root`` in a stable order."""
    yield from sorted(p for p in Path(root).rglob("*") if p.is_file())


def _body_text(msg: email.message.Message) -> str:
    parts = msg.walk() if msg.is_multipart() else iter([msg])
    texts = []
    for part in parts:
        if part.get_content_type() != "text/plain" or part.get_filename():
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            charset = part.get_content_charset() or "utf-8"
            try:
                texts.append(payload.decode(charset, errors="replace"))
            except LookupError:
                texts.append(payload.decode("utf-8", errors="replace"))
    return "\n".join(texts)


def read_distractors(
    root: Path, *, exclude_bodies: set[str] | None = None, limit: int | None = None
) -> list[Message]:
    """Enron maildir messages as body-only documents, skipping duplicates of dataset bodies."""
    exclude = exclude_bodies or set()
    out: list[Message] = []
    seen: set[str] = set()
    for path in iter_maildir(root):
        raw = path.read_bytes()
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        body = _body_text(msg).strip()
        norm = normalise_ws(body)
        if not norm or norm in exclude or norm in seen:
            continue
        seen.add(norm)
        sender = parseaddr(msg.get("From", ""))[1] or None
        date = None
        try:
            date = parsedate_to_datetime(msg.get("Date", "")) if msg.get("Date") else None
        except (TypeError, ValueError):
            date = None
        rel = path.relative_to(root).as_posix()
        out.append(make_message(f"distractor:{rel}", body, sender=sender, date=date))
        if limit is not None and len(out) >= limit:
            break
    return out


def read_bc3(folder: Path) -> RetrievalDataset:
    """BC3 threads: emails as messages, summary sentences as queries."""
    corpus = ET.parse(Path(folder) / "corpus.xml").getroot()
    ds = RetrievalDataset(name=Path(folder).name, messages=[])
    valid: set[str] = set()
    for thread in corpus.iter("thread"):
        listno = (thread.findtext("listno") or "").strip()
        for no, doc in enumerate(thread.iter("DOC"), start=1):
            sents = doc.findall("./Text/Sent")
            first_id = sents[0].get("id", "") if sents else ""
            email_no = first_id.split(".")[0] if "." in first_id else str(no)
            text = "\n".join(" ".join((s.text or "").split()) for s in sents)
            name, addr = parseaddr(doc.findtext("From") or "")
            mid = f"{listno}:{email_no}"
            valid.add(mid)
            ds.messages.append(
                make_message(
                    mid,
                    text,
                    subject=(doc.findtext("Subject") or "").strip(),
                    sender=addr or None,
                    sender_name=name,
                    thread_id=listno,
                )
            )
    annotations = ET.parse(Path(folder) / "annotation.xml").getroot()
    for thread in annotations.iter("thread"):
        listno = (thread.findtext("listno") or "").strip()
        for sent in thread.iter("sent"):
            text = " ".join((sent.text or "").split())
            links = (sent.get("link") or "").replace(" ", "")
            relevant = {
                f"{listno}:{link.split('.')[0]}" for link in links.split(",") if "." in link
            }
            relevant &= valid
            if text and relevant:
                ds.queries.append((text, relevant))
    return ds
