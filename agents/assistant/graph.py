"""The assistant: a LangGraph ``StateGraph`` that routes, calls tools, observes and answers.

::

    START → route ─┬─► plan → tools → observe ─┬─► plan (more tools planned, under the step limit)
                   │                           └─► answer → END
                   └─► answer (no tool needed)

* ``route`` ranks tools for the request (embedding router by default; with
  ``routing="model"`` a capable model picks tools itself through ``bind_tools``).
* ``plan`` turns the next planned tool into a tool call: the model fills the arguments under the
  tool's JSON schema, then :func:`agents.assistant.args.reconcile` checks them against the request.
* ``tools`` is LangGraph's ``ToolNode``; tools get the user from the runtime context only.
* ``observe`` records the ids each tool returned (the only ids an answer may cite) and plans a
  follow-up (read the top message or thread, check the free time of a person just looked up).
* ``answer`` writes the reply from the tool results and keeps only citations a tool returned.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.prebuilt import ToolNode
from langgraph.runtime import Runtime
from pydantic import BaseModel

from agents.assistant.args import heuristic_args, names_in, reconcile
from agents.assistant.budget import PromptBudget, token_counter
from agents.assistant.compose import (
    PERSON_REF,
    Composed,
    asked_fields,
    compose,
    contact_has_answer,
    scrub_unverified,
)
from agents.assistant.evidence import describe
from agents.assistant.evidence import render as render_evidence
from agents.assistant.router import MAIL_TOOLS, clauses
from agents.assistant.run import check_question
from agents.assistant.state import AssistantState
from agents.llm.types import STRUCTURED_OVERRUN_TOKENS
from core.errors import MailmindError
from core.tracing import GRAPH_NODE, traced
from prompts import render
from tools.context import AgentContext
from tools.impl import TOOL_FUNCTIONS, citable_ids
from tools.langchain import DESCRIPTIONS, build_tools
from tools.schemas import FindFreeTimeResult

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.graph.state import CompiledStateGraph

    from agents.actions.service import ActionService
    from agents.assistant.router import IntentRouter

Routing = Literal["router", "model"]
#: What a citation looks like: a message/thread id, or an event/contact id (they contain "@").
#: Other bracketed text ("[4.12]") is the model's prose and stays.
_CITE = re.compile(r"\[((?:[mt][0-9a-f]{12,40})|(?:[\w.+-]+@[\w.-]+))\]")
_SUMMARY_CUE = re.compile(
    r"\b(summar\w*|recap|thread|catch me up|tl;?dr|back and forth|discussion)\b"
)
#: A request that may want free time at all (a close second find_free_time runs only then).
_FREE_GATE = re.compile(r"\b(free|availab\w*|find (a )?time|slots?|meet|when can|squeeze|fit in)\b")
_FREE_CUE = re.compile(r"\b(free|availab\w*|find (a )?time|slot|meet with)\b")

#: What each tool lets the assistant do, in the words of its self-description. A tool without an
#: entry here fails ``tests/agents``: the description must always match the real tools.
CAPABILITIES: dict[str, str] = {
    "search_mailbox": "search your mail",
    "read_message": "read a message",
    "read_thread": "read a whole thread",
    "list_events": "list your calendar events",
    "find_free_time": "find free time for a meeting",
    "lookup_contacts": "look up your contacts",
    "list_messages": "list who wrote to you and when",
}
#: Questions about the assistant itself: answered from :data:`CAPABILITIES`, not by the model.
_ABOUT_CUE = re.compile(
    r"\b(what can you do|what do you do|who are you|what are you|help me\??$|^help\b|"
    r"how can you help|your (capabilities|features))",
    re.I,
)
#: Things a small model likes to claim it can do, none of which any tool does.
_UNSUPPORTED_CLAIM = re.compile(
    r"\b(send|sending|sent|forward|delete|deleting|archive|compose|draft|schedule|book|booking|"
    r"remind|reminder|cancel|unsubscribe|move|create|order|pay|call|browse|internet|web)\b",
    re.I,
)


def describe_capabilities(can_act: bool = False) -> str:
    """What the assistant can do, from its real tools (and what it cannot).

    ``can_act``: side-effecting actions are on (drafts, sending, invitations, events), each
    proposed for the user's approval."""
    actions = [CAPABILITIES[name] for name in TOOL_FUNCTIONS]
    listed = ", ".join(actions[:-1]) + f" and {actions[-1]}"
    head = (
        f"Hi! I'm mailmind. I can {listed}, and answer questions from them with the sources cited."
    )
    if can_act:
        return head + (
            " I can also draft and send mail, answer invitations and create or move events, "
            "but only after you approve each action; I never delete anything."
        )
    return head + (
        " I only read: I cannot send, reply to, delete or change any mail, event or contact."
    )


