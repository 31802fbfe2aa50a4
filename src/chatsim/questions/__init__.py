"""Question sets: the bundled ChatBench subjects, user files, Hugging Face datasets."""

from chatsim.questions._model import LETTERS, Question

__all__ = ["LETTERS", "Question"]
