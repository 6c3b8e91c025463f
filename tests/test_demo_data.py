"""The bundled demo dataset (demo/): everything parses, threads are whole, README numbers hold."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import re
import zipfile
from collections import Counter
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from functools import cache
from pathlib import Path

import icalendar
import vobject

DEMO = Path(__file__).resolve().parent.parent / "demo"
MAIL = DEMO / "mail"
FIRST_DAY, LAST_DAY = dt.date(2026, 11, 2), dt.date(2026, 12, 4)


@cache
def mail_files() -> tuple[Path, ...]:
    files = []
    for path in sorted(MAIL.rglob("*")):
        rel = path.relative_to(MAIL)
        if path.is_file() and not path.name.startswith(".") and "tmp" not in rel.parts:
            files.append(path)
    return tuple(files)


@cache
def messages() -> dict[Path, EmailMessage]:
    out = {}
    for path in mail_files():
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        out[path] = msg
    return out


def by_message_id() -> dict[str, EmailMessage]:
    return {str(m["Message-ID"]).strip(): m for m in messages().values()}


def folder_of(path: Path) -> str:
    return "/".join(path.relative_to(MAIL).parts[:-1])


def threads() -> list[list[EmailMessage]]:
    """Group messages into conversations by References/In-Reply-To (union-find)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for msg in messages().values():
        mid = str(msg["Message-ID"]).strip()
        refs = str(msg.get("References", "")).split() + str(msg.get("In-Reply-To", "")).split()
        for ref in refs:
            parent[find(mid)] = find(ref)
    groups: dict[str, list[EmailMessage]] = {}
    for msg in messages().values():
        groups.setdefault(find(str(msg["Message-ID"]).strip()), []).append(msg)
    for group in groups.values():
        group.sort(key=lambda m: parsedate_to_datetime(str(m["Date"])))
    return list(groups.values())


def readme() -> str:
    return (DEMO / "README.md").read_text(encoding="utf-8")


def readme_counts() -> dict[str, int]:
    section = readme().split("## Counts", 1)[1].split("\n## ", 1)[0]
    return {
        label.strip(): int(value)
        for label, value in re.findall(r"^\| ([^|]+) \| (\d+) \|$", section, re.MULTILINE)
    }


