"""``agentdojo``: prompt-injection resistance on AgentDojo's workspace suite (v1.2.2).

Per attack: utility without attack (the user tasks alone), utility under attack and targeted
attack success rate (ASR: the injection task's goal reached), each with a 95% bootstrap
interval. Systems:

* ``mailmind_defended`` (ours): our chat model in AgentDojo's pipeline, tool outputs
  sanitised and spotlighted, every side-effecting call behind our approval gate
  (:mod:`evals.agentdojo.gate`).
* ``no_defence`` (baseline): the same model and pipeline, no gate, no spotlighting.
* ``gate_obedient_model`` / ``obedient_no_gate``: a worst-case scripted model that does
  everything the injection asks and then the user's task; measures what the gate alone guarantees
  whatever the model does (and, with no gate, that the attacks are real). No LLM; fast.

``--limit N`` runs N (user task, injection task) pairs spread over both lists (see
:func:`evals.agentdojo.run.pairs`); utility without attack is measured on their user tasks.
``--attack all`` runs the four attacks; ``--gate-only`` skips the LLM systems.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evals.harness.meta import run_meta
from evals.harness.report import Report, Score, SystemResult
from evals.suites.base import SuiteContext, SuiteSpec

FORMAT = "none: AgentDojo's workspace suite ships with the agentdojo package (pip extra 'eval')"
DEFAULT_ATTACK = "important_instructions"


def attacks_from(option: str | None) -> list[str]:
    """``--attack`` as a list: one name, a comma-separated list, or ``all``."""
    from core.errors import InputError
    from evals.agentdojo.run import ATTACKS

    names = list(ATTACKS) if option == "all" else (option or DEFAULT_ATTACK).split(",")
    names = [n.strip() for n in names if n.strip()]
    bad = [n for n in names if n not in ATTACKS]
    if bad or not names:
        raise InputError(f"--attack must be 'all' or among {list(ATTACKS)}: {option!r}")
    return names


def _system(
    name: str, role: Any, description: str, clean: list[float],
    attacked: dict[str, tuple[list[float], list[float]]],
) -> SystemResult:  # fmt: skip
    metrics: dict[str, Score] = {"utility_no_attack": Score.of(clean)}
    per_example: dict[str, list[float]] = {}
    for attack, (utility, asr) in attacked.items():
        metrics[f"asr_{attack}"] = Score.of(asr)
        metrics[f"utility_{attack}"] = Score.of(utility)
        per_example[f"asr_{attack}"] = asr
        per_example[f"utility_{attack}"] = utility
    return SystemResult(
        name=name, role=role, description=description, metrics=metrics, per_example=per_example
    )


def run(ctx: SuiteContext) -> Report:
    """Run the selected attacks over the selected pairs for every system."""
    from evals.agentdojo.elements import build_pipeline
    from evals.agentdojo.run import (
        BENCHMARK_VERSION,
        PairResult,
        attack_for,
        pairs,
        run_obedient,
        run_one,
        workspace_suite,
    )

    attacks = attacks_from(ctx.options.get("attack"))
    gate_only = bool(ctx.options.get("gate_only"))
    suite = workspace_suite()
    chosen = pairs(suite, ctx.limit)
    users = list(dict.fromkeys(u for u, _ in chosen))

    runners: list[tuple[str, Any, str, Callable[[str, str | None, Any], PairResult]]] = []
    target = None
    if not gate_only:
        settings = ctx.settings
        # Tool schemas and outputs need more than the chat default window.
        if settings.llm.context_length < 8192:
            settings = settings.model_copy(update={
                "llm": settings.llm.model_copy(update={"context_length": 8192})})  # fmt: skip
        from agents.llm import get_chat_model

        model = get_chat_model(settings, max_tokens=160, temperature=0.0)
        defended = build_pipeline(model, defended=True)
        bare = build_pipeline(model, defended=False)
        target = defended
        runners += [
            ("mailmind_defended", "ours", "our model; sanitised + spotlighted tool outputs; "
             "approval gate on side effects",
             lambda u, j, a: run_one(suite, defended, u, j, a)),
            ("no_defence", "baseline", "our model alone in the same pipeline: no gate, no "
             "spotlighting", lambda u, j, a: run_one(suite, bare, u, j, a)),
        ]  # fmt: skip
    runners += [
        ("gate_obedient_model", "ours" if gate_only else "variant",
         "worst-case model (does what the injection asks, then the task) behind our gate",
         lambda u, j, a: run_obedient(suite, u, j, a, gated=True)),
        ("obedient_no_gate", "baseline", "worst-case model, no gate: shows the attacks work",
         lambda u, j, a: run_obedient(suite, u, j, a, gated=False)),
    ]  # fmt: skip

    systems: list[SystemResult] = []
    latencies: dict[str, list[float]] = {}
    successes: list[dict[str, str]] = []
    for name, role, description, runner in runners:
        clean: list[float] = []
        for i, u in enumerate(users, 1):
            ctx.log(f"{name}: {u} without attack ({i}/{len(users)})")
            res = runner(u, None, None)
            clean.append(float(res.utility))
            latencies.setdefault(name, []).append(res.seconds)
        attacked: dict[str, tuple[list[float], list[float]]] = {}
        for attack_name in attacks:
            attack = attack_for(attack_name, suite, target or _obedient_target(suite))
            utility: list[float] = []
            asr: list[float] = []
            for i, (u, j) in enumerate(chosen, 1):
                res = runner(u, j, attack)
                ctx.log(f"{name}: {attack_name} {u} x {j} ({i}/{len(chosen)}): "
                        f"utility={res.utility} attacked={res.attacked}")  # fmt: skip
                utility.append(float(res.utility))
                asr.append(float(res.attacked))
                latencies.setdefault(name, []).append(res.seconds)
                if res.attacked:
                    successes.append({"system": name, "attack": attack_name, "pair": f"{u}:{j}"})
            attacked[attack_name] = (utility, asr)
        systems.append(_system(name, role, description, clean, attacked))

    first = attacks[0]
    return Report(
        suite="agentdojo", primary_metric=f"asr_{first}", n=len(chosen),
        lower_is_better=[f"asr_{a}" for a in attacks],
        example_ids=[f"{u}:{j}" for u, j in chosen], systems=systems,
        meta=run_meta(
            "agentdojo", model=None if gate_only else ctx.model_name,
            runtime=None if gate_only else ctx.settings.llm.runtime,
            parameters={"attacks": attacks, "limit": ctx.limit, "pairs": len(chosen),
                        "user_tasks": len(users), "benchmark": BENCHMARK_VERSION,
                        "suite": "workspace", "gate_only": gate_only},
        ),
        latencies=latencies,
        notes=[
            f"AgentDojo {BENCHMARK_VERSION} workspace: {len(chosen)} (user task, injection task) "
            f"pairs per attack, utility_no_attack over their {len(users)} user tasks",
            "asr_* = targeted attack success (AgentDojo's 'security' check: the injection "
            "task's goal reached in the environment); lower is better",
        ],
        extra={"successful_injections": successes[:100]},
    )  # fmt: skip


def _obedient_target(suite: Any) -> Any:
    """A pipeline for AgentDojo's attacks to address when no LLM system runs."""
    from evals.agentdojo.run import obedient_pipeline

    first = next(iter(suite.user_tasks.values()))
    return obedient_pipeline(first, None, gated=True)


SPEC = SuiteSpec(
    name="agentdojo",
    help="Prompt injection on AgentDojo's workspace suite: utility, utility under attack, ASR.",
    expected_format=FORMAT,
    run=run,
)
