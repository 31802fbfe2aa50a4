"""Question sets: the bundled ChatBench subjects, user files, Hugging Face datasets.

The five ChatBench subjects (MMLU test/dev/val and MMLU-Redux labels) ship in ``data/``; see
``data/ATTRIBUTION.md`` for sources and licenses.
"""

from chatsim.questions._files import load_question_file
from chatsim.questions._hf import load_hf_mmlu
from chatsim.questions._load import (
    DEFAULT_SELECTION,
    SELECTIONS,
    load_dev_examples,
    load_questions,
)
from chatsim.questions._model import LETTERS, Question
from chatsim.questions._subjects import (
    CHATBENCH_SUBJECTS,
    MMLU_SUBJECTS,
    SUBSET_ALIASES,
    resolve_subset,
)

__all__ = [
    "CHATBENCH_SUBJECTS",
    "DEFAULT_SELECTION",
    "LETTERS",
    "MMLU_SUBJECTS",
    "SELECTIONS",
    "SUBSET_ALIASES",
    "Question",
    "load_dev_examples",
    "load_hf_mmlu",
    "load_question_file",
    "load_questions",
    "resolve_subset",
]
