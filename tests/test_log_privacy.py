"""No mail content in logs: a full flow over the app (upload the demo mailbox, search, chat)
with every record of every logger captured at DEBUG, then grepped for the demo mail's subject
lines, addresses and body sentences. With ``log_content`` on, addresses are left alone.
"""

from __future__ import annotations

import email
import email.policy
import io
import logging
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from api.http.app import create_app
from api.services import Services
from core.logging import (
    install_record_factory,
    redact,
    setup_logging,
    uninstall_record_factory,
)
from core.settings import REPO_ROOT
from tests.agents.llm.conftest import llm_settings  # noqa: F401 - needed by http_services
from tests.api.http.conftest import auth, http_services  # noqa: F401 - shared real services

DEMO_MAIL = REPO_ROOT / "demo" / "mail"


class _Capture(logging.Handler):
    """Every record as its handlers would see it: the message and any exception text."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _demo_files() -> list[Path]:
    return sorted(p for p in DEMO_MAIL.rglob("*") if p.is_file())


def _demo_content() -> dict[str, set[str]]:
    """Subjects, addresses and one body sentence per demo message."""
    subjects: set[str] = set()
    addresses: set[str] = set()
    sentences: set[str] = set()
    for path in _demo_files():
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        if msg["subject"]:
            subjects.add(str(msg["subject"]).strip())
        for header in ("from", "to", "cc", "reply-to"):
            addresses |= {a.lower() for _, a in getaddresses(msg.get_all(header, [])) if "@" in a}
        part = msg.get_body(preferencelist=("plain",))
        if part is None:
            continue
        lines = [ln.strip() for ln in part.get_content().splitlines()]
        body = [ln for ln in lines if len(ln) >= 40 and not ln.startswith(">")]
        if body:
            sentences.add(body[0])
    return {"subject": subjects, "address": addresses, "sentence": sentences}


@pytest.fixture
def captured() -> Iterator[tuple[_Capture, io.StringIO]]:
    """A raw handler on the root logger at DEBUG, plus the service's JSON log setup."""
    root = logging.getLogger()
    level = root.level
    raw = _Capture()
    root.addHandler(raw)
    yield raw, io.StringIO()
    root.removeHandler(raw)
    for h in [h for h in root.handlers if getattr(h, "_mailmind_json_handler", False)]:
        root.removeHandler(h)
    root.setLevel(level)
    uninstall_record_factory()


@pytest.fixture
async def privacy_client(
    http_services: Services,  # noqa: F811 - the imported fixture
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(http_services.settings, services=http_services, warm=False)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


@pytest.mark.integration
@pytest.mark.slow
async def test_full_flow_logs_no_mail_content(
    http_services: Services,  # noqa: F811 - the imported fixture
    privacy_client: httpx.AsyncClient,
    captured: tuple[_Capture, io.StringIO],
) -> None:
    raw, json_stream = captured
    settings = http_services.settings.model_copy(update={"log_level": "DEBUG"})
    assert settings.log_content is False
    setup_logging(settings, stream=json_stream)
    _, key = http_services.keys.create("privacy", name="t")
    headers = auth(key)

    files = [("files", (f"{i}.eml", p.read_bytes(), "message/rfc822")) for i, p in
             enumerate(_demo_files())]  # fmt: skip
    r = await privacy_client.post("/v1/ingest", files=files, headers=headers)
    assert r.status_code == 200, r.text
    r = await privacy_client.get(
        "/v1/search", params={"q": "distribution partnership", "limit": 5}, headers=headers
    )
    assert r.status_code == 200 and r.json()["count"] > 0
    hit = r.json()["results"][0]
    assert (
        await privacy_client.get(f"/v1/messages/{hit['message_id']}", headers=headers)
    ).status_code == 200
    r = await privacy_client.post(
        "/v1/chat",
        json={"messages": [{"role": "user", "content": "Who wants a distribution partnership?"}],
              "now": "2026-11-30T09:00:00+00:00"},
        headers=headers,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    # Something was logged at all (access lines carry the request id), or the test proves nothing.
    access = [ln for ln in raw.lines if ln.startswith("mailmind.access")]
    assert len(access) >= 4
    json_text = json_stream.getvalue()
    assert '"request_id"' in json_text and '"logger": "mailmind.access"' in json_text

    text = "\n".join(raw.lines) + "\n" + json_text
    content = _demo_content()
    assert len(content["subject"]) >= 20 and len(content["address"]) >= 10
    leaks = {kind: sorted(n for n in needles if n.lower() in text.lower())
             for kind, needles in content.items()}  # fmt: skip
    assert leaks == {"subject": [], "address": [], "sentence": []}


def test_log_content_switch(captured: tuple[_Capture, io.StringIO]) -> None:
    raw, _ = captured
    logging.getLogger().setLevel(logging.DEBUG)
    log = logging.getLogger("mailmind.test")
    address = "dana@northwind.example"
    install_record_factory(log_content=False)
    log.info("mail from %s", address)
    log.info(f"inline {address}")  # inline text is redacted too
    install_record_factory(log_content=True)
    log.info("debug mail from %s", address)
    assert raw.lines[-3:] == [
        "mailmind.test INFO mail from <email>",
        "mailmind.test INFO inline <email>",
        f"mailmind.test INFO debug mail from {address}",
    ]


def test_redact() -> None:
    assert redact("to Kenji <kenji.sato@acme-industrial.example>, cc a+b@x.io") == (
        "to Kenji <<email>>, cc <email>"
    )
    assert redact("/v1/search?from=kenji%40acme.example&q=x") == "/v1/search?from=<email>&q=x"
    assert redact("no address @ all, m1a2b3@") == "no address @ all, m1a2b3@"


def test_uninstall_restores_the_factory() -> None:
    before = logging.getLogRecordFactory()
    install_record_factory(log_content=False)
    uninstall_record_factory()
    assert logging.getLogRecordFactory() is before
    record = before("x", logging.INFO, "f", 1, "a@b.example", None, None)
    assert record.getMessage() == "a@b.example"
