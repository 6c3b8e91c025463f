"""Prompt files (Markdown with YAML front-matter) and a strict renderer.

Prompts hold no logic: the graphs choose which to render and with what. See
:mod:`prompts.render` for the file format and how untrusted content is marked.
"""

from prompts.render import (
    Prompt,
    PromptError,
    list_prompts,
    load_prompt,
    render,
    render_prompt,
    spotlight,
)

__all__ = [
    "Prompt",
    "PromptError",
    "list_prompts",
    "load_prompt",
    "render",
    "render_prompt",
    "spotlight",
]