def readme_threads() -> Counter[str]:
    section = readme().split("## Threads", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| T\d+ \| ([^|]+) \| (\d+) \|", section, re.MULTILINE)
    return Counter({subject.strip(): int(n) for subject, n in rows})


def calendar() -> icalendar.Calendar:
    return icalendar.Calendar.from_ical((DEMO / "calendar" / "dana.ics").read_bytes())


def vcards() -> dict[Path, vobject.base.Component]:
    return {
        path: vobject.readOne(path.read_text(encoding="utf-8"))
        for path in sorted((DEMO / "contacts").glob("*.vcf"))
    }


# ---------------------------------------------------------------------------- mail


def test_maildir_layout() -> None:
    for sub in ("cur", "new", "tmp", ".Sent/cur"):
        assert (MAIL / sub).is_dir(), sub
    assert 40 <= len(mail_files()) <= 50


def test_every_message_parses_with_required_headers() -> None:
    for path, msg in messages().items():
        assert not msg.defects, (path, msg.defects)
        for header in ("Message-ID", "From", "Date", "Subject", "To"):
            assert msg[header], (path, header)
        assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+\.example>", str(msg["Message-ID"]).strip())
        for part in msg.walk():
            if not part.is_multipart():
                assert part.get_content() is not None, path


def test_message_ids_are_unique() -> None:
    ids = [str(m["Message-ID"]).strip() for m in messages().values()]
    assert len(ids) == len(set(ids))


def test_dates_have_zones_and_fall_in_range() -> None:
    for path, msg in messages().items():
        when = parsedate_to_datetime(str(msg["Date"]))
        assert when.tzinfo is not None, path
        assert FIRST_DAY <= when.date() <= LAST_DAY, path


def test_replies_reference_messages_in_the_set() -> None:
    known = by_message_id()
    for path, msg in messages().items():
        irt = msg.get("In-Reply-To")
        if not irt:
            assert not msg.get("References"), path
            continue
        irt = str(irt).strip()
        refs = str(msg["References"]).split()
        assert irt in known, path
        assert refs[-1] == irt, path
        assert all(ref in known for ref in refs), path
        # the References chain is the parent's chain plus the parent
        parent = known[irt]
        assert refs[:-1] == str(parent.get("References", "")).split(), path
        assert str(msg["Subject"]).startswith(("Re: ", "Automatic reply: ")), path
        assert parsedate_to_datetime(str(msg["Date"])) > parsedate_to_datetime(
            str(parent["Date"])
        ), path


def test_sent_folder_holds_the_users_mail() -> None:
    for path, msg in messages().items():
        from_sender = getaddresses([str(msg["From"])])[0][1] == "dana@northwind.example"
        assert from_sender == folder_of(path).startswith(".Sent"), path


def test_bulk_and_automated_mail_is_marked() -> None:
    msgs = list(messages().values())
    bulk = [
        m for m in msgs if m["List-Unsubscribe"] and m["List-Id"] and str(m["Precedence"]) == "bulk"
    ]
    assert len(bulk) == 2
    auto = Counter(str(m["Auto-Submitted"]) for m in msgs if m["Auto-Submitted"])
    assert auto == {"auto-generated": 1, "auto-replied": 1}


def test_mime_shapes_and_attachments() -> None:
    msgs = list(messages().values())
    types = Counter(m.get_content_type() for m in msgs)
    assert types["multipart/alternative"] >= 2
    assert types["text/html"] >= 1
    attachments = {
        part.get_filename(): part
        for m in msgs
        for part in m.iter_attachments()
        if part.get_filename()
    }
    pdfs = [p for p in attachments.values() if p.get_content_type() == "application/pdf"]
    assert len(pdfs) == 1
    assert pdfs[0].get_content().startswith(b"%PDF-1.4")
    sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheets = [p for p in attachments.values() if p.get_content_type() == sheet_type]
    assert len(sheets) == 1
    with zipfile.ZipFile(io.BytesIO(sheets[0].get_content())) as zf:
        assert "xl/workbook.xml" in zf.namelist()


def test_encoded_word_name_decodes() -> None:
    senders = {str(m["From"]) for m in messages().values()}
    assert any("José Martínez" in s for s in senders)
    raw = b"".join(p.read_bytes() for p in mail_files())
    assert b"=?UTF-8?Q?Jos=C3=A9_Mart=C3=ADnez?=" in raw


def test_invitation_part_parses_and_is_on_the_calendar() -> None:
    parts = [
        part
        for m in messages().values()
        for part in m.walk()
        if part.get_content_type() == "text/calendar"
    ]
    assert len(parts) == 1
    assert parts[0].get_param("method") == "REQUEST"
    invite = icalendar.Calendar.from_ical(parts[0].get_content())
    events = list(invite.walk("VEVENT"))
    assert len(events) == 1
    event = events[0]
    for prop in ("UID", "DTSTART", "DTEND", "ORGANIZER", "ATTENDEE", "SUMMARY", "LOCATION"):
        assert prop in event, prop
    assert event["DTSTART"].params["TZID"] == "America/Los_Angeles"
    assert list(invite.walk("VTIMEZONE"))
    uids = {str(e["UID"]) for e in calendar().walk("VEVENT")}
    assert str(event["UID"]) in uids


# ---------------------------------------------------------------------------- calendar


def test_calendar_parses() -> None:
    cal = calendar()
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["America/Los_Angeles"]
    events = list(cal.walk("VEVENT"))
    for event in events:
        assert isinstance(event, icalendar.Event)
        for prop in ("UID", "DTSTART", "DTEND", "SUMMARY", "DTSTAMP"):
            assert prop in event, (event.get("UID"), prop)
        start = event.start
        day = start.date() if isinstance(start, dt.datetime) else start
        if isinstance(start, dt.datetime):
            assert start.tzinfo is not None
            assert event["DTSTART"].params["TZID"] == "America/Los_Angeles"
        assert dt.date(2026, 11, 2) <= day <= dt.date(2026, 12, 18)
    statuses = Counter(str(e.get("STATUS", "")) for e in events)
    assert statuses["TENTATIVE"] >= 1
    assert statuses["CANCELLED"] >= 1
    assert any(str(e.get("TRANSP", "")) == "TRANSPARENT" for e in events)
    assert any("RECURRENCE-ID" in e for e in events)


# ---------------------------------------------------------------------------- contacts


def test_vcards_parse_and_match_mail_addresses() -> None:
    addresses: set[str] = set()
    for msg in messages().values():
        for header in ("From", "To", "Cc"):
            addresses.update(a.lower() for _, a in getaddresses([str(msg.get(header, ""))]))
    versions: Counter[str] = Counter()
    for path, card in vcards().items():
        assert card.fn.value, path
        emails = [e.value.lower() for e in card.contents.get("email", [])]
        assert emails, path
        assert addresses & set(emails), path
        versions[card.version.value] += 1
    assert versions["4.0"] == 2


# ---------------------------------------------------------------------------- README


def test_counts_match_readme() -> None:
    stated = readme_counts()
    files = mail_files()
    events = list(calendar().walk("VEVENT"))
    all_threads = threads()
    actual = {
        "Messages": len(files),
        "Inbox messages (cur + new)": sum(folder_of(p) in {"cur", "new"} for p in files),
        "Unread messages (new)": sum(folder_of(p) == "new" for p in files),
        "Sent messages (.Sent)": sum(folder_of(p).startswith(".Sent") for p in files),
        "Threads (including single-message threads)": len(all_threads),
        "Threads with more than one message": sum(len(t) > 1 for t in all_threads),
        "Calendar VEVENT components": len(events),
        "Calendar events (distinct UIDs)": len({str(e["UID"]) for e in events}),
        "Contacts (vCard files)": len(vcards()),
    }
    assert stated == actual


def test_thread_table_matches_readme() -> None:
    actual = Counter({str(t[0]["Subject"]): len(t) for t in threads()})
    assert readme_threads() == actual
