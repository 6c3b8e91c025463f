"""The developer REPL, a prompt lab: edit a prompt, fill it from real mail, run it on the model,
compare outputs, evaluate and save it as a new version.

``mailmind repl`` starts :func:`api.repl.app.run_repl`; ``mailmind prompt run`` calls the same
:func:`api.repl.runner.run_prompt` as ``/run``. Modules: ``session`` (state), ``runner``
(render + generate), ``samples`` (filling variables from mail), ``commands`` (the ``/`` commands),
``completion``, ``evals`` (the ``mailmind.prompt_evals`` entry points), ``chat``, ``tracing``,
``offline`` (the scripted model of ``--offline``), ``view`` (rich output) and ``app`` (the loop).
"""
