"""``GET /v1/folders``, ``GET /v1/messages`` and ``GET /v1/conversations/{id}``.

What a mail client draws before anyone searches: the folder list with unread counts, a paginated
message list (newest first, unread, a one-line summary), and the assistant conversation it had
open, read back from the server's conversation memory. As everywhere, the user is the API key's;
another user's conversation id answers 404 like one that does not exist.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from api.http.deps import PrincipalDep, ServicesDep
from api.http.routers.mail import not_found
from api.http.schemas.chat import CONVERSATION_ID_PATTERN, Citation, ToolCallView
from api.http.schemas.mailbox import (
    ConversationOut,
    ConversationTurn,
    FolderList,
    FolderOut,
    MessagePage,
    MessageRowOut,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

    from api.services import Services
    from core.types import Message

router = APIRouter(prefix="/v1", tags=["mailbox"])

#: Largest page of ``GET /v1/messages``.
MAX_PAGE = 100
#: Words of the one-line summary.
SUMMARY_WORDS = 18
#: An ``[id]`` citation in an answer (message, thread, or a contact's address).
_CITE = re.compile(r"\[((?:[mt][0-9a-f]{12,40})|(?:[\w.+-]+@[\w.-]+))\]")


def one_line(services: Services, message: Message) -> str:
    """The list row's summary: the opening of the message's first informative sentence, from
    its own text (not the quoted part), sanitised like every text shown to the user."""
    from agents.safety.sanitize import sanitize_text
    from agents.summarize.thread import extractive_subject

    text = sanitize_text(message.new_text or message.body_text).strip()
    if not text:
        return ""
    return extractive_subject(text, services.embedder, max_words=SUMMARY_WORDS)


@router.get("/folders", response_model=FolderList, summary="The key's user's folders.")
async def folders(services: ServicesDep, principal: PrincipalDep) -> FolderList:
    """Every folder with its message and unread counts, by name."""
    found = await run_in_threadpool(services.store.folders, principal.user)
    return FolderList(folders=[FolderOut.of(f) for f in found])


@router.get(
    "/messages",
    response_model=MessagePage,
    summary="A page of the key's user's messages, newest first, with unread and a summary.",
)
async def list_messages(
    services: ServicesDep,
    principal: PrincipalDep,
    folder: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="Only this folder (see `/v1/folders`)."),
    ] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Rows to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Rows per page.")] = 25,
) -> MessagePage:
    """Rows for a message list; `next_offset` pages on (null on the last page)."""

    def load() -> MessagePage:
        total, rows = services.store.page_messages(
            principal.user, folder=folder, offset=offset, limit=limit
        )
        out = [MessageRowOut.of(r, one_line(services, r.message)) for r in rows]
        more = offset + len(out) < total and bool(out)
        return MessagePage(
            folder=folder, total=total, offset=offset, limit=limit,
            next_offset=offset + len(out) if more else None, messages=out,
        )  # fmt: skip

    return await run_in_threadpool(load)


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationOut,
    summary="An assistant conversation of the key's user, oldest turn first.",
    responses={404: {"description": "No conversation with this id for this key's user."}},
)
async def get_conversation(
    conversation_id: Annotated[
        str,
        Path(
            pattern=CONVERSATION_ID_PATTERN,
            description="The `conversation_id` a `POST /v1/chat` answer returned.",
            examples=["kitchen-42"],
        ),
    ],
    services: ServicesDep,
    principal: PrincipalDep,
) -> ConversationOut:
    """The questions, answers, citations and tool calls of the conversation, so a client can
    show it again after a reload."""
    turns = await run_in_threadpool(read_turns, services, principal.user, conversation_id)
    if not turns:
        raise not_found("conversation")
    return ConversationOut(conversation_id=conversation_id, turns=turns)


def read_turns(services: Services, user: str, conversation: str) -> list[ConversationTurn]:
    """The conversation's turns from the assistant's checkpoint (keyed by the caller's user)."""
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    # The checkpoint key of agents.assistant.run: the user part is the API key's.
    config: Any = {"configurable": {"thread_id": f"{user}/{conversation}"}}
    messages = services.assistant.get_state(config).values.get("messages", [])
    turns: list[_Turn] = []
    for msg in messages:
        if isinstance(msg, HumanMessage):
            turns.append(_Turn(str(msg.content)))
        elif not turns:
            continue
        elif isinstance(msg, ToolMessage):
            turns[-1].results[msg.tool_call_id] = msg
        elif isinstance(msg, AIMessage) and msg.tool_calls:
            turns[-1].calls.extend(msg.tool_calls)
        elif isinstance(msg, AIMessage):
            turns[-1].answer = str(msg.content)
    return [t.out() for t in turns]


class _Turn:
    """A turn being read back from the checkpoint's messages."""

    def __init__(self, question: str) -> None:
        self.question = question
        self.answer = ""
        self.calls: list[Any] = []
        self.results: dict[str, Any] = {}

    def out(self) -> ConversationTurn:
        from agents.assistant.evidence import describe
        from api.http.routers.chat import _kind_by_shape, _kinds

        artifacts: list[BaseModel] = [
            r.artifact for r in self.results.values() if r.artifact is not None
        ]
        texts, kinds = describe(artifacts), _kinds(artifacts)
        returned = "\n".join(str(r.content) for r in self.results.values())
        cited: list[Citation] = []
        for cid in dict.fromkeys(_CITE.findall(self.answer)):
            # Only ids this turn's tools returned (the graph already dropped any other); the
            # checkpoint may keep the tool results' text without their typed artifacts.
            if cid in kinds or cid in returned:
                kind = kinds.get(cid) or _kind_by_shape(cid)
                cited.append(Citation(id=cid, kind=kind, description=texts.get(cid, "")))
        calls = []
        for c in self.calls:
            result = self.results.get(c.get("id") or "")
            content = str(result.content) if result is not None else ""
            calls.append(
                ToolCallView(
                    name=c["name"], args=dict(c["args"]),
                    ok=result is not None and not content.startswith("error:"),
                    result_chars=len(content),
                )
            )  # fmt: skip
        return ConversationTurn(
            question=self.question, answer=self.answer, citations=cited, tool_calls=calls
        )
