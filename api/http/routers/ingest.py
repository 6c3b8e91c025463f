"""``POST /v1/ingest``: upload mail, calendars and contacts for the key's user.

Two bodies. ``message/rfc822``: one raw message, as an MTA's delivery agent or a mail client
hands it over; it is stored and announced with a ``message.stored`` event (202: indexing,
chips and the thread summary follow in a worker), an unparsable one is quarantined and answered
422 with the reason. ``multipart/form-data``: files, as below.

The multipart body is parsed as it arrives and each file part is written straight to disk, in a
per-request folder under ``<data_dir>/uploads/<user hash>/``; nothing is held whole in memory,
and the total size is checked while streaming (413 as soon as it passes
``server.max_upload_bytes``, before anything reaches the store). The folder is then ingested like
``mailmind ingest FOLDER`` (format detection, quarantine, indexing of new mail) and removed.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from fastapi import APIRouter, Request, Response
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from api.http.deps import PrincipalDep, ServicesDep, SettingsDep
from api.http.errors import ProblemError
from api.http.schemas.ingest import (
    FileKind,
    IngestResponse,
    MailCounts,
    MessageIngestResponse,
    PimCounts,
    UploadedFile,
)

router = APIRouter(prefix="/v1", tags=["ingest"])

#: File types an upload may carry, by suffix (what ``retrieval.sources`` detects in a folder).
SUFFIXES: dict[str, FileKind] = {
    ".eml": "mail",
    ".mbox": "mail",
    ".mbx": "mail",
    ".ics": "calendar",
    ".ical": "calendar",
    ".ifb": "calendar",
    ".vcf": "contacts",
    ".vcard": "contacts",
}
#: Most files one upload may carry.
MAX_FILES = 1000
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["files"],
                "properties": {
                    "files": {
                        "type": "array",
                        "items": {"type": "string", "format": "binary"},
                        "description": "One or more .eml, .mbox, .ics or .vcf files.",
                    }
                },
            }
        },
        "message/rfc822": {
            "schema": {"type": "string", "format": "binary"},
            "example": "From: Ana <ana@example.com>\r\nTo: you@example.com\r\n"
            "Subject: Lunch?\r\nMessage-ID: <lunch-1@example.com>\r\n\r\n"
            "Are you free for lunch on Friday?\r\n",
        },
    },
}


def user_dir(user: str) -> str:
    """The uploads folder name of ``user``: a hash, so user ids never become paths."""
    return hashlib.sha256(user.encode()).hexdigest()[:16]


def safe_name(raw: str, taken: set[str]) -> str:
    """A file name for ``raw`` that is safe in the upload folder and not in ``taken``."""
    base = raw.replace("\\", "/").rsplit("/", 1)[-1]
    # No leading dots: hidden files are skipped by the folder walk, and ".." is not a name.
    name = _UNSAFE.sub("_", base).lstrip(".")[-120:] or "upload"
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    candidate, n = name, 1
    while candidate.lower() in taken:
        candidate = f"{stem}-{n}.{suffix}" if dot else f"{stem}-{n}"
        n += 1
    taken.add(candidate.lower())
    return candidate


def _too_large(cap: int) -> ProblemError:
    return ProblemError(
        413, "upload too large", f"an upload may be at most {cap} bytes", code="upload_too_large"
    )


@dataclass
class _Part:
    name: str
    kind: FileKind
    path: Path
    handle: IO[bytes]
    size: int = 0


@dataclass
class UploadWriter:
    """Feeds request chunks to a multipart parser and writes file parts into ``folder``.

    Synchronous on purpose: each chunk is handed to a worker thread, so parsing and disk writes
    never block the event loop. An error found inside a parser callback is kept in ``error`` and
    raised after the chunk, outside the parser.
    """

    folder: Path
    boundary: bytes
    cap: int
    received: int = field(default=0, init=False)
    files: list[UploadedFile] = field(default_factory=list, init=False)
    error: ProblemError | None = field(default=None, init=False)
    _taken: set[str] = field(default_factory=set, init=False)
    _headers: list[tuple[bytes, bytes]] = field(default_factory=list, init=False)
    _field: bytes = field(default=b"", init=False)
    _value: bytes = field(default=b"", init=False)
    _part: _Part | None = field(default=None, init=False)
    _parser: MultipartParser | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._parser = MultipartParser(
            self.boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
            },
        )

    def write(self, chunk: bytes) -> None:
        """Parse one chunk of the body; raises :class:`ProblemError` (413, 400, 415)."""
        self.received += len(chunk)
        if self.received > self.cap:
            raise _too_large(self.cap)
        assert self._parser is not None
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise ProblemError(400, "bad multipart body", str(exc), code="bad_upload") from exc
        if self.error is not None:
            raise self.error

    def finish(self) -> None:
        """End of body: flush the parser; the body must have ended cleanly."""
        assert self._parser is not None
        try:
            self._parser.finalize()
        except MultipartParseError as exc:
            raise ProblemError(400, "bad multipart body", str(exc), code="bad_upload") from exc
        if self.error is not None:
            raise self.error
        if self._part is not None:
            raise ProblemError(400, "bad multipart body", "the body ended inside a file part")

    def close(self) -> None:
        """Close a file left open by an aborted upload."""
        if self._part is not None:
            self._part.handle.close()
            self._part = None

    # -- parser callbacks --------------------------------------------------------------------

    def _on_part_begin(self) -> None:
        self._headers = []

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers.append((self._field.lower(), self._value))
        self._field, self._value = b"", b""

    def _on_headers_finished(self) -> None:
        disposition = dict(self._headers).get(b"content-disposition", b"")
        _, options = parse_options_header(disposition)
        raw = options.get(b"filename")
        if not raw or self.error is not None:
            return  # a plain form field (or an empty file input): its data is dropped
        if len(self.files) >= MAX_FILES:
            self.error = ProblemError(
                400, "too many files", f"at most {MAX_FILES} files per upload", code="bad_upload"
            )
            return
        name = safe_name(raw.decode("utf-8", "replace"), self._taken)
        kind = SUFFIXES.get(Path(name).suffix.lower())
        if kind is None:
            self.error = ProblemError(
                415, "unsupported file type",
                f"{name!r}: upload files ending in {', '.join(sorted(SUFFIXES))}",
                code="unsupported_file_type",
            )  # fmt: skip
            return
        path = self.folder / name
        self._part = _Part(name=name, kind=kind, path=path, handle=path.open("xb"))

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part is not None:
            self._part.handle.write(data[start:end])
            self._part.size += end - start

    def _on_part_end(self) -> None:
        part, self._part = self._part, None
        if part is not None:
            part.handle.close()
            self.files.append(UploadedFile(name=part.name, kind=part.kind, size=part.size))


async def receive_upload(request: Request, folder: Path, cap: int) -> list[UploadedFile]:
    """Stream the multipart body of ``request`` into ``folder``; the files written."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise ProblemError(
            415, "unsupported media type",
            "send files as multipart/form-data, or one message as message/rfc822",
            code="unsupported_media_type",
        )  # fmt: skip
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise _too_large(cap)  # refuse before reading a byte
    writer = UploadWriter(folder=folder, boundary=boundary, cap=cap)
    try:
        async for chunk in request.stream():
            if chunk:
                await run_in_threadpool(writer.write, chunk)
        await run_in_threadpool(writer.finish)
    except ClientDisconnect as exc:
        # The body ended before its declared end: nothing half-written is ingested.
        raise ProblemError(
            400, "incomplete upload", "the request body ended early", code="incomplete_upload"
        ) from exc
    finally:
        writer.close()
    return writer.files


