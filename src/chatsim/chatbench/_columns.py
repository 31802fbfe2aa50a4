"""The one table of the ChatBench release's file and column names that chatsim relies on.

The dataset card of ``microsoft/ChatBench`` documents these ``user_answers.csv`` columns:
``worker_id``, ``model`` (``gpt-4o`` or ``llama-3.1-8b``), ``condition`` (``direct-to-AI`` or
``answer-first``), ``subject`` (``math``, ``physics``, ``moral``), ``batch``, ``position``; and
for ``ai_alone_answers.csv`` the per-method columns ``{method}_count``, ``{method}_acc``,
``{method}_invalid``, ``{method}_acc_valid`` with method one of ``letter_only_zero_shot``,
``letter_only_few_shot``, ``free_text``. The names of the question-id, answer-type and
correctness columns are not published outside the hub, so their defaults below are
assumptions: a release that names them differently is read by passing an adjusted
``ReleaseColumns`` (``dataclasses.replace(DEFAULT_COLUMNS, correct="is_correct")``, or
``--column correct=is_correct`` on the command line). A missing column is named in the error.

The structure of ``full_study/conversations.json`` is not published outside the hub (the card
says it holds the user–AI conversations, since annotated; it names no fields), so every
conversation field below is an assumption, adjustable the same way (``--column
conversation_messages=chat``). ``question_id``, ``worker_id``, ``model`` and ``condition`` are
assumed to carry the same names there as in ``user_answers.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from chatsim._exceptions import ConfigError

__all__ = ["AI_ALONE_METHODS", "DEFAULT_COLUMNS", "ReleaseColumns", "parse_column_overrides"]

AI_ALONE_METHODS = ("letter_only_zero_shot", "letter_only_few_shot", "free_text")
"""The AI-alone methods of ``ai_alone_answers.csv`` (dataset card)."""


@dataclass(frozen=True)
class ReleaseColumns:
    """Column names and values of the ChatBench release; adjust one with ``replace``."""

    question_id: str = "question_id"
    """(assumed) The question id, ``<subject>-redux-<i>`` or ``<subject>-test-<i>``; in
    ``questions.csv``, ``user_answers*.csv`` and ``ai_alone_answers.csv``."""
    worker_id: str = "worker_id"
    """(documented) The worker's anonymised id."""
    model: str = "model"
    """(documented) The LLM behind the chatbot: ``gpt-4o`` or ``llama-3.1-8b``; also the
    model column of ``ai_alone_answers.csv`` (assumed there)."""
    condition: str = "condition"
    """(documented) ``direct-to-AI`` or ``answer-first``."""
    subject: str = "subject"
    """(documented) ``math``, ``physics`` or ``moral``."""
    answer_type: str = "answer_type"
    """(assumed) Whether the row is a user-alone or a user–AI answer."""
    user_alone: str = "user-alone"
    """(assumed) The ``answer_type`` value of a user-alone answer."""
    user_ai: str = "user-AI"
    """(assumed) The ``answer_type`` value of a user–AI answer."""
    correct: str = "acc"
    """(assumed) Whether the answer was correct: 1/0 or true/false."""
    ai_alone_method: str = "letter_only_zero_shot"
    """Which AI-alone method is the baseline (the paper's: letter-only); its accuracy column
    is ``<method>_acc`` (documented)."""

    selected_answer: str = "selected_answer"
    """(assumed) The ``user_answers*.csv`` column with the letter the user chose; optional
    (without it the letter comes from the conversation itself)."""
    conversation_messages: str = "messages"
    """(assumed) ``conversations.json``: the list of a conversation's messages, in order."""
    message_role: str = "role"
    """(assumed) ``conversations.json``: who wrote a message."""
    message_text: str = "content"
    """(assumed) ``conversations.json``: a message's text."""
    user_role: str = "user"
    """(assumed) The ``message_role`` value of the participant's messages."""
    assistant_role: str = "assistant"
    """(assumed) The ``message_role`` value of the chatbot's replies."""
    conversation_answer: str = "answer"
    """(assumed) ``conversations.json``: the letter the user finally chose; optional."""

    @property
    def ai_alone_acc(self) -> str:
        """The AI-alone accuracy column, ``<method>_acc``."""
        return f"{self.ai_alone_method}_acc"

    def user_answer_columns(self) -> tuple[str, ...]:
        """The ``user_answers*.csv`` columns calibration reads."""
        return (self.question_id, self.model, self.condition, self.answer_type, self.correct)

    def ai_alone_columns(self) -> tuple[str, ...]:
        """The ``ai_alone_answers.csv`` columns calibration reads."""
        return (self.question_id, self.model, self.ai_alone_acc)

    def conversation_fields(self) -> tuple[str, ...]:
        """The fields every conversation of ``conversations.json`` must have."""
        return (self.question_id, self.worker_id, self.conversation_messages)

    def letter_columns(self) -> tuple[str, ...]:
        """The ``user_answers*.csv`` columns read to find each conversation's chosen letter
        (``selected_answer`` besides, where the file has it)."""
        return (self.question_id, self.worker_id, self.model, self.condition, self.answer_type)


DEFAULT_COLUMNS = ReleaseColumns()


def parse_column_overrides(
    pairs: list[str] | tuple[str, ...], base: ReleaseColumns = DEFAULT_COLUMNS
) -> ReleaseColumns:
    """``["correct=is_correct", ...]`` applied to ``base``; unknown keys list the valid ones."""
    valid = [f.name for f in fields(ReleaseColumns)]
    changes: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            raise ConfigError(f"--column needs KEY=NAME, got {pair!r}; keys: {', '.join(valid)}")
        if key not in valid:
            raise ConfigError(f"unknown column key {key!r}; valid keys: {', '.join(valid)}")
        changes[key] = value
    if "ai_alone_method" in changes and changes["ai_alone_method"] not in AI_ALONE_METHODS:
        raise ConfigError(
            f"unknown AI-alone method {changes['ai_alone_method']!r}; "
            f"valid methods: {', '.join(AI_ALONE_METHODS)}"
        )
    return replace(base, **changes)
