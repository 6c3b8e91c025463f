"""Parse raw RFC 5322 bytes into a :class:`core.types.Message`.

Built on the standard library's ``email`` package with the ``compat32`` policy: it never raises on
malformed input (it records defects instead) and is several times faster than ``policy.default``,
which matters at 1,000+ messages/s. Headers are decoded explicitly (RFC 2047 encoded words, raw
8-bit bytes in any charset) and addresses parsed with ``email.utils.getaddresses``.
"""

from __future__ import annotations

import codecs
import email.utils
import hashlib
import re
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.message import Message as EmailMessage
from email.parser import BytesParser
from email.policy import Compat32

from core.errors import ParseError
from core.types import Address, Attachment, DateFlag, Message
from retrieval.sources.mail.html import html_to_text
from retrieval.sources.mail.quotes import extract_new_text

#: Headers kept verbatim (decoded) for triage, threading and smart-reply triggering.
KEPT_HEADERS = (
    "list-unsubscribe",
    "list-id",
    "list-post",
    "auto-submitted",
    "precedence",
    "in-reply-to",
    "references",
    "x-folder",
    "x-mailer",
    "user-agent",
    "x-auto-response-suppress",
    "return-path",
    "content-type",
    # Sender authentication results: features of the phishing signal (agents.safety.phishing).
    "authentication-results",
    "received-spf",
)

#: Headers whose presence makes a byte blob plausibly an email (at least one is required).
_IDENTIFYING_HEADERS = ("from", "to", "subject", "date", "message-id", "sender", "cc", "received")

_MSGID_RE = re.compile(r"<([^<>\s]+)>")
# Reply/forward prefixes in the languages mail clients commonly localise them to; an optional
# counter ("Re[2]:") and list tags ("[riak-users]") are stripped too.
_PREFIX_RE = re.compile(
    r"^\s*(?:(?:re|fw|fwd|aw|sv|wg|vs|antw|tr|rif|ref|odp|r|enc|res|doorst)"
    r"(?:\s*\[\d+\]|\s*\(\d+\))?\s*[:：]|\[[^\]\n]{1,40}\])\s*",
    re.IGNORECASE,
)
_WS_RE = re.compile(r"\s+")


class _RawHeaderPolicy(Compat32):
    """compat32, but header values with raw 8-bit bytes come back as surrogate-escaped str.

    Stock compat32 wraps them in ``Header(charset=unknown-8bit)`` whose ``str()`` replaces every
    non-ASCII byte with U+FFFD; keeping the bytes lets us decode them as UTF-8 or cp1252.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:  # type: ignore[override]
        return value


_PARSER = BytesParser(policy=_RawHeaderPolicy())
_EPOCH_MIN = datetime(1971, 1, 1, tzinfo=UTC)


def stable_id(message_id: str) -> str:
    """Stable message id: a short hash of the RFC 5322 Message-ID (same input, same id)."""
    return (
        "m"
        + hashlib.blake2b(message_id.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()
    )


def normalize_subject(subject: str) -> tuple[str, bool]:
    """Strip reply/forward prefixes and list tags; return (normalised subject, had a prefix)."""
    s = subject.strip()
    had_prefix = False
    while True:
        m = _PREFIX_RE.match(s)
        if not m or m.end() == 0:
            break
        if not m.group(0).lstrip().startswith("["):
            had_prefix = True
        s = s[m.end() :]
    return _WS_RE.sub(" ", s).strip().lower(), had_prefix


def _fix_surrogates(value: str) -> str:
    """Headers with raw 8-bit bytes arrive as surrogate escapes; decode them as UTF-8 or cp1252."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        raw = value.encode("utf-8", "surrogateescape")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("cp1252", "replace")


def _lookup_charset(charset: str | None) -> str:
    if not charset:
        return "us-ascii"
    charset = charset.strip().strip('"').lower()
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return "utf-8"


def _decode_bytes(data: bytes, charset: str | None) -> str:
    name = _lookup_charset(charset)
    if name == "ascii":
        # Plenty of mail labelled us-ascii is really cp1252 or UTF-8: prefer the richer decode.
        name = "utf-8"
    try:
        return data.decode(name)
    except (UnicodeDecodeError, LookupError):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("cp1252", "replace")


