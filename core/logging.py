"""Logging for the service: one JSON object per line, with the request id, and a privacy guard.

:func:`setup_logging` (called by ``mailmind serve``; nothing happens at import time) puts one
JSON handler on the root logger and installs a log-record factory that

* stamps every record with ``request_id`` (from :data:`request_id_var`, set by the HTTP
  middleware for the duration of a request, worker threads included) and ``trace_id``;
* unless ``settings.log_content`` is true, replaces email addresses in the message and its
  arguments with ``<email>`` - in every record of every library, before any handler (pytest's
  ``caplog`` included) sees it.

Mail subjects and bodies cannot be recognised by a pattern: the rule for code is to log ids,
counts and timings, never mail text (``retrieval/``, ``agents/`` and ``tools/`` follow it;
``tests/test_log_privacy.py`` checks a full flow against the demo mailbox).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from core.tracing import current_trace_id

if TYPE_CHECKING:
    from core.settings import Settings

#: The current request's id (``X-Request-ID``), or ``None`` outside a request.
request_id_var: ContextVar[str | None] = ContextVar("mailmind_request_id", default=None)

#: Addresses as they appear in headers, URLs and prose (``local@domain.tld``; ``%40`` too).
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+'-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
REDACTED_EMAIL = "<email>"

# Attributes every LogRecord has; anything else on a record is an ``extra=`` field.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_HANDLER_MARK = "_mailmind_json_handler"


class _Installed:
    """The record factory found before ours (a holder rather than a ``global`` statement)."""

    base: Callable[..., logging.LogRecord] | None = None


def redact(text: str) -> str:
    """``text`` with email addresses replaced by ``<email>``."""
    if "@" not in text and "%40" not in text:
        return text
    return EMAIL_RE.sub(REDACTED_EMAIL, text)


def _redact_arg(arg: Any) -> Any:
    if isinstance(arg, str):
        return redact(arg)
    if arg is None or isinstance(arg, int | float | bool):
        return arg
    # Objects (exceptions, paths, models) are formatted with str(); only replace those whose
    # text holds an address, so ``%d``/``%r`` formatting of harmless values is untouched.
    text = str(arg)
    clean = redact(text)
    return clean if clean != text else arg


def redact_record(record: logging.LogRecord) -> None:
    """Remove email addresses from ``record``'s message and arguments, in place."""
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    args = record.args
    if isinstance(args, tuple):
        record.args = tuple(_redact_arg(a) for a in args)
    elif isinstance(args, dict):
        record.args = {k: _redact_arg(v) for k, v in args.items()}


class PrivacyFilter(logging.Filter):
    """A filter for handlers or loggers that redacts addresses (see :func:`redact_record`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact and keep the record."""
        redact_record(record)
        return True


def install_record_factory(*, log_content: bool) -> None:
    """Stamp request and trace ids on every record and, unless ``log_content``, redact it.

    Idempotent: the factory found before the first call is kept and wrapped exactly once.
    """
    if _Installed.base is None:
        _Installed.base = logging.getLogRecordFactory()
    base = _Installed.base

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        record.request_id = request_id_var.get()
        record.trace_id = current_trace_id()
        if not log_content:
            redact_record(record)
        return record

    logging.setLogRecordFactory(factory)


def uninstall_record_factory() -> None:
    """Put back the record factory found by the first :func:`install_record_factory`."""
    if _Installed.base is not None:
        logging.setLogRecordFactory(_Installed.base)
        _Installed.base = None


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request and trace ids, any
    ``extra=`` fields, and the formatted exception."""

    def __init__(self, *, log_content: bool = False) -> None:
        super().__init__()
        self.log_content = log_content

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("request_id", "trace_id"):
            value = getattr(record, key, None)
            if value:
                out[key] = value
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in out and not key.startswith("_"):
                out[key] = (
                    value if isinstance(value, str | int | float | bool | None) else str(value)
                )
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        if not self.log_content:
            # Exception text is formatted here, after the record factory ran: redact it too.
            out = {k: redact(v) if isinstance(v, str) else v for k, v in out.items()}
        return json.dumps(out, ensure_ascii=False, default=str)


def setup_logging(settings: Settings, *, stream: Any = None) -> logging.Handler:
    """Configure the root logger for the service: JSON lines on ``stream`` (default stderr) at
    ``settings.log_level``, request ids and the privacy guard. Calling it again replaces the
    handler it added before. Returns the handler."""
    install_record_factory(log_content=settings.log_content)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(JsonFormatter(log_content=settings.log_content))
    if not settings.log_content:
        handler.addFilter(PrivacyFilter())
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # uvicorn's own loggers keep their handlers unless told otherwise; route them to ours.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    return handler
