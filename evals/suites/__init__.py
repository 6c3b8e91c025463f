"""The evaluation suites, one module each; :func:`get_suite` imports one on demand (a suite's
imports - models, rouge, qdrant - are heavy, and ``mailmind --help`` should stay fast)."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evals.suites.base import SuiteSpec

#: CLI name -> module under ``evals.suites`` (each defines ``SPEC``).
SUITES: dict[str, str] = {
    "subject-lines": "subject_lines",
    "summaries": "summaries",
    "retrieval": "retrieval",
    "smart-reply": "smart_reply",
    "agent": "agent",
    "latency": "latency",
    "feedback": "feedback",
    "agentdojo": "agentdojo",
}


def get_suite(name: str) -> SuiteSpec:
    """The suite called ``name`` (:class:`InputError` naming the known ones otherwise)."""
    from core.errors import InputError

    if name not in SUITES:
        raise InputError(f"unknown suite {name!r}; known: {', '.join(SUITES)}")
    spec: SuiteSpec = import_module(f"evals.suites.{SUITES[name]}").SPEC
    return spec
