"""Per-user deletion in each store, capped per-user quarantine copies, hashed keys at rest
(on SQLite and Postgres)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from core.settings import Settings
from retrieval.ingest.mail import Ingestor
from retrieval.store.keys import KeyStore
from retrieval.store.pim import open_pim
from retrieval.store.pim_sqlite import connect
from retrieval.store.sqlite import SQLiteStore
from retrieval.store.users import delete_checkpoints, delete_feedback, delete_quarantine
from tests.retrieval.store.conftest import all_rows, conn_rows

MAIL = (
    "From: ann@example.com\nTo: {user}@example.com\nSubject: note {n}\n"
    "Message-ID: <{user}-{n}@example.com>\nDate: Tue, 10 Nov 2026 09:00:00 +0000\n\nbody {n}\n"
)


def _mailbox(folder: Path, user: str, junk: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True)
    for n in range(3):
        (folder / f"{n}.eml").write_text(MAIL.format(user=user, n=n))
    for name, data in junk.items():
        (folder / name).write_bytes(data)
    return folder


def _junk(size: int, seed: int) -> bytes:
    # Not an email (no header line), so it is quarantined; distinct bytes, distinct copies.
    return bytes([0, seed]) + bytes((i * 7 + seed) % 256 for i in range(size - 2))


def test_quarantine_copies_are_per_user_and_capped(store: SQLiteStore, tmp_path: Path) -> None:
    root = tmp_path / "quarantine"
    ingestor = Ingestor(
        store, quarantine_dir=root, workers=0,
        quarantine_max_item_bytes=1000, quarantine_max_total_bytes=2500,
    )  # fmt: skip
    junk = {f"junk{i}.eml": _junk(1500 if i == 0 else 800, i) for i in range(4)}
    ingestor.ingest("alice", _mailbox(tmp_path / "a", "alice", junk))
    ingestor.ingest("bob", _mailbox(tmp_path / "b", "bob", {"junk0.eml": _junk(500, 9)}))
    items = {q.locator: q for q in store.list_quarantine("alice")}
    assert set(items) == set(junk)
    assert all(q.reason.startswith("no RFC 5322 header") for q in items.values())
    # Over the item cap: the first 1000 bytes are kept and the row says so.
    big = items["junk0.eml"]
    assert big.truncated and big.size == 1500
    assert Path(big.raw_path or "").read_bytes() == junk["junk0.eml"][:1000]
    # 1000 + 800 fit in 2500; the third copy would pass the total cap: no copy, reason kept.
    kept = [q for q in items.values() if q.raw_path]
    assert sorted(q.locator for q in kept) == ["junk0.eml", "junk1.eml"]
    assert items["junk2.eml"].raw_path is None and items["junk2.eml"].content_hash
    assert sum(Path(q.raw_path or "").stat().st_size for q in kept) == 1800
    assert all(Path(q.raw_path or "").is_relative_to(root / "alice") for q in kept)
    # Another user has their own folder and budget.
    (bob,) = store.list_quarantine("bob")
    assert Path(bob.raw_path or "").is_relative_to(root / "bob") and not bob.truncated
    assert delete_quarantine(root, "alice") == 2
    assert not (root / "alice").exists() and Path(bob.raw_path or "").exists()
    assert delete_quarantine(root, "alice") == 0


def test_mail_store_delete_user_removes_every_row_of_that_user_only(
    store: SQLiteStore, tmp_path: Path
) -> None:
    ingestor = Ingestor(store, quarantine_dir=tmp_path / "q", workers=0)
    for user in ("alice", "bob"):
        ingestor.ingest(user, _mailbox(tmp_path / user, user, {"junk.eml": _junk(100, 1)}))
    store.delete_messages("alice", [next(iter(store.message_ids("alice")))])
    bob_before = store.stats("bob")
    counts = store.delete_user("alice")
    assert counts["messages"] == 2 and counts["deletions"] == 1 and counts["users"] == 1
    assert counts["quarantine"] == 1 and counts["quarantine_files"] == 1
    for table in SQLiteStore.USER_TABLES:
        column = "id" if table == "users" else "user_id"
        # Every user's rows are visible here (on Postgres, RLS would hide alice's anyway).
        (n,) = all_rows(store, f"SELECT COUNT(*) FROM {table} WHERE {column}='alice'")
        assert n[0] == 0, table
        if table != "users":
            (left,) = all_rows(store, f"SELECT COUNT(*) FROM {table} WHERE {column}='bob'")
            assert left[0] > 0 or table in ("deletions", "attachments"), table
    # The FTS index forgot alice's text, bob's is intact.
    assert store.search_text("alice", "note") == []
    assert len(store.search_text("bob", "note")) == 3
    assert store.stats("bob") == bob_before and store.users() == ["bob"]
    assert all(Path(q.raw_path or "").exists() for q in store.list_quarantine("bob"))


def test_pim_delete_user_covers_calendar_contacts_and_sync_state(
    backend_settings: Settings,
) -> None:
    pim = open_pim(backend_settings)
    try:
        for user in ("alice", "bob"):
            pim.contacts.record_mail_people(
                user, None, [], None, outgoing=False, message_id=f"<{user}>"
            )
            pim.imap_state.set_folder(f"{user}-imap", "INBOX", 1, 5, None)
            pim.imap_state.put_messages(f"{user}-imap", "INBOX", [(1, ()), (2, ())])
        counts = pim.delete_user("alice", imap_accounts=["alice-imap"], dav_accounts=["x"])
        assert counts["mail_people_seen"] == 1
        assert counts["imap_folders"] == 1 and counts["imap_messages"] == 2
        assert counts["dav_collections"] == 0
        assert pim.imap_state.known("alice-imap", "INBOX") == {}
        assert set(pim.imap_state.known("bob-imap", "INBOX")) == {1, 2}
        seen = conn_rows(pim.contacts.conn, "SELECT user FROM mail_people_seen")
        assert [r["user"] for r in seen] == ["bob"]
    finally:
        pim.close()


def test_checkpoints_and_feedback_of_one_user_are_deleted(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "c.sqlite3")
    conn.execute("CREATE TABLE checkpoints (thread_id TEXT, checkpoint_id TEXT, data BLOB)")
    conn.execute("CREATE TABLE writes (thread_id TEXT, idx INTEGER)")
    conn.execute("CREATE TABLE other (x TEXT)")
    rows = [("al_ce/1", "a"), ("alice/1", "b"), ("alice/2", "c"), ("alice2/1", "d")]
    conn.executemany("INSERT INTO checkpoints VALUES (?, ?, NULL)", rows)
    conn.executemany("INSERT INTO writes VALUES (?, 0)", [(t,) for t, _ in rows])
    conn.commit()
    assert delete_checkpoints(conn, "alice") == {"checkpoints": 2, "writes": 2}
    left = [r[0] for r in conn.execute("SELECT thread_id FROM checkpoints ORDER BY 1")]
    assert left == ["al_ce/1", "alice2/1"]  # neither a LIKE wildcard nor a longer id matches
    conn.close()

    db = connect(tmp_path / "f.sqlite3")
    assert delete_feedback(db, "alice") == {}  # no feedback table yet: nothing to do
    db.execute("CREATE TABLE feedback (id INTEGER PRIMARY KEY, user_id TEXT, kind TEXT)")
    db.executemany(
        "INSERT INTO feedback (user_id, kind) VALUES (?, ?)",
        [("alice", "chip"), ("alice", "thumbs"), ("bob", "chip")],
    )
    db.commit()
    assert delete_feedback(db, "alice") == {"feedback": 2}
    assert [r["user_id"] for r in db.execute("SELECT user_id FROM feedback")] == ["bob"]
    db.close()


def test_feedback_of_one_user_is_deleted_on_both_backends(backend_settings: Settings) -> None:
    from retrieval.store.feedback import FeedbackRecord, open_feedback_store

    store = open_feedback_store(backend_settings)
    try:
        for user, kind in (("alice", "chip"), ("alice", "answer"), ("bob", "chip")):
            store.add(user, FeedbackRecord(kind=kind, rating="up"))  # type: ignore[arg-type]
        assert store.users() == ["alice", "bob"]
        assert delete_feedback(store.conn, "alice") == {"feedback": 2}
        assert store.list("alice") == [] and len(store.list("bob")) == 1
        assert store.stats("bob")["ratings"] == {"up": 1, "down": 0, "up_rate": 1.0}
    finally:
        store.close()


def test_api_key_lifecycle_and_no_secret_in_the_table(backend_settings: Settings) -> None:
    from retrieval.store.keys import open_key_store

    keys = open_key_store(backend_settings)
    try:
        key, token = keys.create("alice", name="laptop")
        other, _ = keys.create("bob")
        secret = token.removeprefix(f"mm_{key.key_id}_")
        assert keys.verify(token) == key and keys.verify(token[:-1] + "x") is None
        dump = repr([tuple(r) for r in conn_rows(keys.conn, "SELECT * FROM api_keys")])
        assert key.key_id in dump and secret not in dump and token not in dump
        assert [k.key_id for k in keys.list("alice")] == [key.key_id]
        assert {k.key_id for k in keys.list()} == {key.key_id, other.key_id}
        assert keys.revoke(key.key_id).revoked and keys.verify(token) is None
        assert keys.delete_user("alice") == 1 and [k.user for k in keys.list()] == ["bob"]
    finally:
        keys.close()


def test_api_key_secret_is_never_written_to_disk(tmp_path: Path) -> None:
    path = tmp_path / "mailmind.sqlite3"
    keys = KeyStore(connect(path))
    key, token = keys.create("alice", name="laptop")
    secret = token.removeprefix(f"mm_{key.key_id}_")
    assert len(secret) >= 40
    assert keys.verify(token) == key
    keys.close()
    files = [p for p in tmp_path.iterdir() if p.name.startswith("mailmind.sqlite3")]
    data = b"".join(p.read_bytes() for p in files)
    assert key.key_id.encode() in data  # the row is there ...
    assert secret.encode() not in data and token.encode() not in data  # ... its secret is not
    keys = KeyStore(connect(path))
    assert keys.verify(token) == key and keys.verify(token[:-1] + "x") is None
    keys.close()


def test_quarantine_delete_spares_the_older_shared_layout(tmp_path: Path) -> None:
    # Before per-user folders, copies lay in <root>/<aa>/<sha>.eml for every user; a user whose
    # id is two hex digits ("ab") shares that folder name. Their new copies go one level down.
    root = tmp_path / "quarantine"
    legacy = root / "ab" / ("ab" + "0" * 62 + ".eml")
    mine = root / "ab" / "cd" / ("cd" + "1" * 62 + ".eml")
    for path in (legacy, mine):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    assert delete_quarantine(root, "ab") == 1
    assert legacy.exists() and not mine.exists()
