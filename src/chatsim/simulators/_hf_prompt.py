"""Plain-text prompts for completion-style simulators (local LoRA, /v1/completions).

Shared by the local backend, the served backend and ``chatsim sim check``, so that all three
see exactly the same text for the same turn.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from chatsim._exceptions import ConfigError
from chatsim.protocol import PromptFormat, fit_history, get_format, load_format, render_text
from chatsim.protocol._render import substitute
from chatsim.simulators._contract import UserTurnRequest

__all__ = ["build_prompt", "continuation", "resolve_text_format", "stop_strings"]


def resolve_text_format(name_or_path: str | PromptFormat) -> PromptFormat:
    """A text-kind format from a built-in name, a ``.json``/``.toml`` file, or a format."""
    if isinstance(name_or_path, PromptFormat):
        fmt = name_or_path
    elif name_or_path.endswith((".json", ".toml")) or os.sep in name_or_path:
        fmt = load_format(Path(name_or_path))
    else:
        fmt = get_format(name_or_path)
    if fmt.kind != "text":
        raise ConfigError(
            f"prompt format {fmt.name!r} is a chat format; completion simulators (hf:, served:) "
            "need a text format such as chatbench-text-v1"
        )
    return fmt


def stop_strings(fmt: PromptFormat) -> list[str]:
    """Where generation may stop: the stop marker, and any turn label (the model rambling on)."""
    return list(dict.fromkeys([fmt.stop, *fmt.labels]))


def continuation(fmt: PromptFormat, text: str) -> str:
    """What the model should write after the prompt for the user turn ``text``, stop included.

    It is the format's earlier-user-turn block minus the generation prefix the prompt already
    ends with: ``"[USER] {text} [END]"`` after ``"[USER]"`` gives ``" {text} [END]"``.
    """
    block = substitute(fmt.user_template, {"text": text.strip()})
    if fmt.generation_prefix and block.startswith(fmt.generation_prefix):
        block = block[len(fmt.generation_prefix) :]
    if not block.rstrip().endswith(fmt.stop):
        block += fmt.stop
    return block


def build_prompt(
    fmt: PromptFormat,
    request: UserTurnRequest,
    *,
    count_tokens: Callable[[str], int] | None,
    budget: int | None,
) -> tuple[str, bool]:
    """The prompt for ``request``, shortened to ``budget`` tokens when a counter is given.

    Returns ``(prompt, trimmed)``. Shortening follows the protocol's one rule
    (``fit_history``: the middle of the oldest assistant replies first).
    """
    history = request.history
    trimmed = False
    if count_tokens is not None and budget is not None:
        history, trimmed = fit_history(
            fmt,
            request.question,
            history,
            request.step,
            count_tokens=count_tokens,
            budget=budget,
        )
    return render_text(fmt, request.question, history, request.step), trimmed