def _question(state: AssistantState) -> str:
    for msg in reversed(state.get("messages", [])):
        if isinstance(msg, HumanMessage):
            return str(msg.content)
    raise ValueError("the assistant needs a user message")


def build_graph(
    model: BaseChatModel,
    router: IntentRouter | None,
    *,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    max_steps: int = 4,
    routing: Routing = "router",
    margin: float = 0.04,
    context_length: int | None = None,
    max_question_chars: int | None = None,
    compose_answers: bool = True,
    model_args: Literal["auto", "always"] = "auto",
    actions: ActionService | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile the assistant graph. ``router`` is required for ``routing="router"``.

    ``context_length`` (the model's context in tokens) makes every prompt fit it before the model
    is called; ``max_question_chars`` rejects longer questions before any tool runs.
    ``compose_answers`` renders answers from the tool results by code
    (:mod:`agents.assistant.compose`); off, the model writes them (checked the same way).
    ``model_args="auto"`` asks the model for tool arguments only when code could not read them
    off the question (with model routing, always): each such call costs seconds on a CPU.
    ``actions`` enables side-effecting requests ("send an email to ..."): they are proposed,
    checked by the policy and stop at an approval interrupt (:mod:`agents.actions.nodes`)."""
    if routing == "router" and router is None:
        raise ValueError("routing='router' needs an IntentRouter")
    tools = build_tools()
    budget = PromptBudget(context_length, token_counter(model))
    # The router's sentence encoder also ranks evidence sentences for composed answers.
    embedder = getattr(router, "embedder", None)
    answer_tokens = int(getattr(model, "max_tokens", None) or 256)

    def route(state: AssistantState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        question = _question(state)
        # Before any tool runs: an empty or overlong question is the caller's error.
        check_question(question, max_question_chars)
        started = time.perf_counter()
        if routing == "model":
            plan = _model_route(model, question)
            ranking: list[tuple[str, float]] = [(t, 1.0) for t in plan] or [("none", 1.0)]
        else:
            assert router is not None
            r = router.route(question)
            ranking = list(r.ranking)
            plan = router.plan(question, r)
            if len(plan) == 1:
                second = r.close_second(margin)
                # Two tools close together: run both (e.g. "free when Kenji can meet?").
                if second == "find_free_time" and not _FREE_GATE.search(question.lower()):
                    second = None  # free time only when the request is about free time
                if second and second not in plan and not {plan[0], second} <= MAIL_TOOLS:
                    plan.append(second)
            # Reading needs an id only a search can supply; observe() then plans the read.
            plan = ["search_mailbox" if t in ("read_thread", "read_message") else t for t in plan]
            plan = list(dict.fromkeys(plan))
        parts = _parts(question, plan, router if routing == "router" else None)
        return {
            "question": question, "plan": plan, "tools_used": [], "observed": [],
            "evidence": [], "steps": 0, "route": ranking[:4], "citations": [],
            "dropped_citations": [], "answer": "", "parts": parts,
            "meta": {"route_ms": round((time.perf_counter() - started) * 1000, 1)},
        }  # fmt: skip

    def plan(state: AssistantState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        ctx = runtime.context
        tool, *rest = state["plan"]
        try:
            ask_model = model_args == "always" or routing == "model"
            args = _args_for(model, tool, state, ctx, budget, ask_model=ask_model)
        except MailmindError:
            # Let the tool report the problem to the observe step rather than end the turn.
            args = (
                heuristic_args(tool, "", ctx) if tool not in ("read_message", "read_thread") else {}
            )
        call = {"name": tool, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}"}
        return {"messages": [AIMessage(content="", tool_calls=[call])], "plan": rest}

    def observe(state: AssistantState) -> dict[str, Any]:
        results = _last_tool_messages(state)
        observed: list[str] = []
        evidence = list(state.get("evidence", []))
        used = list(state.get("tools_used", []))
        follow: list[str] = []
        for msg in results:
            used.append(msg.name or "")
            artifact = msg.artifact
            shown = render_evidence(artifact) if isinstance(artifact, BaseModel) else msg.content
            evidence.append(f"{msg.name} result:\n{shown}")
            if isinstance(artifact, BaseModel):
                observed.extend(sorted(citable_ids(artifact)))
                follow.extend(_follow_ups(msg.name or "", artifact, state))
        plan_rest = [t for t in state.get("plan", []) if t not in used]
        plan_rest += [t for t in follow if t not in used and t not in plan_rest]
        return {
            "observed": observed, "evidence": evidence, "tools_used": used,
            "steps": state.get("steps", 0) + 1, "plan": plan_rest,
        }  # fmt: skip

    def after_observe(state: AssistantState) -> Literal["plan", "answer"]:
        if state.get("plan") and state.get("steps", 0) < max_steps:
            return "plan"
        return "answer"

    def after_route(state: AssistantState) -> Literal["plan", "answer"]:
        return "plan" if state.get("plan") else "answer"

    def answer(state: AssistantState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        ctx = runtime.context
        question = state["question"]
        if not state.get("tools_used"):
            text = _chat_reply(model, question, budget, answer_tokens, actions is not None)
            return {"messages": [AIMessage(content=text)], "answer": text, "citations": []}
        now = ctx.local_now.strftime(f"%a %d %b %Y %H:%M ({ctx.zone_name})")
        prompt = budget.fit(
            lambda evidence: render(
                "assistant_answer", now=now, question=question, evidence=evidence
            ),
            state.get("evidence", []),
            generate=answer_tokens,
        )
        observed = state.get("observed", [])
        artifacts = _all_tool_artifacts(state)
        started = time.perf_counter()
        composed = _compose_parts(state, artifacts, ctx, embedder) if compose_answers else None
        if composed is not None:
            # The facts are rendered by code from the tool results: no model call, nothing
            # the model could invent.
            cited = [c for c in composed.cited if c in set(observed)] or _default_citations(state)
            sources = describe(artifacts)
            lines = [f"[{c}] {sources.get(c, '')}".rstrip() for c in cited]
            final = composed.text + ("\n\nSources:\n" + "\n".join(lines) if lines else "")
            meta = dict(state.get("meta", {}))
            meta["compose_ms"] = round((time.perf_counter() - started) * 1000, 1)
            return {
                "messages": [AIMessage(content=final)], "answer": final, "citations": cited,
                "dropped_citations": [], "meta": meta,
            }  # fmt: skip
        text, cited, dropped = _write_answer(model, prompt, observed)
        known = "\n".join([question, *state.get("evidence", [])])
        text = scrub_unverified(text, known, observed) or "I couldn't find an answer to that."
        if not cited:
            # The model cited nothing usable: cite what the first tool returned first.
            cited = _default_citations(state)
        sources = describe(artifacts)
        lines = [f"[{c}] {sources.get(c, '')}".rstrip() for c in cited]
        final = text + ("\n\nSources:\n" + "\n".join(lines) if lines else "")
        # Free slots have no id to cite: show the slots the tool found as they are.
        slots = [render_evidence(a) for a in artifacts if isinstance(a, FindFreeTimeResult)]
        if slots:
            final += "\n\n" + "\n".join(slots)
        return {
            "messages": [AIMessage(content=final)], "answer": final, "citations": cited,
            "dropped_citations": dropped,
        }  # fmt: skip

    graph = StateGraph(AssistantState, context_schema=AgentContext)
    tool_node = ToolNode(tools)

    def run_tools(state: AssistantState, config: RunnableConfig) -> Any:
        # A function node around the ToolNode, so the tool calls nest in a node span.
        return tool_node.invoke(state, config)

    def node(name: str, fn: Any) -> Any:
        return traced(f"assistant.{name}", fn, attributes={GRAPH_NODE: name})

    if actions is not None:
        from agents.actions import nodes as action_nodes

        rank = getattr(router, "rank_actions", None)
        route_node = action_nodes.action_route(route, rank, max_question_chars)
        propose_node, approval_node = action_nodes.build_nodes(actions, model)
        graph.add_node("route", node("route", route_node))
        graph.add_node("propose", node("propose", propose_node))
        graph.add_node("approval", node("approval", approval_node))
        graph.add_conditional_edges(
            "route", action_nodes.after_route_or_action(after_route), ["plan", "answer", "propose"]
        )
        graph.add_conditional_edges("propose", action_nodes.after_propose, ["approval", END])
        graph.add_edge("approval", END)
    else:
        graph.add_node("route", node("route", route))
        graph.add_conditional_edges("route", after_route, ["plan", "answer"])
    graph.add_node("plan", node("plan", plan))
    graph.add_node("tools", node("tools", run_tools))
    graph.add_node("observe", node("observe", observe))
    graph.add_node("answer", node("answer", answer))
    graph.add_edge(START, "route")
    graph.add_edge("plan", "tools")
    graph.add_edge("tools", "observe")
    graph.add_conditional_edges("observe", after_observe, ["plan", "answer"])
    graph.add_edge("answer", END)
    return graph.compile(checkpointer=checkpointer)


class _Answer(BaseModel):
    answer: str


def _chat_reply(
    model: BaseChatModel,
    question: str,
    budget: PromptBudget,
    generate: int,
    can_act: bool = False,
) -> str:
    """A reply that needs no tool (greetings, thanks, "what can you do").

    Questions about the assistant itself get :func:`describe_capabilities`; a model reply that
    claims an ability no tool has (sending mail, booking...) is replaced by it too."""
    if _ABOUT_CUE.search(question.strip()):
        return describe_capabilities(can_act)
    prompt = budget.fit(
        lambda _: render("assistant_chat", question=question), [], generate=generate
    )
    text = str(model.invoke(prompt).content).strip()
    if not text or _UNSUPPORTED_CLAIM.search(text):
        return describe_capabilities(can_act)
    return text


def _write_answer(
    model: BaseChatModel, prompt: str, observed: list[str]
) -> tuple[str, list[str], list[str]]:
    """The model's answer with checked citations.

    Free text first (it streams token by token to the client); a reply that copies the
    data-block markup back, as small models do, is cleaned of it.
    """
    raw = str(model.invoke(prompt, stop=["\nQuestion:", "\n\n\n"]).content).strip()
    lines: list[str] = []
    for line in raw.splitlines():
        clean = line.strip()
        # Small models echo the data markup and repeat themselves: drop both.
        if clean.startswith(("^", "<<")) or "result:" in clean or clean in lines:
            continue
        if clean.lower().rstrip(":") in ("the answer is", "answer", "the details are"):
            continue
        lines.append(clean)
    raw = "\n".join(line for line in lines if line).strip()
    # A generation cut by the token limit can end inside a citation ("... is [m12").
    raw = re.sub(r"\s*\[[^\]\n]*$", "", raw)
    text, cited, dropped = check_citations(raw, observed)
    return text or "Here is what I found.", cited, dropped


def check_citations(text: str, observed: list[str]) -> tuple[str, list[str], list[str]]:
    """Keep ``[id]`` citations a tool returned; remove the others from the text.

    Returns (text with unknown citations removed, kept ids in order, dropped ids).
    """
    known = set(observed)
    kept: list[str] = []
    dropped: list[str] = []

    def repl(m: re.Match[str]) -> str:
        cid = m.group(1)
        if cid in known:
            if cid not in kept:
                kept.append(cid)
            return m.group(0)
        dropped.append(cid)
        return ""

    cleaned = _CITE.sub(repl, text)
    return re.sub(r"[ \t]+([.,;])", r"\1", cleaned).strip(), kept, dropped


def _default_citations(state: AssistantState) -> list[str]:
    msgs = _all_tool_artifacts(state)
    out: list[str] = []
    for artifact in msgs:
        ids = _primary_ids(artifact)
        for i in ids[:2]:
            if i not in out:
                out.append(i)
    return out[:3]


def _primary_ids(artifact: BaseModel) -> list[str]:
    from tools.schemas import (
        FindFreeTimeResult,
        ListEventsResult,
        ListMessagesResult,
        LookupContactsResult,
        MessageView,
        SearchMailboxResult,
        ThreadView,
    )

    if isinstance(artifact, SearchMailboxResult):
        return [h.message_id for h in artifact.hits]
    if isinstance(artifact, MessageView):
        return [artifact.message_id]
    if isinstance(artifact, ThreadView):
        return [m.message_id for m in artifact.messages[-2:]]
    if isinstance(artifact, ListEventsResult):
        return [e.event_id for e in artifact.events]
    if isinstance(artifact, LookupContactsResult):
        return [c.contact_id for c in artifact.contacts]
    if isinstance(artifact, FindFreeTimeResult):
        return [b.event_id for b in artifact.busy]
    if isinstance(artifact, ListMessagesResult):
        return [h.message_id for h in artifact.messages]
    return []


def _last_tool_messages(state: AssistantState) -> list[ToolMessage]:
    out: list[ToolMessage] = []
    for msg in reversed(state.get("messages", [])):
        if isinstance(msg, ToolMessage):
            out.append(msg)
        else:
            break
    return list(reversed(out))


def _all_tool_artifacts(state: AssistantState) -> list[BaseModel]:
    """Artifacts of this turn's tool messages, oldest first."""
    out: list[BaseModel] = []
    for msg in reversed(state.get("messages", [])):
        if isinstance(msg, HumanMessage):
            break
        if isinstance(msg, ToolMessage) and isinstance(msg.artifact, BaseModel):
            out.append(msg.artifact)
    return list(reversed(out))


def _follow_ups(tool: str, artifact: BaseModel, state: AssistantState) -> list[str]:
    from agents.assistant.mail_asks import is_content
    from tools.schemas import (
        ListEventsResult,
        ListMessagesResult,
        LookupContactsResult,
        SearchMailboxResult,
    )

    question = state.get("question", "")
    if tool == "list_messages" and isinstance(artifact, ListMessagesResult):
        # "What did Leah say in her last email": read the newest message listed.
        return ["read_message"] if artifact.messages and is_content(question) else []
    if (
        tool == "list_events"
        and isinstance(artifact, ListEventsResult)
        and any(e.organizer for e in artifact.events)
        and asked_fields(question)
        and PERSON_REF.search(question)
    ):
        # "The phone number of whoever runs the review": the event's organizer, looked up.
        return ["lookup_contacts"]
    if tool == "list_events" and isinstance(artifact, ListEventsResult) and not artifact.events:
        # Nothing on the calendar then: the meeting may live only in mail ("Room for
        # tomorrow's meeting"), as it does for mailboxes without a calendar.
        return ["search_mailbox"]
    if tool == "search_mailbox" and isinstance(artifact, SearchMailboxResult) and artifact.hits:
        # Snippets are short: read the best hit (or its whole thread for a summary request).
        return ["read_thread" if _SUMMARY_CUE.search(question.lower()) else "read_message"]
    if (
        tool == "lookup_contacts"
        and isinstance(artifact, LookupContactsResult)
        and artifact.contacts
        and _FREE_CUE.search(question.lower())
    ):
        return ["find_free_time"]
    if (
        tool == "lookup_contacts"
        and isinstance(artifact, LookupContactsResult)
        and not _FREE_CUE.search(question.lower())
        and not any(contact_has_answer(c, question) for c in artifact.contacts)
    ):
        # The contacts know nothing useful about this person: the fact may be in mail.
        return ["search_mailbox"]
    return []


def _args_for(
    model: BaseChatModel,
    tool: str,
    state: AssistantState,
    ctx: AgentContext,
    budget: PromptBudget | None = None,
    *,
    ask_model: bool = True,
) -> dict[str, Any]:
    """Arguments for ``tool``: read off the question by code, the model asked only when
    ``ask_model`` or when code left a required argument empty; every value is checked."""
    question = _part_for(state, tool)
    artifacts = _all_tool_artifacts(state)
    if tool in ("read_message", "read_thread"):
        return _id_args(tool, artifacts)
    fallback = heuristic_args(tool, question, ctx)
    # "The guy who sent us the quote - what's his number": the person is the sender of the
    # mail just found, not words of the question.
    if tool == "lookup_contacts" and not names_in(question) and PERSON_REF.search(question):
        who = _event_organizer(artifacts, question) or _mail_sender(artifacts, ctx)
        fallback["query"] = who or fallback["query"]
    if tool == "find_free_time":
        emails = _contact_emails(artifacts)
        if emails:
            fallback["attendees"] = emails[:3]
    args_model, _fn = TOOL_FUNCTIONS[tool]
    missing = [
        name
        for name, f in args_model.model_fields.items()
        if f.is_required() and fallback.get(name) in (None, "", [])
    ]
    if not ask_model and not missing:
        return reconcile(tool, None, fallback, question, ctx)
    proposed: dict[str, Any] | None
    try:
        structured = model.with_structured_output(args_model)

        def prompt(context: list[str]) -> str:
            return render(
                "assistant_args",
                tool=tool,
                tool_description=DESCRIPTIONS[tool],
                now=ctx.local_now.strftime("%a %d %b %Y %H:%M"),
                timezone=ctx.timezone,
                question=question,
                context="\n".join(context) or None,
            )

        context = state.get("evidence", [])[-1:]
        if budget is None:
            text = prompt(context)
        else:
            # The schema is described in the prompt too, and JSON may overrun max_tokens.
            schema = budget.count(json.dumps(args_model.model_json_schema()))
            generate = int(getattr(model, "max_tokens", None) or 256)
            text = budget.fit(
                prompt, context, generate=generate + STRUCTURED_OVERRUN_TOKENS + schema
            )
        out = structured.invoke(text)
        proposed = out.model_dump() if isinstance(out, BaseModel) else dict(out or {})
    except Exception:  # noqa: BLE001 - a failed fill falls back to rule-based arguments
        proposed = None
    return reconcile(tool, proposed, fallback, question, ctx)


def _id_args(tool: str, artifacts: list[BaseModel]) -> dict[str, Any]:
    """read_* arguments come from what tools returned, never from model text."""
    from tools.schemas import ListMessagesResult, SearchMailboxResult

    for artifact in reversed(artifacts):
        hits = (
            artifact.hits if isinstance(artifact, SearchMailboxResult)
            else artifact.messages if isinstance(artifact, ListMessagesResult)
            else []
        )  # fmt: skip
        if hits:
            top = hits[0]
            if tool == "read_thread":
                return {"thread_id": top.thread_id}
            return {"message_id": top.message_id}
    key = "thread_id" if tool == "read_thread" else "message_id"
    return {key: "unknown"}


def _event_organizer(artifacts: list[BaseModel], question: str) -> str | None:
    """The organizer's address of the event the question names best (of the events found)."""
    from agents.assistant.compose import _best_events
    from tools.schemas import ListEventsResult

    for artifact in artifacts:
        if isinstance(artifact, ListEventsResult) and artifact.events:
            for e in _best_events(artifact.events, question):
                if e.organizer:
                    return e.organizer.removeprefix("mailto:")
    return None


def _mail_sender(artifacts: list[BaseModel], ctx: AgentContext) -> str | None:
    """The sender (name, else address) of the best mail found that is not the user's own."""
    from tools.messages import own_addresses_of
    from tools.schemas import MessageView, SearchMailboxResult

    own = own_addresses_of(ctx)
    for artifact in artifacts:
        senders = (
            [h.sender for h in artifact.hits] if isinstance(artifact, SearchMailboxResult)
            else [artifact.sender] if isinstance(artifact, MessageView)
            else []
        )  # fmt: skip
        for sender in senders:
            name, _, addr = sender.partition("<")
            addr = addr.rstrip(">").strip().lower() or name.strip().lower()
            if addr and addr not in own:
                return name.strip() or addr
    return None


def _contact_emails(artifacts: list[BaseModel]) -> list[str]:
    from tools.schemas import LookupContactsResult

    for artifact in reversed(artifacts):
        if isinstance(artifact, LookupContactsResult) and artifact.contacts:
            return artifact.contacts[0].emails[:1]
    return []


def _model_route(model: BaseChatModel, question: str) -> list[str]:
    """Let a capable model pick the first tool itself (``routing="model"``)."""
    tools = build_tools()
    try:
        reply = model.bind_tools(tools).invoke(
            [HumanMessage(content=f"Pick the tool for this request: {question}")]
        )
    except Exception:  # noqa: BLE001 - a model that cannot call tools answers directly
        return []
    calls = getattr(reply, "tool_calls", None) or []
    names = [c["name"] for c in calls if c.get("name") in TOOL_FUNCTIONS]
    return names[:2]


def result_json(msg: ToolMessage) -> Any:
    """The JSON a tool returned (for observers and tests)."""
    try:
        return json.loads(str(msg.content))
    except json.JSONDecodeError:
        return str(msg.content)


#: Which result types answer an ask routed to each tool.
_RESULT_TOOLS: dict[str, tuple[str, ...]] = {
    "search_mailbox": ("SearchMailboxResult", "MessageView", "ThreadView", "LookupContactsResult"),
    "read_message": ("SearchMailboxResult", "MessageView", "ThreadView"),
    "read_thread": ("SearchMailboxResult", "MessageView", "ThreadView"),
    "list_events": ("ListEventsResult",),
    "find_free_time": ("FindFreeTimeResult", "LookupContactsResult"),
    "lookup_contacts": ("LookupContactsResult", "SearchMailboxResult", "MessageView"),
    "list_messages": ("ListMessagesResult", "MessageView"),
}


def _parts(question: str, plan: list[str], router: IntentRouter | None) -> list[tuple[str, str]]:
    """The asks of a compound request, each with the tool it routed to."""
    asks = clauses(question)
    if len(asks) < 2 or router is None or len(plan) < 2:
        return [(question, plan[0] if plan else "none")]
    out: list[tuple[str, str]] = []
    for ask in asks:
        tool = router.route(ask).tool
        tool = "search_mailbox" if tool in ("read_thread", "read_message") else tool
        if tool != "none":
            out.append((ask, tool))
    # Two asks for the same tool are one ask to it (the plan runs each tool once).
    if len({t for _, t in out}) < 2:
        return [(question, plan[0])]
    return out


def _part_for(state: AssistantState, tool: str) -> str:
    """The part of a compound request a tool serves (the whole request otherwise)."""
    parts = state.get("parts") or []
    if len(parts) > 1:
        for ask, t in parts:
            if t == tool:
                return ask
    return state["question"]


def _compose_parts(
    state: AssistantState, artifacts: list[BaseModel], ctx: AgentContext, embedder: Any
) -> Composed | None:
    """A composed answer, one numbered paragraph per ask of a compound request."""
    parts = state.get("parts") or []
    if len(parts) < 2:
        used = state.get("tools_used") or []
        primary = used[0] if used else None
        return compose(state["question"], artifacts, ctx, embedder, primary=primary)
    texts: list[str] = []
    cited: list[str] = []
    for ask, tool in parts:
        kinds = _RESULT_TOOLS.get(tool, ())
        mine = [a for a in artifacts if type(a).__name__ in kinds]
        got = compose(ask, mine, ctx, embedder) if mine else None
        text = got.text if got else f'I couldn\'t find anything for "{ask}".'
        cited += [c for c in (got.cited if got else []) if c not in cited]
        if text not in texts:  # two asks one tool result answers: say it once
            texts.append(text)
    if len(texts) == 1:
        return Composed(texts[0], cited)
    return Composed("\n".join(f"{i}. {t}" for i, t in enumerate(texts, start=1)), cited)
