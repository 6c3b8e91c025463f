"""Check our MIME parse against Apache James mime4j's reference parses.

The corpus (``shared/data/parsing/mime4j_testmsgs``, from apache/james-mime4j, Apache-2.0) pairs
each ``X.msg`` with ``X_decoded.xml``: the entity tree mime4j built (``<message>``,
``<multipart>`` with ``<body-part>``s, nested ``<message>`` for ``message/rfc822``, and
``<text-body name="X_decoded_1_1.txt"/>`` pointing at the decoded text of a leaf).

Three aspects are compared separately, so a divergence in one does not hide the others:

* shape: the number of body parts at every level and where messages are encapsulated;
* content types: the type of every part present in both trees;
* text: the decoded text of every text leaf mime4j reports, at the same position in our tree.

Where the stdlib parser legitimately reads malformed input differently from mime4j, only the
affected aspect of that message is marked ``xfail(strict=True)`` with the reason (see
``DIVERGENCES``), so a parser change that removes the divergence shows up as an XPASS failure.
``test_parse_message`` checks the product entry point on the same files; its known bugs in
``parse.py`` are in ``PARSE_MESSAGE_BUGS``, also strict xfails.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from core.errors import ParseError
from core.types import Message
from retrieval.sources.mail.mime_tree import MimeNode, part_tree
from retrieval.sources.mail.parse import _IDENTIFYING_HEADERS, _decode_bytes, parse_message

pytestmark = pytest.mark.integration

DATA = (
    Path(__file__).resolve().parents[4].parent / "shared" / "data" / "parsing" / "mime4j_testmsgs"
)

if not DATA.is_dir():
    pytest.skip(f"mime4j test corpus not found at {DATA}", allow_module_level=True)

MESSAGES = sorted(DATA.glob("*.msg"))

_BASE64_RFC822 = (
    "message/rfc822 body with Content-Transfer-Encoding: base64 (forbidden by RFC 2046 5.2.1): "
    "mime4j decodes it and parses the inner message, the stdlib parses the still-encoded base64 "
    "text as the inner message (one text/plain part of base64 gibberish)"
)
_BOUNDARY_PADDING = (
    "boundary parameter ends in spaces (RFC 2046 bchars forbid a trailing space): the stdlib's "
    "Message.get_boundary() rstrips it, so the 'almost delimiter' line missing one final space "
    "matches (the space taken as transport padding) and splits off a second part, and the "
    "close delimiter '--<boundary>  --' no longer matches (CloseBoundaryNotFoundDefect); "
    "mime4j uses the boundary verbatim and keeps that line in the first part's text"
)
_MALFORMED_HEADER = (
    "header block contains a line that is not a header field; the stdlib ends the header there "
    "and makes everything from it the body (MissingHeaderBodySeparatorDefect), mime4j (in the "
    "mode this file was produced with) skips such lines and keeps reading fields"
)

#: Known, legitimate divergences: message stem -> aspect ("shape", "types", "text") -> reason.
DIVERGENCES: dict[str, dict[str, str]] = {
    "base64encoded-rfc822message": {"text": _BASE64_RFC822},
    "base64encoded-rfc822message-nested": dict.fromkeys(("shape", "types", "text"), _BASE64_RFC822),
    "bad-newlines-multiple-parts-base64": dict.fromkeys(("shape", "types", "text"), _BASE64_RFC822),
    "very-long-boundary": dict.fromkeys(("shape", "text"), _BOUNDARY_PADDING),
    "very-very-long-boundary": dict.fromkeys(("shape", "text"), _BOUNDARY_PADDING),
    "weird-boundary": dict.fromkeys(("shape", "text"), _BOUNDARY_PADDING),
    "ending-boundaries": {
        "shape": "boundary lines followed by other text ('--boundary This should be ignored'): "
        "RFC 2046 allows only whitespace after the delimiter; mime4j matches on the prefix, "
        "the stdlib finds no start boundary and leaves the multipart without parts",
        "text": "the stdlib finds no body part (see shape), so the text part mime4j reports "
        "does not exist in our tree",
    },
    "multipartemptypart": {
        "text": "start delimiter immediately followed by the close delimiter: the stdlib "
        "parses the close delimiter line as the empty part's header block and misses it, so "
        "the part's body swallows the epilogue ('Epilogue') instead of being empty "
        "(CloseBoundaryNotFoundDefect)",
    },
    "malformedHeader-nocrlfcrlf": {"text": _MALFORMED_HEADER},
    "malformedHeaderStartsBody-nocrlfcrlf": {
        "text": "both start the body at the first non-header line, but mime4j then drops the "
        "following header-looking line ('AnotherHeader: ...') from the body, the stdlib keeps it",
    },
    "malformedHeader-noheader": {
        "text": "no header at all: mime4j's reference body is empty (every line taken as a "
        "malformed field), the stdlib makes the whole input the body",
    },
    "malformedHeaderStartsBody-noheader": {
        "text": "no header at all: mime4j's reference body is only the first line, the stdlib "
        "makes the whole input the body",
    },
    "obsolete": {
        "text": "obsolete RFC 5322 4.5 syntax (whitespace before the colon, 'Subject :'): the "
        "stdlib compat32 parser does not accept it, ends the header at the first line and "
        "makes the whole header block part of the body; mime4j parses the fields",
    },
    "basic-plain-with-bad-header-separator": {
        "text": "header/body separator is a line holding one space: the stdlib reads it as a "
        "folded continuation of Date and starts the body at the next (non-header) line, "
        "mime4j reads the following lines as malformed fields and starts the body after the "
        "next empty line",
    },
}


@dataclass
class Expected:
    """One entity of mime4j's reference tree."""

    content_type: str
    charset: str | None = None
    children: list[Expected] = field(default_factory=list)
    text_file: str | None = None
    is_message: bool = False


