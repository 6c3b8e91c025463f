"""``POST /v1/ingest``: uploads land in the key's user's store only, streamed with a size cap,
broken mail is quarantined with its reason, and the upload folder is always removed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from api.http.app import create_app
from api.http.routers.ingest import safe_name, user_dir
from api.services import Services
from tests.api.http.conftest import Keys, auth

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
WORD = "zanzibarquokka"  # in no demo or eve message but the uploaded one
UPLOAD_MAIL = (
    "From: Mallory <mallory@evil.example>\nTo: eve@evil.example\n"
    f"Subject: {WORD} shipment\nMessage-ID: <eve-upload-1@evil.example>\n"
    "Date: Wed, 11 Nov 2026 09:00:00 +0000\n\n"
    f"The {WORD} shipment leaves on Thursday.\n"
)
UPLOAD_ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mailmind tests//EN\r\n"
    "BEGIN:VEVENT\r\nUID:eve-upload-event-1@evil.example\r\nDTSTAMP:20261110T100000Z\r\n"
    "DTSTART:20261112T150000Z\r\nDTEND:20261112T160000Z\r\nSUMMARY:Eve planning\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def _uploads(services: Services, user: str) -> Path:
    return services.settings.data_dir / "uploads" / user_dir(user)


def _leftovers(services: Services, user: str) -> list[Path]:
    root = _uploads(services, user)
    return sorted(root.iterdir()) if root.exists() else []


def _eve_events(services: Services, user: str) -> list[str]:
    start = datetime(2026, 11, 12, tzinfo=UTC)
    events = services.pim.calendars.events_between(user, start, datetime(2026, 11, 13, tzinfo=UTC))
    return [e.uid for e in events]


async def test_upload_is_stored_for_its_user_only(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    before = http_services.store.message_ids("eve")
    files = [
        ("files", ("shipment.eml", UPLOAD_MAIL.encode(), "message/rfc822")),
        ("files", ("plans.ics", UPLOAD_ICS.encode(), "text/calendar")),
    ]
    r = await client.post("/v1/ingest", files=files, headers=auth(keys.eve))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(f["name"], f["kind"]) for f in body["files"]] == [
        ("shipment.eml", "mail"),
        ("plans.ics", "calendar"),
    ]
    assert body["bytes"] == len(UPLOAD_MAIL) + len(UPLOAD_ICS)
    assert body["mail"]["seen"] == 1
    assert body["mail"]["added"] + body["mail"]["duplicates"] == 1
    assert body["calendar"]["files"] == 1 and body["calendar"]["failures"] == []
    assert _leftovers(http_services, "eve") == []

    new_ids = http_services.store.message_ids("eve") - before
    assert len(new_ids) <= 1
    # Searchable and readable by eve ...
    hits = await client.get("/v1/search", params={"q": WORD}, headers=auth(keys.eve))
    assert hits.status_code == 200
    found = [h["message_id"] for h in hits.json()["results"] if WORD in h["subject"]]
    assert len(found) == 1
    (mid,) = found
    assert mid in http_services.store.message_ids("eve")
    r = await client.get(f"/v1/messages/{mid}", headers=auth(keys.eve))
    assert r.status_code == 200 and WORD in r.json()["message"]["body_text"]
    assert "eve-upload-event-1@evil.example" in _eve_events(http_services, "eve")
    # ... and by nobody else.
    r = await client.get(f"/v1/messages/{mid}", headers=auth(keys.demo))
    assert r.status_code == 404
    hits = await client.get("/v1/search", params={"q": WORD}, headers=auth(keys.demo))
    assert mid not in {h["message_id"] for h in hits.json()["results"]}
    assert mid not in http_services.store.message_ids("demo")
    assert "eve-upload-event-1@evil.example" not in _eve_events(http_services, "demo")


async def test_malformed_mail_is_quarantined_with_its_reason(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    before = http_services.store.message_ids("eve")
    files = [("files", ("broken.eml", b"this is not an email at all\n", "message/rfc822"))]
    r = await client.post("/v1/ingest", files=files, headers=auth(keys.eve))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mail"]["seen"] == 1 and body["mail"]["added"] == 0
    assert body["mail"]["quarantined"] + body["mail"]["already_quarantined"] == 1
    assert body["quarantine_reasons"] and sum(body["quarantine_reasons"].values()) >= 1
    assert any("header" in reason for reason in body["quarantine_reasons"])
    assert http_services.store.message_ids("eve") == before
    assert _leftovers(http_services, "eve") == []


async def test_broken_calendar_and_contacts_are_reported_by_file_name(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    files = [
        ("files", ("broken.ics", b"garbage\x00\xff", "text/calendar")),
        ("files", ("broken.vcf", b"BEGIN:VCARD\nnonsense", "text/vcard")),
    ]
    r = await client.post("/v1/ingest", files=files, headers=auth(keys.eve))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mail"]["seen"] == 0
    assert [f["item"] for f in body["calendar"]["failures"]] == ["broken.ics"]
    assert [f["item"] for f in body["contacts"]["failures"]] == ["broken.vcf"]
    # No server paths in what the client sees.
    assert str(http_services.settings.data_dir) not in r.text
    assert "uploads" not in r.text
    assert _leftovers(http_services, "eve") == []


@pytest.fixture
def small_cap_app(http_services: Services) -> Iterator[object]:
    """The app with a 4 KiB upload cap, over the shared services."""
    settings = http_services.settings.model_copy(deep=True)
    settings.server.max_upload_bytes = 4096
    yield create_app(settings, services=http_services)


@pytest.fixture
async def small_cap_client(small_cap_app: object) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the small-cap app."""
    from asgi_lifespan import LifespanManager

    async with LifespanManager(small_cap_app, startup_timeout=300) as manager:  # type: ignore[arg-type]
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


