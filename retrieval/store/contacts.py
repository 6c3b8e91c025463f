"""Persistent contacts: vCards plus people seen in mail, merged by email address, per user."""

from __future__ import annotations

import json
import math
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from core.errors import InputError
from core.types import Address, Contact
from retrieval.sources.contacts.people import MailPerson, MailRow, people_from_mail
from retrieval.store.migrations import apply_migrations, split_statements
from retrieval.store.pim_sqlite import connect, from_ts, now_ts, ts

#: Migration component name (``schema_versions``).
COMPONENT = "contacts"
_V1 = """
CREATE TABLE IF NOT EXISTS contact_cards (
    user TEXT NOT NULL,
    uid TEXT NOT NULL,
    source TEXT NOT NULL,
    vcard TEXT NOT NULL,
    data TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (user, uid)
);
CREATE INDEX IF NOT EXISTS contact_cards_source ON contact_cards (user, source);
CREATE TABLE IF NOT EXISTS contact_emails (
    user TEXT NOT NULL,
    email TEXT NOT NULL,
    uid TEXT NOT NULL,
    PRIMARY KEY (user, email, uid)
);
CREATE TABLE IF NOT EXISTS mail_people (
    user TEXT NOT NULL,
    email TEXT NOT NULL,
    names TEXT NOT NULL,
    messages_from INTEGER NOT NULL DEFAULT 0,
    messages_to INTEGER NOT NULL DEFAULT 0,
    last_contact TEXT,
    PRIMARY KEY (user, email)
);
CREATE TABLE IF NOT EXISTS mail_people_seen (
    user TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (user, message_id)
);
"""
#: Append-only migrations of the contact tables (see :mod:`retrieval.store.migrations`).
MIGRATIONS: list[list[str]] = [split_statements(_V1)]
SCHEMA_VERSION = len(MIGRATIONS)
#: Mail stats of one address: names seen, messages from, messages to, last contact.
_Person = tuple[Counter[str], int, int, datetime | None]
#: Tables holding contact rows, each with a ``user`` column.
USER_TABLES = ("contact_cards", "contact_emails", "mail_people", "mail_people_seen")

#: Fuzzy matches below this WRatio (0-100) are not returned.
MIN_SCORE = 70.0


@dataclass(slots=True)
class ContactMatch:
    """A lookup hit: the contact, the final score, and which field matched best."""

    contact: Contact
    score: float
    matched: str


def _require_user(user: str) -> None:
    if not user:
        raise InputError("a user is required for every contacts query")


def _contact_json(c: Contact) -> str:
    return json.dumps(
        {
            "full_name": c.full_name,
            "emails": c.emails,
            "given_name": c.given_name,
            "family_name": c.family_name,
            "nicknames": c.nicknames,
            "phones": c.phones,
            "organization": c.organization,
            "title": c.title,
            "notes": c.notes,
            "birthday": c.birthday.isoformat() if c.birthday else None,
        },
        ensure_ascii=False,
    )


def _contact_from_json(uid: str, text: str) -> Contact:
    data = json.loads(text)
    bday = data.pop("birthday")
    return Contact(uid=uid, birthday=date.fromisoformat(bday) if bday else None, **data)


def frequency_bonus(person: Contact) -> float:
    """Up to +20 for people the user corresponds with; writing to someone counts double."""
    weight = 2 * person.messages_to + person.messages_from
    return min(20.0, 10 * math.log10(1 + weight))


def _merge_person(user: str, person: MailPerson, stored: _Person | None) -> tuple[Any, ...]:
    """The ``mail_people`` row of ``person`` with what was stored for the address added."""
    names: Counter[str] = Counter(stored[0]) if stored else Counter()
    names.update(person.names)
    last = person.last_contact
    if stored and stored[3]:
        last = stored[3] if last is None or stored[3] > last else last
    return (
        user,
        person.email,
        json.dumps(dict(names), ensure_ascii=False),
        person.messages_from + (stored[1] if stored else 0),
        person.messages_to + (stored[2] if stored else 0),
        ts(last),
    )


