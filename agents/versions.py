"""Which versioned artefact produced each kind of output users give feedback on.

Feedback (``POST /v1/feedback``) is stored with the version in force when it arrives, so the
``feedback`` eval suite can compare chip acceptance, thumbs and edit distance per version. The
service loads its prompts at start and the REPL's overrides never reach it, so the version in
force at feedback time is the one that produced the output, unless the prompts changed on disk
in between (a restart with new prompts starts a new version's rows).
"""

from __future__ import annotations

#: The prompt behind each feedback kind (chips come from the response set, not a prompt).
FEEDBACK_PROMPTS: dict[str, str] = {
    "answer": "assistant_answer",
    "summary": "summarize_thread",
    "draft": "draft_reply",
}


def producer_version(kind: str) -> str | None:
    """``name@version`` of the prompt behind ``kind``, ``responses@<sha256[:12]>`` for chips,
    ``None`` for an unknown kind."""
    if kind == "chip":
        from agents.smart_reply.responses import load_responses

        return f"responses@{load_responses().sha256[:12]}"
    name = FEEDBACK_PROMPTS.get(kind)
    if name is None:
        return None
    from prompts.render import load_prompt

    return load_prompt(name).id