def _big_mail(n: int) -> bytes:
    head = (
        "From: a@evil.example\nTo: eve@evil.example\nSubject: big\n"
        "Message-ID: <big@evil.example>\n\n"
    )
    return (head + "x" * n).encode()


async def test_upload_over_the_cap_is_refused_and_nothing_is_stored(
    small_cap_client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    before = http_services.store.message_ids("eve")
    # Declared length over the cap: refused before the body is read.
    files = [("files", ("big.eml", _big_mail(10_000), "message/rfc822"))]
    r = await small_cap_client.post("/v1/ingest", files=files, headers=auth(keys.eve))
    assert r.status_code == 413
    assert r.headers["content-type"].startswith(PROBLEM)

    # No declared length (chunked): the cap is checked while streaming.
    boundary = "mmtestboundary"
    part_head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
        'filename="big.eml"\r\nContent-Type: message/rfc822\r\n\r\n'
    ).encode()

    async def body() -> AsyncIterator[bytes]:
        yield part_head
        for _ in range(20):
            yield b"y" * 1024

    r = await small_cap_client.post(
        "/v1/ingest",
        content=body(),
        headers={**auth(keys.eve), "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 413
    assert r.json()["status"] == 413
    assert http_services.store.message_ids("eve") == before
    assert _leftovers(http_services, "eve") == []


async def test_unsupported_file_type_is_refused(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    files = [
        ("files", ("ok.eml", UPLOAD_MAIL.encode(), "message/rfc822")),
        ("files", ("tool.exe", b"MZ\x90\x00", "application/octet-stream")),
    ]
    r = await client.post("/v1/ingest", files=files, headers=auth(keys.eve))
    assert r.status_code == 415
    assert r.headers["content-type"].startswith(PROBLEM)
    assert _leftovers(http_services, "eve") == []


async def test_upload_needs_files_a_key_and_multipart(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    files = [("files", ("a.eml", UPLOAD_MAIL.encode(), "message/rfc822"))]
    r = await client.post("/v1/ingest", files=files)
    assert r.status_code == 401
    r = await client.post("/v1/ingest", content=UPLOAD_MAIL, headers=auth(keys.eve))
    assert r.status_code == 415
    r = await client.post(
        "/v1/ingest",
        files=[("note", (None, b"just a field"))],  # a form field, not a file
        headers=auth(keys.eve),
    )
    assert r.status_code == 400
    assert r.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("inbox.mbox", "inbox.mbox"),
        ("../../etc/passwd.eml", "passwd.eml"),
        ("C:\\Users\\x\\mail.eml", "mail.eml"),
        (".hidden.eml", "hidden.eml"),
        ("..", "upload"),
        ("a b\n.eml", "a_b_.eml"),
    ],
)
def test_safe_name(raw: str, expected: str) -> None:
    assert safe_name(raw, set()) == expected


def test_safe_name_never_repeats() -> None:
    taken: set[str] = set()
    names = [safe_name("mail.eml", taken) for _ in range(3)] + [safe_name("MAIL.eml", taken)]
    assert names == ["mail.eml", "mail-1.eml", "mail-2.eml", "MAIL-3.eml"]