class ContactStore:
    """SQLite-backed contacts for many users; every method takes ``user`` first."""

    def __init__(self, db: str | Path | sqlite3.Connection, *, busy_timeout_s: float = 30.0):
        self.conn = connect(db, busy_timeout_s)
        apply_migrations(self.conn, COMPONENT, MIGRATIONS)

    def close(self) -> None:
        """Close the underlying connection."""
        self.conn.close()

    # -- vCards -------------------------------------------------------------------------

    def upsert_card(self, user: str, contact: Contact, vcard: str, *, source: str) -> str:
        """Insert or replace one vCard; returns ``inserted``/``updated``/``unchanged``."""
        _require_user(user)
        data = _contact_json(contact)
        row = self.conn.execute(
            "SELECT data, source FROM contact_cards WHERE user = ? AND uid = ?",
            (user, contact.uid),
        ).fetchone()
        if row is not None and row["data"] == data and row["source"] == source:
            return "unchanged"
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO contact_cards (user, uid, source, vcard, data, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (user, contact.uid, source, vcard, data, now_ts()),
            )
            self.conn.execute(
                "DELETE FROM contact_emails WHERE user = ? AND uid = ?", (user, contact.uid)
            )
            self.conn.executemany(
                "INSERT OR IGNORE INTO contact_emails (user, email, uid) VALUES (?, ?, ?)",
                [(user, e, contact.uid) for e in contact.emails],
            )
        return "inserted" if row is None else "updated"

    def replace_source(
        self, user: str, source: str, cards: Sequence[tuple[Contact, str]]
    ) -> dict[str, int]:
        """Make ``source`` (a file or a CardDAV item) hold exactly ``cards``."""
        _require_user(user)
        counts: dict[str, int] = defaultdict(int)
        keep = {c.uid for c, _ in cards}
        old = self.conn.execute(
            "SELECT uid FROM contact_cards WHERE user = ? AND source = ?", (user, source)
        ).fetchall()
        for r in old:
            if r["uid"] not in keep:
                self._delete(user, r["uid"])
                counts["deleted"] += 1
        for contact, raw in cards:
            counts[self.upsert_card(user, contact, raw, source=source)] += 1
        return dict(counts)

    def delete_source(self, user: str, source: str) -> int:
        """Remove every card whose current version came from ``source``."""
        _require_user(user)
        rows = self.conn.execute(
            "SELECT uid FROM contact_cards WHERE user = ? AND source = ?", (user, source)
        ).fetchall()
        for r in rows:
            self._delete(user, r["uid"])
        return len(rows)

    def delete_user(self, user: str) -> dict[str, int]:
        """Remove every contact row of ``user`` (cards and people seen in mail); rows removed
        per table."""
        _require_user(user)
        counts: dict[str, int] = {}
        with self.conn:
            for table in USER_TABLES:
                cur = self.conn.execute(f"DELETE FROM {table} WHERE user = ?", (user,))
                counts[table] = cur.rowcount
        return counts

    def _delete(self, user: str, uid: str) -> None:
        with self.conn:
            self.conn.execute("DELETE FROM contact_cards WHERE user = ? AND uid = ?", (user, uid))
            self.conn.execute("DELETE FROM contact_emails WHERE user = ? AND uid = ?", (user, uid))

    # -- people from mail ---------------------------------------------------------------

    def record_mail_people(
        self,
        user: str,
        sender: Address | None,
        recipients: Sequence[Address],
        date: datetime | None,
        outgoing: bool,
        *,
        message_id: str | None = None,
    ) -> bool:
        """Count one message; with ``message_id`` a message is counted once however often
        it is ingested. Returns ``False`` when it was already counted."""
        return (
            self.record_mail_people_batch(
                user, [(sender, recipients, date, outgoing)], message_ids=[message_id]
            )
            == 1
        )

    def record_mail_people_batch(
        self,
        user: str,
        rows: Iterable[MailRow],
        *,
        message_ids: Sequence[str | None] | None = None,
    ) -> int:
        """Count many messages in one transaction (call from mail ingestion per batch).

        ``message_ids`` (parallel to ``rows``) makes re-ingestion idempotent. Returns the
        number of messages counted.
        """
        _require_user(user)
        rows = list(rows)
        ids = list(message_ids) if message_ids is not None else [None] * len(rows)
        if len(ids) != len(rows):
            raise InputError("message_ids must be parallel to rows")
        fresh: list[MailRow] = []
        # A batch is a few statements, not two per message and two per person: on Postgres
        # each statement is a round trip.
        with self.conn:
            seen = self._seen(user, [mid for mid in ids if mid is not None])
            new_ids: list[str] = []
            for row, mid in zip(rows, ids, strict=True):
                if mid is not None:
                    if mid in seen:
                        continue
                    seen.add(mid)
                    new_ids.append(mid)
                fresh.append(row)
            self.conn.executemany(
                "INSERT INTO mail_people_seen (user, message_id) VALUES (?, ?)",
                [(user, mid) for mid in new_ids],
            )
            people = people_from_mail(fresh)
            stored: dict[str, _Person] = {}
            emails = sorted(people)
            for start in range(0, len(emails), 500):
                stored.update(self._people(user, emails[start : start + 500]))
            self.conn.executemany(
                "INSERT OR REPLACE INTO mail_people (user, email, names, messages_from,"
                " messages_to, last_contact) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    _merge_person(user, person, stored.get(email))
                    for email, person in people.items()
                ],
            )
        return len(fresh)

    def _seen(self, user: str, message_ids: Sequence[str]) -> set[str]:
        """Which of ``message_ids`` were already counted for ``user``."""
        seen: set[str] = set()
        unique = sorted(set(message_ids))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            rows = self.conn.execute(
                "SELECT message_id FROM mail_people_seen WHERE user = ? AND message_id IN "
                f"({','.join('?' * len(chunk))})",
                (user, *chunk),
            )
            seen.update(r[0] for r in rows)
        return seen

    # -- reads --------------------------------------------------------------------------

    def _people(self, user: str, emails: Sequence[str] | None = None) -> dict[str, _Person]:
        """Mail stats per address of ``user`` (all, or only ``emails``)."""
        sql = (
            "SELECT email, names, messages_from, messages_to, last_contact FROM mail_people"
            " WHERE user = ?"
        )
        params: list[str] = [user]
        if emails is not None:
            sql += f" AND email IN ({','.join('?' * len(emails))})"
            params.extend(emails)
        return {
            r["email"]: (
                Counter(json.loads(r["names"])), r["messages_from"], r["messages_to"],
                from_ts(r["last_contact"]),
            )
            for r in self.conn.execute(sql, params)
        }  # fmt: skip

    @staticmethod
    def _merged(uid: str, data: str, people: dict[str, _Person], claimed: set[str]) -> Contact:
        """A vCard contact with the mail stats of its addresses added (those go in ``claimed``)."""
        contact = _contact_from_json(uid, data)
        for email in contact.emails:
            if email in people:
                _names, n_from, n_to, last = people[email]
                contact.messages_from += n_from
                contact.messages_to += n_to
                if last and (contact.last_contact is None or last > contact.last_contact):
                    contact.last_contact = last
                contact.source = "merged"
                claimed.add(email)
        return contact

    @staticmethod
    def _mail_only(email: str, person: _Person) -> Contact:
        names, n_from, n_to, last = person
        top = names.most_common(1)[0][0] if names else ""
        return Contact(
            uid=f"mail:{email}",
            full_name=top or email,
            emails=[email],
            nicknames=[n for n in names if n != top],
            source="mail",
            messages_from=n_from,
            messages_to=n_to,
            last_contact=last,
        )

    def contacts(self, user: str) -> list[Contact]:
        """Every contact of ``user``: vCards (merged with mail stats) and mail-only people."""
        _require_user(user)
        people = self._people(user)
        claimed: set[str] = set()
        result = [
            self._merged(r["uid"], r["data"], people, claimed)
            for r in self.conn.execute(
                "SELECT uid, data FROM contact_cards WHERE user = ? ORDER BY uid", (user,)
            )
        ]
        result.extend(
            self._mail_only(email, person)
            for email, person in sorted(people.items())
            if email not in claimed
        )
        return result

    def get_by_email(self, user: str, email: str) -> Contact | None:
        """The contact owning ``email`` (vCard first, else the mail-only person).

        Indexed lookups, not a scan: smart-reply asks this on every chip request.
        """
        _require_user(user)
        address = email.strip().lower()
        row = self.conn.execute(
            "SELECT c.uid, c.data FROM contact_emails e JOIN contact_cards c"
            " ON c.user = e.user AND c.uid = e.uid WHERE e.user = ? AND e.email = ?"
            " ORDER BY c.uid LIMIT 1",
            (user, address),
        ).fetchone()
        if row is not None:
            card = _contact_from_json(row["uid"], row["data"])
            return self._merged(row["uid"], row["data"], self._people(user, card.emails), set())
        person = self._people(user, [address]).get(address)
        return self._mail_only(address, person) if person is not None else None

    def lookup(self, user: str, query: str, *, limit: int = 10) -> list[ContactMatch]:
        """Fuzzy search by name, nickname, email or organisation, best first.

        Score = best rapidfuzz WRatio over the contact's fields (0-100) + a frequency bonus of
        up to 20 for people the user corresponds with (see :func:`frequency_bonus`), so among
        similar names the one the user actually writes to comes first.
        """
        return rank_contacts(self.contacts(user), query, limit=limit)


