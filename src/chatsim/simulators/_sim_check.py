"""``chatsim sim check``: which prompt format does the simulator fit best?

The LoRA was trained on plain text whose exact layout was never published (DESIGN.md §1).
Given conversations (real ones, or a run's ``episodes.jsonl``), this scores every user turn
teacher-forced under each candidate format: the prompt the simulator would have seen at that
point, followed by the turn's text and the stop marker. Only the user-turn tokens (``[END]``
included) are scored. The per-token perplexity ``exp(mean NLL)`` per format says which layout
the adapter fits: the model card reports 1.8 with the right one versus 3.62 for the base model.

Prompts are built exactly as for generation (same trimming to the context), so a format that
wins here is the one to run with. Turns whose prompt cannot fit are skipped and counted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chatsim._exceptions import DataError, SimulatorError
from chatsim.protocol import DEFAULT_MAX_TURNS, Message, PromptFormat, Role, next_step
from chatsim.questions import Question
from chatsim.simulators._contract import UserTurnRequest
from chatsim.simulators._hf_engine import HFEngine
from chatsim.simulators._hf_prompt import continuation

__all__ = [
    "Conversation",
    "FormatScore",
    "SimCheckResult",
    "bundled_question",
    "load_conversations",
    "score_formats",
]


@dataclass(frozen=True, slots=True)
class Conversation:
    """One conversation to score: its question and its messages (user first)."""

    question: Question
    messages: tuple[Message, ...]


@dataclass(frozen=True, slots=True)
class FormatScore:
    """How well the simulator predicts the user turns under one format."""

    format: str
    version: int
    turns: int
    """User turns scored."""
    tokens: int
    """Tokens scored (user-turn text plus the stop marker)."""
    mean_nll: float
    """Mean negative log-likelihood per token (nats)."""
    perplexity: float
    """``exp(mean_nll)``: lower is better."""
    base_perplexity: float | None = None
    """The same with the adapter switched off, when asked for."""


@dataclass(frozen=True, slots=True)
class SimCheckResult:
    """Scores of every format, best first."""

    simulator: str
    conversations: int
    skipped_turns: int
    """Turns left out because their prompt could not fit the context."""
    scores: list[FormatScore] = field(default_factory=list)

    @property
    def best(self) -> str:
        return self.scores[0].format if self.scores else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "simulator": self.simulator,
            "conversations": self.conversations,
            "skipped_turns": self.skipped_turns,
            "best": self.best,
            "formats": [asdict(s) for s in self.scores],
        }


# -- reading conversations -------------------------------------------------------------------

QuestionResolver = Callable[[str], Question | None]


def bundled_question(question_id: str) -> Question | None:
    """The bundled MMLU question with id ``<subject>-<split>-<row>``, if there is one."""
    from chatsim.questions import CHATBENCH_SUBJECTS
    from chatsim.questions._bundled import load_bundled

    for subject in CHATBENCH_SUBJECTS:
        if question_id.startswith(f"{subject}-"):
            split = question_id[len(subject) + 1 :].rpartition("-")[0]
            try:
                found = [q for q in load_bundled(subject, split) if q.id == question_id]
            except DataError:
                return None
            return found[0] if found else None
    return None


def _messages(rows: Any, where: str) -> tuple[Message, ...]:
    if not isinstance(rows, list):
        raise DataError(f"{where}: 'messages' (or 'turns') must be a list")
    messages = []
    for row in rows:
        role, text = row.get("role"), row.get("content", row.get("text"))
        if role not in ("user", "assistant") or not isinstance(text, str):
            raise DataError(f"{where}: each message needs role user/assistant and text")
        if text:  # a failed assistant turn is recorded with no text
            messages.append(Message(Role(role), text))
    return tuple(messages)


def _conversation(row: dict[str, Any], where: str, resolve: QuestionResolver) -> Conversation:
    if "turns" in row and "question_id" in row:  # an EpisodeRecord
        question = resolve(str(row["question_id"]))
        if question is None:
            raise DataError(
                f"{where}: question {row['question_id']!r} is not bundled; pass the question "
                "file the run used (--questions FILE)"
            )
        return Conversation(question, _messages(row["turns"], where))
    raw = row.get("question", {key: row[key] for key in row if key != "messages"})
    try:
        question = Question.model_validate(raw)
    except ValueError as exc:
        raise DataError(f"{where}: not a question with messages: {exc}") from exc
    return Conversation(question, _messages(row.get("messages"), where))


def load_conversations(
    path: str | Path,
    *,
    questions: Sequence[Question] = (),
    limit: int | None = None,
) -> list[Conversation]:
    """Conversations from a JSONL file: run records, or ``{question fields, messages}`` lines.

    Run records name their question by id; it is looked up in ``questions``, then among the
    bundled ChatBench subjects.
    """
    by_id = {q.id: q for q in questions}

    def resolve(question_id: str) -> Question | None:
        return by_id.get(question_id) or bundled_question(question_id)

    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read conversations from {path}: {exc.strerror}") from exc
    found: list[Conversation] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise DataError(f"{where}: not JSON: {exc}") from exc
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a JSON object")
        found.append(_conversation(row, where, resolve))
        if limit is not None and len(found) >= limit:
            break
    if not found:
        raise DataError(f"{path} holds no conversations")
    return found


# -- scoring -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Item:
    prompt: str
    target: str


def _items(
    engine: HFEngine, conversations: Sequence[Conversation], max_turns: int
) -> tuple[list[_Item], int]:
    items, skipped = [], 0
    for conv in conversations:
        sent = 0
        for index, message in enumerate(conv.messages):
            if message.role is not Role.USER:
                continue
            request = UserTurnRequest(
                episode_id="check",
                question=conv.question,
                history=conv.messages[:index],
                step=next_step(sent, max_turns),
                seed=0,
            )
            sent += 1
            try:
                prompt, _ = engine.prompt(request)
            except SimulatorError:
                skipped += 1
                continue
            items.append(_Item(prompt, continuation(engine.format, message.content)))
    return items, skipped


def _batches(items: list[_Item], size: int) -> Iterator[list[_Item]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _nll(engine: HFEngine, batch: list[_Item]) -> tuple[float, int]:
    """Summed NLL (nats) and token count of the targets, teacher-forced, in one forward pass."""
    import torch

    tok = engine.tokenizer
    # Right padding: a plain forward pass numbers positions from 0 in every row.
    encoded = tok(
        [i.prompt + i.target for i in batch],
        return_offsets_mapping=True,
        padding=True,
        padding_side="right",
        return_tensors="pt",
    )
    offsets = encoded.pop("offset_mapping")
    scored = torch.zeros_like(encoded.input_ids, dtype=torch.bool)
    for row, item in enumerate(batch):
        # A token is the user's when it ends past the prompt (padding has empty offsets).
        ends = offsets[row, :, 1]
        scored[row] = (ends > len(item.prompt)) & (encoded.attention_mask[row] == 1)
    encoded = encoded.to(engine.model.device)
    with torch.inference_mode():
        logits = engine.model(**encoded).logits[:, :-1].float()
    targets = encoded.input_ids[:, 1:]
    mask = scored[:, 1:].to(logits.device)
    logprobs = torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return float(-(logprobs * mask).sum()), int(mask.sum())


def _perplexity(engine: HFEngine, items: list[_Item], batch_size: int) -> tuple[float, int]:
    total, count = 0.0, 0
    for batch in _batches(items, batch_size):
        nll, tokens = _nll(engine, batch)
        total, count = total + nll, count + tokens
    return (total / count if count else math.nan), count


def score_formats(
    engine: HFEngine,
    conversations: Sequence[Conversation],
    formats: Sequence[PromptFormat],
    *,
    simulator: str = "",
    max_turns: int = DEFAULT_MAX_TURNS,
    batch_size: int = 8,
    with_base: bool = False,
) -> SimCheckResult:
    """Score every format on ``conversations``; best (lowest perplexity) first. Blocking."""
    scores, skipped = [], 0
    for fmt in formats:
        scored = engine.with_format(fmt)
        items, skipped_here = _items(scored, conversations, max_turns)
        skipped = max(skipped, skipped_here)
        mean, tokens = _perplexity(scored, items, batch_size)
        base = None
        if with_base and hasattr(engine.model, "disable_adapter"):
            with engine.model.disable_adapter():
                base = math.exp(_perplexity(scored, items, batch_size)[0])
        scores.append(
            FormatScore(fmt.name, fmt.version, len(items), tokens, mean, math.exp(mean), base)
        )
    scores.sort(key=lambda s: (math.isnan(s.perplexity), s.perplexity))
    return SimCheckResult(simulator, len(conversations), skipped, scores)
