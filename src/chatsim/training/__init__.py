"""Training new simulators: conversations → examples → a LoRA; first-prompt similarity.

Fidelity tooling (DESIGN.md §5): it reads run directories and conversation files and never
reaches into the runner. torch, transformers and peft load only inside ``train_simulator``;
sacrebleu and rouge-score only inside ``first_prompt_similarity``.

- ``UserConversation``: the neutral input (question, messages, the letter chosen); loaders for
  run directories and conversations JSONL.
- ``examples_of`` / ``render_example`` / ``write_data``: k+1 examples per conversation in a
  named prompt format, split by question (``split_questions``, saved as ``split.json``).
- ``train_simulator``: a LoRA with the model card's recipe on transformers' ``Trainer``.
- ``first_prompt_similarity``: BLEU and ROUGE-1 of simulated against real first prompts.
"""

from chatsim.training._conversations import (
    UserConversation,
    from_jsonl,
    from_run,
    load_user_conversations,
)
from chatsim.training._data import DataSummary, write_data
from chatsim.training._examples import TrainingExample, answer_target, examples_of, render_example
from chatsim.training._similarity import (
    QuestionSimilarity,
    SimilarityResult,
    first_prompt_similarity,
    first_prompts,
)
from chatsim.training._split import QuestionSplit, read_split, split_questions, write_split
from chatsim.training._tokens import IGNORE, encode_example, mean_nll
from chatsim.training._train import TrainResult, TrainSettings, train_simulator

__all__ = [
    "IGNORE",
    "DataSummary",
    "QuestionSimilarity",
    "QuestionSplit",
    "SimilarityResult",
    "TrainResult",
    "TrainSettings",
    "TrainingExample",
    "UserConversation",
    "answer_target",
    "encode_example",
    "examples_of",
    "first_prompt_similarity",
    "first_prompts",
    "from_jsonl",
    "from_run",
    "load_user_conversations",
    "mean_nll",
    "read_split",
    "render_example",
    "split_questions",
    "train_simulator",
    "write_data",
    "write_split",
]
