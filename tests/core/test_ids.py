"""One validation path for ids (issue 11): full match, no control characters, lower-case users."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from core.errors import InputError
from core.ids import (
    ConversationId,
    MessageId,
    ThreadId,
    UserId,
    check_conversation_id,
    check_message_id,
    check_object_id,
    check_thread_id,
    check_thread_or_message_id,
    check_user_id,
)
from retrieval.store.base import check_user

BAD_USERS = [
    "alice\n",  # re.match + "$" let a final newline through: a second user "alice\n"
    "alice\r",
    "al\x00ice",
    "al\tice",
    "alice ",
    " alice",
    "ali\u200bce",  # zero-width space: looks like "alice"
    "../etc",
    "a/b",
    "",
    "-alice",
    "x" * 129,
    "ALICE",  # user ids are lower case: upper case is rejected, not folded
    "Alice@Example.com",
]


@pytest.mark.parametrize("user", BAD_USERS)
def test_bad_user_ids_are_rejected_everywhere(user: str) -> None:
    with pytest.raises(InputError):
        check_user_id(user)
    with pytest.raises(InputError):
        check_user(user)  # the store's check is the same function


@pytest.mark.parametrize("user", ["alice", "a", "bob.smith+work@example.com", "x" * 128, "u_1-2"])
def test_good_user_ids_pass_unchanged(user: str) -> None:
    assert check_user_id(user) == user
    assert check_user(user) == user


def test_non_strings_are_rejected() -> None:
    with pytest.raises(InputError):
        check_user_id(None)
    with pytest.raises(InputError):
        check_message_id(123)


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (
            check_message_id,
            "m0123456789abcdef0123",
            ["m0123456789abcdef0123\n", "t0123456789abcdef", "m1"],
        ),
        (
            check_thread_id,
            "t0123456789abcdef0123",
            ["t0123456789abcdef0123\n", "m0123456789abcdef"],
        ),
        (check_conversation_id, "3f2a9c0d1e2b", ["conv\n", "a/b", "", "x" * 65, "c d"]),
        (check_object_id, "evt-1@cal.example", ["evt 1", "evt\n", "../x", ""]),
    ],
)
def test_every_kind_of_id_uses_a_full_match(check: object, good: str, bad: list[str]) -> None:
    assert callable(check)
    assert check(good) == good
    for value in bad:
        with pytest.raises(InputError):
            check(value)


def test_summarize_accepts_a_thread_or_a_message_id() -> None:
    assert check_thread_or_message_id("m0123456789abcdef0123").startswith("m")
    assert check_thread_or_message_id("t0123456789abcdef0123").startswith("t")
    with pytest.raises(InputError):
        check_thread_or_message_id("x0123456789abcdef0123")


class _Request(BaseModel):
    user: UserId
    message: MessageId | None = None
    thread: ThreadId | None = None
    conversation: ConversationId | None = None


def test_pydantic_types_validate_the_same_way() -> None:
    ok = _Request(user="alice", message="m0123456789abcdef", conversation="c1")
    assert ok.user == "alice"
    for bad in ({"user": "alice\n"}, {"user": "ALICE"}, {"user": "a", "thread": "t12\n"}):
        with pytest.raises(ValidationError):
            _Request(**bad)  # type: ignore[arg-type]
