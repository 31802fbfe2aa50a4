"""Other MMLU subjects through Hugging Face ``datasets`` (``cais/mmlu``), imported lazily."""

from __future__ import annotations

from typing import Any

from chatsim._exceptions import DataError, MissingDependencyError, UnknownNameError
from chatsim.questions._model import LETTERS, Question
from chatsim.questions._subjects import MMLU_SUBJECTS

__all__ = ["HF_DATASET", "load_hf_mmlu"]

HF_DATASET = "cais/mmlu"


def _load_dataset(subject: str, split: str) -> Any:
    try:
        import datasets  # heavy optional dependency: imported only when used
    except ImportError as exc:
        raise MissingDependencyError(
            "datasets",
            "hf",
            f"loading MMLU subject {subject!r} from Hugging Face",
            hint="Or pass a local CSV/JSONL question file instead.",
        ) from exc
    try:
        return datasets.load_dataset(HF_DATASET, subject, split=split)
    # The boundary to a foreign library: offline mode, DNS, HTTP and cache errors arrive as
    # many unrelated types (ConnectionError, OSError, FileNotFoundError, hub errors).
    except Exception as exc:
        raise DataError(
            f"could not load {HF_DATASET} subject {subject!r} (split {split!r}) from Hugging "
            f"Face: the hub could not be reached or the data is not cached "
            f"({type(exc).__name__}: {exc}). Download the questions where the hub is reachable "
            "and pass them as a local CSV or JSONL file (see load_question_file)."
        ) from exc


def load_hf_mmlu(subject: str, split: str = "test") -> list[Question]:
    """One MMLU subject from ``cais/mmlu``, ids ``<subject>-<split>-<row>`` (0-based)."""
    if subject not in MMLU_SUBJECTS:
        raise UnknownNameError("MMLU subject", subject, MMLU_SUBJECTS)
    rows = _load_dataset(subject, split)
    questions = []
    for index, row in enumerate(rows):
        try:
            options = tuple(str(c) for c in row["choices"])
            answer = row["answer"]
            gold = LETTERS[answer] if isinstance(answer, int) else str(answer)
            questions.append(
                Question(
                    id=f"{subject}-{split}-{index}",
                    subject=subject,
                    stem=str(row["question"]),
                    options=options,  # Question validates the count
                    gold=gold,
                    source=f"hf:{HF_DATASET}",
                )
            )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise DataError(f"{HF_DATASET} {subject} row {index} is malformed: {exc}") from exc
    if not questions:
        raise DataError(f"{HF_DATASET} {subject} split {split!r} holds no questions")
    return questions
