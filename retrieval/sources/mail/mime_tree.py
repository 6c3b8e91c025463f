"""The MIME part tree of a raw message, as :mod:`retrieval.sources.mail.parse` sees it.

:func:`part_tree` parses with the very parser and policy ``parse_message`` uses (the stdlib
``email`` package, ``compat32``) and decodes text parts with the same charset fallbacks, so the
tree shows exactly which parts, content types and texts the product works from. It is meant for
debugging odd mail and for checking the parser against reference parses (see
``tests/mail/test_mime4j.py``), not for the ingest hot path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message as EmailMessage

from retrieval.sources.mail.parse import _PARSER, _decode_bytes, _part_filename, _payload_bytes


@dataclass(slots=True)
class MimeNode:
    """One MIME entity: the whole message, a body part, or an encapsulated message.

    ``content_type`` is the lower-cased ``type/subtype`` the parser settled on (``text/plain``
    when the header is missing or invalid, ``message/rfc822`` for children of
    ``multipart/digest``). ``children`` are the body parts of a multipart, or the single
    encapsulated message of a ``message/*`` part (``is_message`` is then true). A multipart whose
    boundary never occurs has no children. ``text`` is the decoded text of a ``text/*`` leaf
    (transfer encoding undone, charset decoded as ``parse.py`` does) and ``None`` elsewhere;
    ``filename`` is the decoded attachment filename, if any.
    """

    content_type: str
    children: list[MimeNode] = field(default_factory=list)
    text: str | None = None
    filename: str | None = None
    is_message: bool = False


def _node(part: EmailMessage) -> MimeNode:
    """Describe one part without its children."""
    ctype = part.get_content_type()
    text: str | None = None
    if not part.is_multipart() and part.get_content_maintype() == "text":
        text = _decode_bytes(_payload_bytes(part), part.get_content_charset())
    return MimeNode(
        content_type=ctype,
        text=text,
        filename=_part_filename(part),
        is_message=part.get_content_maintype() == "message" and part.is_multipart(),
    )


def part_tree(raw: bytes) -> MimeNode:
    """Parse ``raw`` RFC 5322 bytes and return the root of its MIME part tree.

    Like ``parse_message``, a leading mbox ``From `` separator line is dropped first. Never
    raises on malformed input: the stdlib parser records defects and carries on, and the tree is
    built iteratively, so deep nesting cannot overflow the stack.
    """
    if raw.startswith(b"From ") and b"\n" in raw[:1000]:
        raw = raw.split(b"\n", 1)[1]
    msg = _PARSER.parsebytes(raw)
    root = _node(msg)
    stack: list[tuple[EmailMessage, MimeNode]] = [(msg, root)]
    while stack:
        part, node = stack.pop()
        if not part.is_multipart():
            continue
        payload = part.get_payload()
        if not isinstance(payload, list):
            continue
        for child in payload:
            if isinstance(child, EmailMessage):
                child_node = _node(child)
                node.children.append(child_node)
                stack.append((child, child_node))
    return root
