"""How the store tells unread mail from the marks the writing client left (no server)."""

from __future__ import annotations

import pytest

from retrieval.store.sqlite import _is_unread


@pytest.mark.parametrize(
    ("locators", "headers", "unread"),
    [
        (["new/1795794060.M42P4142.demo"], {}, True),
        (["cur/1793725320.M2P4102.demo:2,S"], {}, False),
        (["cur/1793809320.M3P4103.demo:2,RS"], {}, False),
        (["cur/1793809320.M3P4103.demo:2,F"], {}, True),
        ([".Sent/new/17.M1.demo"], {}, True),
        # Seen in one copy is read everywhere.
        (["new/a.demo", "cur/a.demo:2,S"], {}, False),
        (["archive.mbox#0"], {"Status": "RO"}, False),
        (["archive.mbox#0"], {"status": "O"}, True),
        # No mark at all (a lone .eml): nothing says it is unread.
        (["message.eml"], {}, False),
        (["new"], {}, False),
    ],
)
def test_unread_from_maildir_flags_and_status(
    locators: list[str], headers: dict[str, str], unread: bool
) -> None:
    assert _is_unread(locators, headers) is unread