def _pim(report: dict[str, Any], folder: Path) -> PimCounts:
    """Calendar/contact counts with failures named by upload file, never by server path."""
    counts = PimCounts.from_report(report)
    prefixes = {f"{p}/" for p in (folder, folder.resolve())}

    def relative(text: str) -> str:
        for prefix in prefixes:
            text = text.replace(prefix, "")
        return text

    for failure in counts.failures:
        failure.item, failure.reason = relative(failure.item), relative(failure.reason)
    return counts


def _response(files: list[UploadedFile], report: dict[str, Any], folder: Path) -> IngestResponse:
    mail = MailCounts(**{k: int(report.get(k, 0)) for k in MailCounts.model_fields})
    events = int(report.get("events", 0))
    return IngestResponse(
        files=files,
        bytes=sum(f.size for f in files),
        mail=mail,
        quarantine_reasons=dict(report.get("quarantine_reasons") or {}),
        calendar=_pim(report["calendar"], folder) if "calendar" in report else None,
        contacts=_pim(report["contacts"], folder) if "contacts" in report else None,
        index=report.get("index"),
        events=events,
    )


async def receive_message(request: Request, cap: int) -> bytes:
    """The whole ``message/rfc822`` body, refused (413) past ``cap`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise _too_large(cap)
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise _too_large(cap)
            chunks.append(chunk)
    except ClientDisconnect as exc:
        raise ProblemError(
            400, "incomplete upload", "the request body ended early", code="incomplete_upload"
        ) from exc
    if not size:
        raise ProblemError(400, "empty message", "the body holds no message", code="bad_upload")
    return b"".join(chunks)


async def _ingest_message(
    request: Request, services: ServicesDep, settings: SettingsDep, user: str
) -> MessageIngestResponse:
    cap = min(settings.server.max_upload_bytes, settings.ingest.max_message_bytes)
    raw = await receive_message(request, cap)
    folder = request.query_params.get("folder") or "INBOX"
    out = await run_in_threadpool(services.ingest_raw, user, raw, folder=folder)
    if out["message_id"] is None:
        reason = out["quarantine_reason"] or "unparsable message"
        raise ProblemError(422, "unparsable message", f"quarantined: {reason}", code="parse_error")
    return MessageIngestResponse(
        message_id=out["message_id"], added=out["added"], events=out["events"]
    )


@router.post(
    "/ingest",
    response_model=IngestResponse | MessageIngestResponse,
    summary="Upload .eml / .mbox / .ics / .vcf files into the key's user's store.",
    openapi_extra={"requestBody": _REQUEST_BODY},
    responses={
        202: {
            "description": "A `message/rfc822` body was stored; indexing, chips and the thread "
            "summary follow in a worker.",
            "model": MessageIngestResponse,
        },
        400: {"description": "No files, an empty message, a bad `folder`, or a malformed "
              "multipart body."},
        413: {"description": "The upload is over `server.max_upload_bytes`."},
        415: {"description": "Not multipart/form-data or message/rfc822, or a file type that "
              "cannot be ingested."},
        422: {"description": "A `message/rfc822` body that cannot be parsed (quarantined)."},
    },
)  # fmt: skip
async def ingest(
    request: Request,
    response: Response,
    services: ServicesDep,
    settings: SettingsDep,
    principal: PrincipalDep,
) -> IngestResponse | MessageIngestResponse:
    """Store one raw message (`message/rfc822`, `?folder=` optional, 202) or the uploaded files
    (`multipart/form-data`; new mail is indexed, counts and quarantine reasons back). New mail
    is announced with `message.stored` events: chips and thread summaries are precomputed."""
    content_type, _ = parse_options_header(request.headers.get("content-type", ""))
    if content_type == b"message/rfc822":
        response.status_code = 202
        return await _ingest_message(request, services, settings, principal.user)
    root = settings.data_dir / "uploads" / user_dir(principal.user)
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=root))
    try:
        files = await receive_upload(request, folder, settings.server.max_upload_bytes)
        if not files:
            raise ProblemError(
                400, "no files", "attach one or more files as `files` parts", code="bad_upload"
            )
        # Parsing, storing and embedding are CPU- and disk-bound: a worker thread does them.
        report = await run_in_threadpool(
            lambda: services.ingest_path(principal.user, folder, publish="api")
        )
    finally:
        await run_in_threadpool(shutil.rmtree, folder, True)
    return _response(files, report, folder)
