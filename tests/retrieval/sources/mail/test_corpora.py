"""Real corpora from ../shared/data: everything ingests, counts add up, threads are right."""

from __future__ import annotations

import email
import hashlib
import re
from pathlib import Path

import pytest

from api.services import Services
from core.settings import Settings
from retrieval.sources.mail.sources import open_source
from tests.conftest import shared_path

pytestmark = pytest.mark.integration

CORPORA = [
    ("parsing", "cpython_test_email"),
    ("parsing", "flanker_messages"),
    ("parsing", "mailparser_malformed"),
    ("parsing", "mime4j_testmsgs"),
    ("mail", "mbox_samples"),
    ("mail", "notmuch_corpora"),
    ("mail", "enron_maildir"),
]
_ID = re.compile(rb"<([^<>\s]+)>")


@pytest.mark.parametrize(("group", "name"), CORPORA)
def test_every_file_ingests_and_counts_add_up(settings: Settings, group: str, name: str) -> None:
    path = shared_path(group, name)
    services = Services(settings)
    try:
        report = services.ingestor(workers=0).ingest("u1", path)
        store = services.store
        stats = store.stats("u1")
        quarantine = store.list_quarantine("u1")
    finally:
        services.close()
    items = list(open_source(path).items())
    assert report.seen == len(items)
    assert report.seen == report.added + report.duplicates + report.quarantined
    assert stats.messages == report.added
    assert stats.quarantined == report.quarantined == len(quarantine)
    # Every quarantined item has a reason and, when it had bytes, a raw copy on disk.
    for q in quarantine:
        assert q.reason.strip()
        if q.size:
            assert q.raw_path is not None and Path(q.raw_path).read_bytes()
    # Duplicates are exactly the repeated Message-IDs (or, without one, identical bytes).
    quarantined = {q.locator for q in quarantine}
    keys = {
        _message_id(it.data) or hashlib.sha256(it.data).digest()
        for it in items
        if it.locator not in quarantined
    }
    assert report.added == len(keys)


def _message_id(raw: bytes) -> bytes | None:
    head = raw.split(b"\n\n", 1)[0]
    msg = email.message_from_bytes(head + b"\n\n")
    value = msg.get("message-id")
    if not value:
        return None
    found = _ID.findall(str(value).encode("utf-8", "surrogateescape"))
    return found[0] if found else None


def test_enron_maildir_twice_is_idempotent(settings: Settings) -> None:
    path = shared_path("mail", "enron_maildir")
    services = Services(settings)
    try:
        first = services.ingestor().ingest("alice", path)
        stats1 = services.store.stats("alice")
        second = services.ingestor().ingest("alice", path)
        stats2 = services.store.stats("alice")
    finally:
        services.close()
    n_files = sum(1 for f in path.rglob("*") if f.is_file())
    assert first.seen == n_files
    assert first.added + first.quarantined + first.duplicates == n_files
    assert second.added == 0 and second.quarantined == 0
    assert second.duplicates + second.already_quarantined == n_files
    assert stats1 == stats2
    assert stats1.messages == first.added


def _links(path: Path) -> tuple[dict[str, list[str]], set[str]]:
    """Message-ID -> [In-Reply-To/References ids] for every message file under ``path``."""
    links: dict[str, list[str]] = {}
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        msg = email.message_from_bytes(f.read_bytes())
        mid = _ID.findall(str(msg.get("message-id", "")).encode())
        if not mid:
            continue
        refs = _ID.findall(str(msg.get("references", "")).encode())
        refs += _ID.findall(str(msg.get("in-reply-to", "")).encode())
        links.setdefault(mid[0].decode(), [r.decode() for r in refs])
    return links, set(links)


def _components(links: dict[str, list[str]]) -> int:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for mid, refs in links.items():
        for r in refs:
            parent[find(r)] = find(mid)
    return len({find(m) for m in links})


@pytest.mark.parametrize("corpus", ["threading", "lkml"])
def test_replies_land_in_their_parents_thread(settings: Settings, corpus: str) -> None:
    path = shared_path("mail", "notmuch_corpora", corpus)
    services = Services(settings)
    try:
        services.ingestor(workers=0).ingest("u", path)
        store = services.store
        by_mid = {m.message_id: m for m in store.iter_messages("u")}
        threads = store.stats("u").threads
    finally:
        services.close()
    links, present = _links(path)
    replies_checked = 0
    for mid, refs in links.items():
        parents = [r for r in refs if r in present and r != mid]
        for p in parents:
            assert by_mid[mid].thread_id == by_mid[p].thread_id, (mid, p)
            replies_checked += 1
    assert replies_checked > 0
    # Threads = connected components of the reference graph (phantoms included), since these
    # corpora carry References and the subject fallback applies only to unreferenced replies.
    assert threads == _components(links)
