"""Agent evaluation over the demo mailbox, calendar and contacts.

* :mod:`evals.agent.dataset`: ``tasks.yaml`` models and ``load_tasks(path=None)``.
* :mod:`evals.agent.metrics`: ``fact_recall``, ``first_tool_accuracy``, ``tool_set_recall``.
* :mod:`evals.agent.runner`: ``AgentResult``, ``run_agent_eval(ask, tasks)``, ``format_report``
  and the model-free ``keyword_baseline_ask``.

Importing this package loads nothing heavy; the submodules import pydantic and (lazily) PyYAML.
"""
