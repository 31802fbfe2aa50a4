"""First-prompt similarity: how much simulated users open like real ones (ChatBench §5).

Per question, every simulated first prompt is scored against *all* real first prompts of that
question as references: BLEU with sacrebleu's ``sentence_bleu`` (multi-reference, its default
13a tokenisation and exponential smoothing; 0–100) and ROUGE-1 F1 with rouge-score
(``score_multi``: the best reference; Porter stemming; 0–1). A question's figure is the mean
over its simulated prompts; the overall figure is the mean over questions, each counted once.
Questions with simulated but no real first prompts (or the reverse) are counted, not scored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from statistics import fmean
from typing import Any

from chatsim._exceptions import MissingDependencyError
from chatsim.protocol import Role
from chatsim.training._conversations import UserConversation

__all__ = ["QuestionSimilarity", "SimilarityResult", "first_prompt_similarity", "first_prompts"]


@dataclass(frozen=True, slots=True)
class QuestionSimilarity:
    """The similarity of one question's simulated first prompts to its real ones."""

    question_id: str
    simulated: int
    real: int
    bleu: float
    """Mean sentence BLEU (0–100) of the simulated prompts against all real ones."""
    rouge1: float
    """Mean ROUGE-1 F1 (0–1), each simulated prompt against its closest real one."""


@dataclass(frozen=True, slots=True)
class SimilarityResult:
    """Per-question scores and their means over questions."""

    questions: list[QuestionSimilarity] = field(default_factory=list)
    only_simulated: int = 0
    """Questions with simulated first prompts but no real ones (not scored)."""
    only_real: int = 0
    """Questions with real first prompts but no simulated ones (not scored)."""

    @property
    def bleu(self) -> float:
        return fmean(q.bleu for q in self.questions) if self.questions else float("nan")

    @property
    def rouge1(self) -> float:
        return fmean(q.rouge1 for q in self.questions) if self.questions else float("nan")

    def to_json(self) -> dict[str, Any]:
        scored = bool(self.questions)
        return {
            "questions_scored": len(self.questions),
            "only_simulated": self.only_simulated,
            "only_real": self.only_real,
            "bleu": self.bleu if scored else None,
            "rouge1": self.rouge1 if scored else None,
            "per_question": [asdict(q) for q in self.questions],
        }


def first_prompts(conversations: Iterable[UserConversation]) -> dict[str, list[str]]:
    """Question id → the first user message of each conversation that has one."""
    found: dict[str, list[str]] = defaultdict(list)
    for conversation in conversations:
        messages = conversation.messages
        if messages and messages[0].role is Role.USER:
            found[conversation.question.id].append(messages[0].content.strip())
    return dict(found)


def _scorers() -> tuple[Any, Any]:
    try:
        import sacrebleu
        from rouge_score import rouge_scorer  # type: ignore[import-untyped]  # no stubs
    except ImportError as exc:
        name = exc.name or "sacrebleu"
        raise MissingDependencyError(name, "train", "first-prompt similarity") from exc
    return sacrebleu, rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)


def first_prompt_similarity(
    simulated: Mapping[str, Sequence[str]], real: Mapping[str, Sequence[str]]
) -> SimilarityResult:
    """BLEU and ROUGE-1 per question of ``simulated`` against ``real`` first prompts."""
    sacrebleu, rouge = _scorers()
    scores = []
    for qid in sorted(set(simulated) & set(real)):
        hyps, refs = list(simulated[qid]), list(real[qid])
        if not hyps or not refs:
            continue
        bleu = fmean(sacrebleu.sentence_bleu(h, refs).score for h in hyps)
        rouge1 = fmean(rouge.score_multi(refs, h)["rouge1"].fmeasure for h in hyps)
        scores.append(QuestionSimilarity(qid, len(hyps), len(refs), bleu, rouge1))
    return SimilarityResult(
        scores,
        only_simulated=len(set(simulated) - set(real)),
        only_real=len(set(real) - set(simulated)),
    )