def decode_header_value(value: object) -> str:
    """Decode an RFC 2047 header value into text, tolerating bad charsets and raw bytes."""
    if value is None:
        return ""
    text = _fix_surrogates(str(value))
    if "=?" not in text:
        return _WS_RE.sub(" ", text).strip()
    try:
        parts = decode_header(text)
    except Exception:  # noqa: BLE001 - malformed encoded words: keep the raw text
        return _WS_RE.sub(" ", text).strip()
    try:
        # make_header applies RFC 2047's whitespace rules between encoded and plain words.
        decoded = str(make_header(parts))
    except (LookupError, UnicodeDecodeError, ValueError):
        decoded = "".join(
            _decode_bytes(chunk, charset) if isinstance(chunk, bytes) else chunk
            for chunk, charset in parts
        )
    return _WS_RE.sub(" ", decoded).strip()


_SIMPLE_ADDR_RE = re.compile(r"^[^@\s<>(),;:\"\\]+@[^@\s<>(),;:\"\\]+$")
_SIMPLE_NAMED_RE = re.compile(r"^([^<>(),;:\"\\@=]*?)\s*<([^<>\s(),;:\"\\]+@[^<>\s(),;:\"\\]+)>$")
_COMPLEX_CHARS = re.compile(r'["(\\;:]|=\?')


def _simple_pairs(value: str) -> list[tuple[str, str]] | None:
    """Fast path for plain lists ("a@x, Bob <b@y>"): getaddresses costs ~0.1 ms per address and
    mailing-list mail carries hundreds. Anything unusual returns None and takes the full parser."""
    if _COMPLEX_CHARS.search(value):
        return None
    pairs: list[tuple[str, str]] = []
    for raw_piece in value.split(","):
        piece = raw_piece.strip()
        if not piece:
            continue
        if _SIMPLE_ADDR_RE.match(piece):
            pairs.append(("", piece))
            continue
        m = _SIMPLE_NAMED_RE.match(piece)
        if m is None:
            return None
        pairs.append((m.group(1), m.group(2)))
    return pairs


_ANGLE_ADDR_RE = re.compile(r"<\s*([^<>\s@]+@[^<>\s@]+?)\s*>")
_NAMED_ANGLE_RE = re.compile(r"([^<>,]*)<\s*([^<>\s@]+@[^<>\s@]+?)\s*>")
_BARE_ADDR_RE = re.compile(r"[^\s<>(),;:\"\\@]+@[^\s<>(),;:\"\\@]+")


def _salvage_pairs(value: str) -> list[tuple[str, str]]:
    """Addresses from a value the RFC parser mangled, found by their angle brackets.

    Undecodable bytes can turn into ``(`` or ``"`` (``\\xc3\\x28`` is ``Ã(`` in cp1252), which
    ``getaddresses`` reads as the start of a comment or quoted string that swallows the rest, so
    ``Name <a@b>`` came back with the address in the name and junk as the address. The address
    inside ``<...>`` is what the sender meant; the text before it is kept as the name."""
    pairs: list[tuple[str, str]] = []
    for m in _NAMED_ANGLE_RE.finditer(value):
        name = m.group(1).strip().strip("\"'").strip()
        # A stray bracket from a bad byte would read as an unclosed comment in the name.
        if name.count("(") != name.count(")"):
            name = name.replace("(", " ").replace(")", " ")
        pairs.append((_WS_RE.sub(" ", name).strip(), m.group(2)))
    rest = _NAMED_ANGLE_RE.sub(" ", value)
    pairs.extend(("", addr) for addr in _BARE_ADDR_RE.findall(rest))
    return pairs


