"""AgentDojo (workspace suite) against our pipeline: the LLM element over our chat model, the
tools executor behind our approval gate with spotlighted tool outputs (:mod:`.elements`), the
gate's rules (:mod:`.gate`) and the runs (:mod:`.run`). The suite is
:mod:`evals.suites.agentdojo` (``mailmind eval agentdojo``); needs the ``eval`` extra."""
