"""Context trimming: shorten a history so that its rendered prompt fits a token budget.

The ChatBench LoRA was trained with a 2,048-token context; ten turns of long assistant answers
do not fit. The one rule, applied only when the prompt is over budget:

Assistant replies, oldest first: cut out the middle of the reply and put ``[...]`` in its
place, keeping as much of its start and end (half each) as still fits. If even the bare marker
does not fit, the reply becomes ``[...]`` and the next oldest is trimmed.

The question (in the instruction), the user's own messages and the latest reply (the one the
simulated user is answering) are never touched. How much of
a reply survives is found by binary search on characters: O(log n) renders per reply.

If the prompt is still over budget with every older reply reduced to ``[...]``, the
most-trimmed history is returned; the caller must count again and fail the turn.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from chatsim._exceptions import ConfigError
from chatsim.protocol._formats import PromptFormat
from chatsim.protocol._render import render_chat, render_text
from chatsim.protocol._types import Message, Role, SimulatorStep
from chatsim.questions._model import Question

__all__ = ["TRIM_MARKER", "fit_history", "trim_middle"]

#: What replaces the cut middle of a reply.
TRIM_MARKER = " [...] "


def trim_middle(text: str, keep: int) -> str:
    """``text`` with its middle replaced by the marker, keeping ``keep`` characters in all."""
    if keep >= len(text):
        return text
    head = text[: (keep + 1) // 2].rstrip()
    tail = text[len(text) - keep // 2 :].lstrip() if keep > 1 else ""
    shorter = (head + TRIM_MARKER + tail).strip()
    return shorter if len(shorter) < len(text) else text


def _renderer(
    fmt: PromptFormat, question: Question, step: SimulatorStep
) -> Callable[[tuple[Message, ...]], str]:
    if fmt.kind == "text":
        return lambda history: render_text(fmt, question, history, step)
    # Chat formats: approximate the prompt by the messages' contents joined.
    return lambda history: "\n\n".join(m.content for m in render_chat(fmt, question, history, step))


def fit_history(
    fmt: PromptFormat,
    question: Question,
    history: tuple[Message, ...],
    step: SimulatorStep,
    *,
    count_tokens: Callable[[str], int],
    budget: int,
) -> tuple[tuple[Message, ...], bool]:
    """``(history, trimmed)``: the history shortened by the module's rule to fit ``budget``.

    ``trimmed`` is True when any reply was shortened. ``count_tokens`` counts the tokens of a
    rendered prompt (the simulator's tokenizer).
    """
    if budget < 1:
        raise ConfigError(f"token budget must be at least 1, got {budget}")
    render = _renderer(fmt, question, step)
    current = list(history)

    def fits(index: int, keep: int) -> bool:
        original = current[index]
        current[index] = Message(original.role, trim_middle(original.content, keep))
        ok = count_tokens(render(tuple(current))) <= budget
        current[index] = original
        return ok

    if count_tokens(render(history)) <= budget:
        return history, False
    replies = [i for i, m in enumerate(history) if m.role == Role.ASSISTANT][:-1]
    trimmed = False
    for index in replies:  # oldest first; the latest reply is never among them
        content = current[index].content.strip()
        current[index] = Message(Role.ASSISTANT, content)
        keep = _largest_fitting_keep(len(content), partial(fits, index))
        shorter = trim_middle(content, keep)
        trimmed = trimmed or shorter != content
        current[index] = Message(Role.ASSISTANT, shorter)
        if keep > 0 or count_tokens(render(tuple(current))) <= budget:
            break
    return tuple(current), trimmed


def _largest_fitting_keep(length: int, fits: Callable[[int], bool]) -> int:
    """Largest ``keep`` in ``[0, length)`` that fits; 0 when none does (the caller checks)."""
    if not fits(0):
        return 0
    low, high = 0, length  # fits(low) holds; keeping everything (high) is known not to fit
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low
