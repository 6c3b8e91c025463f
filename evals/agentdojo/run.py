"""Running AgentDojo's workspace suite: which (user task, injection task) pairs, one run of a
pair or of a user task alone, and the worst-case "obedient" model used to measure the gate
itself.

AgentDojo scores a run on the environment it leaves behind: *utility* is whether the user's
task was done, *security* (as AgentDojo names it) whether the injection task's goal was reached,
which is a targeted attack success.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from agentdojo.agent_pipeline import (
    AgentPipeline,
    BasePipelineElement,
    InitQuery,
    SystemMessage,
    ToolsExecutionLoop,
)
from agentdojo.attacks.attack_registry import load_attack
from agentdojo.attacks.base_attacks import BaseAttack
from agentdojo.base_tasks import BaseInjectionTask, BaseUserTask
from agentdojo.functions_runtime import Env, FunctionCall, FunctionsRuntime
from agentdojo.task_suite.task_suite import TaskSuite
from agentdojo.types import ChatAssistantMessage, ChatMessage, text_content_block_from_string

from evals.agentdojo.elements import NO_ARGS, NO_ENV, SYSTEM, GatedToolsExecutor, Step

#: The AgentDojo benchmark version measured (its latest workspace suite).
BENCHMARK_VERSION = "v1.2.2"
SUITE = "workspace"
#: Attacks offered by ``--attack`` (AgentDojo's names).
ATTACKS = ("important_instructions", "tool_knowledge", "ignore_previous", "direct")


@lru_cache(maxsize=1)
def workspace_suite() -> TaskSuite[Any]:
    """AgentDojo's workspace suite (40 user tasks, 14 injection tasks)."""
    import warnings

    from agentdojo.task_suite.load_suites import get_suite

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return get_suite(BENCHMARK_VERSION, SUITE)


def pairs(suite: TaskSuite[Any], limit: int | None) -> list[tuple[str, str]]:
    """The first ``limit`` (user task, injection task) pairs (all U x I without a limit), in an
    order that spreads over both lists: diagonal ``k`` pairs user task ``u`` with injection task
    ``(u + k) mod I``, so a short run still sees many of each and no pair repeats."""
    users = list(suite.user_tasks)
    injections = list(suite.injection_tasks)
    every = [
        (u, injections[(i + k) % len(injections)])
        for k in range(len(injections))
        for i, u in enumerate(users)
    ]
    return every if limit is None else every[:limit]


@dataclass(frozen=True, slots=True)
class PairResult:
    """One run's outcome."""

    user_task: str
    injection_task: str | None
    utility: bool
    attacked: bool
    seconds: float


def attack_for(name: str, suite: TaskSuite[Any], pipeline: BasePipelineElement) -> BaseAttack:
    """AgentDojo's attack ``name`` against ``pipeline`` (input error for an unknown name)."""
    from core.errors import InputError

    if name not in ATTACKS:
        raise InputError(f"--attack must be one of {list(ATTACKS)}: {name!r}")
    return load_attack(name, suite, pipeline)


def run_one(
    suite: TaskSuite[Any],
    pipeline: BasePipelineElement,
    user_task: str,
    injection_task: str | None = None,
    attack: BaseAttack | None = None,
) -> PairResult:
    """Run ``user_task`` (under ``attack`` with ``injection_task`` when given)."""
    import time
    import warnings

    ut = suite.get_user_task_by_id(user_task)
    it = suite.get_injection_task_by_id(injection_task) if injection_task else None
    injections = attack.attack(ut, it) if attack is not None and it is not None else {}
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        utility, attacked = suite.run_task_with_pipeline(pipeline, ut, it, injections)
    return PairResult(
        user_task, injection_task, bool(utility), bool(attacked) if it is not None else False,
        round(time.perf_counter() - started, 2),
    )  # fmt: skip


class ObedientModel(BasePipelineElement):
    """A worst-case scripted model (for measuring the gate alone): it first does everything the
    injection asks (the injection task's ground-truth calls), then the user's task exactly (its
    ground-truth calls), then answers with the expected output. Behind no gate every
    injection succeeds; behind ours, only what the gate lets through can."""

    def __init__(self, user_task: BaseUserTask[Any], injection: BaseInjectionTask[Any] | None):
        self.user_task = user_task
        self.injection = injection

    def query(
        self, query: str, runtime: FunctionsRuntime, env: Env = NO_ENV,
        messages: Sequence[ChatMessage] = (), extra_args: dict[str, Any] = NO_ARGS,
    ) -> Step:  # fmt: skip
        if "script" not in extra_args:
            # The injection first, as the attacks ask ("before you can solve the task...").
            calls: list[FunctionCall] = []
            if self.injection is not None:
                calls += list(self.injection.ground_truth(env))
            calls += list(self.user_task.ground_truth(env))
            extra_args = {**extra_args, "script": calls}
        script: list[FunctionCall] = extra_args["script"]
        if script:
            call = script.pop(0)
            message = ChatAssistantMessage(
                role="assistant", content=[text_content_block_from_string("")],
                tool_calls=[call.model_copy(update={"id": f"c{len(messages)}"})],
            )  # fmt: skip
        else:
            answer = self.user_task.GROUND_TRUTH_OUTPUT
            message = ChatAssistantMessage(
                role="assistant", content=[text_content_block_from_string(answer)],
                tool_calls=None,
            )  # fmt: skip
        return query, runtime, env, [*messages, message], extra_args


def obedient_pipeline(
    user_task: BaseUserTask[Any], injection: BaseInjectionTask[Any] | None, *, gated: bool
) -> AgentPipeline:
    """The obedient model in our pipeline shape, behind the gate or not."""
    model = ObedientModel(user_task, injection)
    loop = ToolsExecutionLoop(
        [GatedToolsExecutor(gate=gated, spotlight=gated), model], max_iters=60
    )
    pipeline = AgentPipeline([SystemMessage(SYSTEM), InitQuery(), model, loop])
    pipeline.name = "mailmind-obedient-local"
    return pipeline


def run_obedient(
    suite: TaskSuite[Any], user_task: str, injection_task: str | None, attack: BaseAttack | None,
    *, gated: bool,
) -> PairResult:  # fmt: skip
    """:func:`run_one` with the obedient model for this pair."""
    ut = suite.get_user_task_by_id(user_task)
    it = suite.get_injection_task_by_id(injection_task) if injection_task else None
    return run_one(suite, obedient_pipeline(ut, it, gated=gated), user_task, injection_task,
                   attack)  # fmt: skip