_CTYPE_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9a-z]+/[!#$%&'*+\-.^_`|~0-9a-z]+$")
_CHARSET_RE = re.compile(r";\s*charset\s*=\s*\"?([^\";\s]+)", re.IGNORECASE)
_FOLD_RE = re.compile(r"\r?\n[ \t]")


def _fields(entity: ET.Element) -> list[tuple[str, str]]:
    header = entity.find("header")
    result = []
    for f in header.findall("field") if header is not None else []:
        name, _, value = (f.text or "").strip().partition(":")
        result.append((name.strip().lower(), _FOLD_RE.sub(" ", value).strip()))
    return result


def _expected(entity: ET.Element, default_type: str = "text/plain") -> Expected:
    """Convert a ``<message>`` or ``<body-part>`` element into an :class:`Expected` node."""
    ctype_value = next((v for n, v in _fields(entity) if n == "content-type"), None)
    ctype = default_type
    if ctype_value is not None:
        candidate = ctype_value.split(";", 1)[0].strip().lower()
        if _CTYPE_RE.match(candidate):
            ctype = candidate
    charset_match = _CHARSET_RE.search(ctype_value or "")
    node = Expected(content_type=ctype, charset=charset_match.group(1) if charset_match else None)
    body = next(child for child in entity if child.tag != "header")
    if body.tag == "multipart":
        child_default = "message/rfc822" if ctype == "multipart/digest" else "text/plain"
        node.children = [_expected(bp, child_default) for bp in body.findall("body-part")]
    elif body.tag == "message":
        node.is_message = True
        node.children = [_expected(body)]
    elif body.tag == "text-body":
        node.text_file = body.get("name")
    else:
        assert body.tag == "binary-body", f"unexpected element <{body.tag}>"
    return node


def _reference(msg_path: Path) -> Expected:
    xml_path = msg_path.with_name(msg_path.stem + "_decoded.xml")
    return _expected(ET.parse(xml_path).getroot())


def _expected_text(node: Expected) -> str:
    assert node.text_file is not None
    data = (DATA / node.text_file).read_bytes()
    return _decode_bytes(data, node.charset)


def _norm(text: str) -> str:
    """Normalise line endings and trailing whitespace."""
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip()


PartPath = tuple[int, ...]


def _pairs(
    exp: Expected, got: MimeNode | None, path: PartPath = ()
) -> Iterator[tuple[PartPath, Expected, MimeNode | None]]:
    """Walk the reference tree, pairing each node with ours at the same position (or None)."""
    yield path, exp, got
    for i, child in enumerate(exp.children):
        ours = got.children[i] if got is not None and i < len(got.children) else None
        yield from _pairs(child, ours, (*path, i + 1))


def _shape(node: Expected | MimeNode) -> object:
    return (node.is_message, [_shape(c) for c in node.children])


def _case(msg_path: Path, aspect: str) -> object:
    reason = DIVERGENCES.get(msg_path.stem, {}).get(aspect)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(msg_path, id=msg_path.stem, marks=marks)


def _cases(aspect: str) -> list[object]:
    return [_case(p, aspect) for p in MESSAGES]


def test_corpus_is_complete() -> None:
    assert len(MESSAGES) >= 30
    for msg_path in MESSAGES:
        assert msg_path.with_name(msg_path.stem + "_decoded.xml").is_file(), msg_path.name
    unknown = set(DIVERGENCES) - {p.stem for p in MESSAGES}
    assert not unknown, f"DIVERGENCES names messages not in the corpus: {unknown}"


@pytest.mark.parametrize("msg_path", _cases("shape"))
def test_part_tree_shape(msg_path: Path) -> None:
    expected = _reference(msg_path)
    ours = part_tree(msg_path.read_bytes())
    assert _shape(ours) == _shape(expected)


@pytest.mark.parametrize("msg_path", _cases("types"))
def test_content_types(msg_path: Path) -> None:
    expected = _reference(msg_path)
    ours = part_tree(msg_path.read_bytes())
    mismatches = [
        (path, exp.content_type, got.content_type)
        for path, exp, got in _pairs(expected, ours)
        if got is not None and got.content_type != exp.content_type
    ]
    assert not mismatches


@pytest.mark.parametrize("msg_path", _cases("text"))
def test_text_bodies(msg_path: Path) -> None:
    expected = _reference(msg_path)
    ours = part_tree(msg_path.read_bytes())
    for path, exp, got in _pairs(expected, ours):
        if exp.text_file is None:
            continue
        assert got is not None, f"part {path} missing in our tree"
        assert got.text is not None, f"part {path} is {got.content_type}, not a text leaf"
        assert _norm(got.text) == _norm(_expected_text(exp)), f"part {path}"


#: Messages parse_message gets wrong (bugs in parse.py, to fix there): stem -> reason.
PARSE_MESSAGE_BUGS: dict[str, str] = {}
_FIELD_NAME_RE = re.compile(rb"^([!-9;-~]+):")


def _parse_message_cases() -> list[object]:
    cases: list[object] = []
    for p in MESSAGES:
        reason = PARSE_MESSAGE_BUGS.get(p.stem)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        cases.append(pytest.param(p, id=p.stem, marks=marks))
    return cases


@pytest.mark.parametrize("msg_path", _parse_message_cases())
def test_parse_message(msg_path: Path) -> None:
    """parse_message returns a Message or raises ParseError; single-part text bodies match."""
    raw = msg_path.read_bytes()
    expected = _reference(msg_path)
    try:
        message = parse_message(raw)
    except ParseError:
        # The only deliberate rejection this corpus can trigger: no identifying header field
        # (a field name is printable ASCII without spaces, so obsolete 'Subject :' is none).
        header = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
        names = set()
        for line in header.split(b"\n"):
            m = _FIELD_NAME_RE.match(line)
            if m:
                names.add(m.group(1).decode("ascii").lower())
        assert not names.intersection(_IDENTIFYING_HEADERS)
        return
    assert isinstance(message, Message)
    single_part_text = expected.text_file is not None and expected.content_type == "text/plain"
    if single_part_text and "text" not in DIVERGENCES.get(msg_path.stem, {}):
        assert _norm(message.body_text) == _norm(_expected_text(expected))