def _fields(contact: Contact) -> list[tuple[str, str]]:
    fields = [("name", contact.full_name)]
    if contact.given_name or contact.family_name:
        fields.append(("name", f"{contact.given_name} {contact.family_name}".strip()))
    fields += [("nickname", n) for n in contact.nicknames]
    for email in contact.emails:
        fields += [("email", email), ("email", email.split("@")[0])]
    if contact.organization:
        fields.append(("organization", contact.organization))
    return [(k, v) for k, v in fields if v]


def rank_contacts(
    contacts: Iterable[Contact], query: str, *, limit: int = 10
) -> list[ContactMatch]:
    """Rank ``contacts`` against ``query`` (pure; see :meth:`ContactStore.lookup`)."""
    from rapidfuzz import fuzz, utils

    needle = query.strip()
    if not needle:
        raise InputError("the contact query is empty: give a name, email or organisation")
    matches = []
    lowered = needle.lower()
    for contact in contacts:
        best, field_name = 0.0, ""
        for name, value in _fields(contact):
            if value.lower() == lowered:
                score = 100.0
            else:
                score = fuzz.WRatio(needle, value, processor=utils.default_process)
            if score > best:
                best, field_name = score, name
        if best >= MIN_SCORE:
            matches.append(ContactMatch(contact, best + frequency_bonus(contact), field_name))
    matches.sort(key=lambda m: (-m.score, m.contact.full_name))
    return matches[:limit]