def _address_pairs(values: list[str]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for value in values:
        fast = _simple_pairs(value)
        if fast is not None:
            pairs.extend(fast)
            continue
        parsed = email.utils.getaddresses([value])
        found = {addr.strip().lower() for _, addr in parsed}
        wanted = {a.lower() for a in _ANGLE_ADDR_RE.findall(value)}
        # Every <addr> in the value must come out as an address; if one does not, the parser
        # was misled by stray quote or comment characters and the value is salvaged instead.
        pairs.extend(parsed if wanted <= found else _salvage_pairs(value))
    return pairs


def parse_addresses(values: list[str]) -> list[Address]:
    """Parse header values into addresses; display names decoded, addresses lower-cased."""
    if not values:
        return []
    result: list[Address] = []
    seen: set[str] = set()
    cleaned = [_fix_surrogates(str(v)) for v in values]
    for raw_name, raw_addr in _address_pairs(cleaned):
        addr = raw_addr.strip().strip("<>").strip().lower()
        name = decode_header_value(raw_name).strip().strip('"').strip("'").strip()
        if not addr:
            if "@" not in name:
                continue
            addr, name = name.lower(), ""
        if addr in seen:
            continue
        seen.add(addr)
        result.append(Address(name=name, email=addr))
    return result


def parse_date(value: str | None) -> tuple[datetime | None, DateFlag]:
    """Parse a Date header into aware UTC, with a flag telling how trustworthy it is."""
    if not value or not value.strip():
        return None, "missing"
    value = _fix_surrogates(value)
    flag: DateFlag = "ok"
    dt: datetime | None
    try:
        dt = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        dt = None
    if dt is None:
        from dateutil import parser as du

        try:
            dt = du.parse(value, fuzzy=True)
        except (ValueError, OverflowError, TypeError):
            return None, "unparseable"
    if dt.tzinfo is None:
        # RFC 5322 says "-0000" means unknown zone; treat as UTC and say so.
        dt, flag = dt.replace(tzinfo=UTC), "naive"
    try:
        dt = dt.astimezone(UTC)
    except (OverflowError, ValueError):
        return None, "unparseable"
    # Senders with wrong clocks are common; only dates far outside any mail era are implausible.
    if dt < _EPOCH_MIN or dt > datetime.now(UTC) + timedelta(days=30):
        flag = "implausible"
    return dt, flag


def _msgids(value: str | None) -> list[str]:
    if not value:
        return []
    value = _fix_surrogates(str(value))
    ids = _MSGID_RE.findall(value)
    if not ids and value.strip() and " " not in value.strip():
        ids = [value.strip()]  # bare id without angle brackets
    return ids


def _part_filename(part: EmailMessage) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001 - RFC 2231 params can be malformed
        name = None
    return decode_header_value(name) if name else None


def _payload_bytes(part: EmailMessage) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - broken base64/qp: keep what the raw payload has
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


def _attachment(part: EmailMessage, ctype: str, filename: str | None, size: int) -> Attachment:
    return Attachment(
        filename=filename,
        content_type=ctype,
        size=size,
        content_id=_content_id(part),
        disposition=part.get_content_disposition(),
    )


def _walk_body(
    msg: EmailMessage,
) -> tuple[str | None, str | None, list[Attachment]]:
    """Collect the inline text/plain and text/html bodies and list the attachments.

    Inside ``multipart/alternative`` only the first part of each type counts (the others are
    renderings of the same text); elsewhere further inline text parts are appended, so text
    around an inline picture is not lost. Parts under an attached ``message/rfc822`` belong to
    that attachment, not to our body.
    """
    plain: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    # (part, parent content type, inside an attached message)
    stack: list[tuple[EmailMessage, str, bool]] = [(msg, "", False)]
    while stack:
        part, parent_type, inside_attached = stack.pop()
        ctype = part.get_content_type()
        payload = part.get_payload()
        if part.is_multipart() and isinstance(payload, list):
            nested = inside_attached or ctype == "message/rfc822"
            for child in reversed(payload):
                if isinstance(child, EmailMessage):
                    stack.append((child, ctype, nested))
            if ctype == "message/rfc822" and not inside_attached:
                inner = payload[0] if payload and isinstance(payload[0], EmailMessage) else None
                subject = decode_header_value(inner.get("subject")) if inner else ""
                try:
                    size = len(inner.as_bytes()) if inner is not None else 0
                except Exception:  # noqa: BLE001 - re-serialising a broken part can fail
                    size = 0
                name = _part_filename(part) or (subject + ".eml" if subject else None)
                attachments.append(_attachment(part, ctype, name, size))
            continue
        if inside_attached:
            continue
        if ctype.startswith("multipart/"):
            # A multipart whose boundary never appears: the stdlib leaves its text as a string.
            ctype = "text/plain"
        disposition = part.get_content_disposition()
        filename = _part_filename(part)
        is_text = ctype in ("text/plain", "text/html")
        is_body = is_text and (
            part is msg or (disposition != "attachment" and not (filename and disposition))
        )
        if is_body:
            text = _decode_bytes(_payload_bytes(part), part.get_content_charset())
            target = plain if ctype == "text/plain" else html
            if not (target and parent_type == "multipart/alternative"):
                target.append(text)
            if part is not msg or disposition != "attachment":
                continue
        # Attachments (a single-part message sent as an attachment is both body and attachment).
        attachments.append(_attachment(part, ctype, filename, len(_payload_bytes(part))))
    return (
        "\n".join(plain) if plain else None,
        "\n".join(html) if html else None,
        attachments,
    )


def _content_id(part: EmailMessage) -> str | None:
    cid = part.get("content-id")
    if not cid:
        return None
    ids = _msgids(str(cid))
    return ids[0] if ids else str(cid).strip()


def _collect_defects(msg: EmailMessage) -> list[str]:
    names: list[str] = []
    for part in msg.walk():
        for defect in getattr(part, "defects", []):
            name = type(defect).__name__
            if name not in names:
                names.append(name)
    return names


def parse_message(
    raw: bytes,
    *,
    folder: str | None = None,
    max_bytes: int = 50_000_000,
    body_chars: int = 200_000,
) -> Message:
    """Parse one raw message.

    Raises :class:`ParseError` (the caller quarantines the input with the message as reason) when
    the bytes are empty, too large, or carry no RFC 5322 header at all.
    """
    if not raw or not raw.strip():
        raise ParseError("empty input")
    if len(raw) > max_bytes:
        raise ParseError(f"message is {len(raw)} bytes, over the {max_bytes}-byte limit")
    if raw.startswith(b"From ") and b"\n" in raw[:1000]:
        raw = raw.split(b"\n", 1)[1]  # a stray mbox separator line is not a header
    try:
        msg = _PARSER.parsebytes(raw)
    except Exception as exc:
        raise ParseError(f"MIME parser failed: {type(exc).__name__}: {exc}") from exc
    keys = {k.lower() for k in msg}
    if not keys.intersection(_IDENTIFYING_HEADERS):
        raise ParseError("no RFC 5322 header found (not an email)")

    content_hash = hashlib.sha256(raw).hexdigest()
    ids = _msgids(msg.get("message-id"))
    if ids:
        message_id, synthetic = ids[0], False
    else:
        message_id, synthetic = f"{content_hash[:32]}@sha256.mailmind.invalid", True

    subject = decode_header_value(msg.get("subject"))
    norm_subject, is_reply = normalize_subject(subject)
    date, date_flag = parse_date(msg.get("date"))
    senders = parse_addresses(msg.get_all("from", []) or msg.get_all("sender", []))
    references = _msgids(msg.get("references"))
    in_reply_to_ids = _msgids(msg.get("in-reply-to"))

    try:
        plain, html, attachments = _walk_body(msg)
    except RecursionError as exc:
        raise ParseError("MIME structure nested too deeply") from exc
    from_html = plain is None and html is not None
    body = plain if plain is not None else html_to_text(html or "")
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    if len(body) > body_chars:
        body = body[:body_chars]
    try:
        new_text = extract_new_text(body, html=html if from_html else None)
    except Exception:  # noqa: BLE001 - stripping is best effort; never lose the message over it
        new_text = body.strip()

    headers: dict[str, str] = {}
    for name in KEPT_HEADERS:
        value = msg.get(name)
        if value is not None:
            headers[name] = decode_header_value(value)

    return Message(
        id=stable_id(message_id),
        message_id=message_id,
        message_id_synthetic=synthetic,
        subject=subject,
        normalized_subject=norm_subject,
        subject_is_reply=is_reply,
        sender=senders[0] if senders else None,
        to=parse_addresses(msg.get_all("to", [])),
        cc=parse_addresses(msg.get_all("cc", [])),
        bcc=parse_addresses(msg.get_all("bcc", [])),
        reply_to=parse_addresses(msg.get_all("reply-to", [])),
        date=date,
        date_flag=date_flag,
        in_reply_to=in_reply_to_ids[0] if in_reply_to_ids else None,
        references=references,
        body_text=body,
        body_from_html=from_html,
        new_text=new_text,
        attachments=attachments,
        headers=headers,
        size=len(raw),
        content_hash=content_hash,
        folder=folder,
        defects=_collect_defects(msg),
    )
