"""The front door: ``load_questions(source, ...)`` for subsets, files and Hugging Face.

Selection (which test questions a bundled subject contributes):

- ``redux-ok`` (default for bundled subjects): only questions that MMLU-Redux annotated with
  ``error_type == "ok"``, as ChatBench filtered with Redux -- 484 of the five subjects' 1,877
  distinct test questions (elementary 97, high-school 99, college 99, conceptual physics 92, moral
  scenarios 97);
- ``redux``: every Redux-annotated question (100 per subject, 500 in all);
- ``all``: the whole split (1,877 test questions: 1,878 rows less one exact duplicate).

Redux labels exist only for the bundled subjects' test questions, so the selection filters
only those: user files, Hugging Face subjects and the dev/val splits always contribute all their
questions (a run over ``chatbench,astronomy`` keeps the default and works). ``None`` means the
default.

``limit`` then samples that many questions in all, spread as evenly as possible over the
subjects (seeded; see ``sample_stratified``), and the result is sorted by id.
"""

from __future__ import annotations

from pathlib import Path

from chatsim._exceptions import ConfigError, UnknownNameError
from chatsim.questions._bundled import BUNDLED_SPLITS, load_bundled, redux_labels
from chatsim.questions._files import load_question_file
from chatsim.questions._hf import load_hf_mmlu
from chatsim.questions._model import Question
from chatsim.questions._select import sample_stratified
from chatsim.questions._subjects import CHATBENCH_SUBJECTS, resolve_subset

__all__ = ["DEFAULT_SELECTION", "SELECTIONS", "load_dev_examples", "load_questions"]

SELECTIONS = ("redux-ok", "redux", "all")
DEFAULT_SELECTION = "redux-ok"
_FILE_SUFFIXES = (".csv", ".jsonl")


def _is_file_source(source: str | Path) -> bool:
    return isinstance(source, Path) or Path(source).suffix.lower() in _FILE_SUFFIXES


def _plan(source: str) -> list[tuple[str, bool]]:
    """(subject, via Hugging Face) pairs for a subset string such as ``math,hf:astronomy``."""
    plan: list[tuple[str, bool]] = []
    for part in (p.strip() for p in source.split(",")):
        if part.lower().startswith("hf:"):
            subjects, via_hf = resolve_subset(part[3:]), True
        else:
            subjects = resolve_subset(part)
            via_hf = False
        plan += [(s, via_hf or s not in CHATBENCH_SUBJECTS) for s in subjects]
    return list(dict.fromkeys(plan))


def _select_bundled(subject: str, split: str, selection: str) -> list[Question]:
    questions = list(load_bundled(subject, split))
    if selection == "all" or split != "test":  # Redux labels exist for test rows only
        return questions
    labels = redux_labels(subject)
    keep = {qid for qid, label in labels.items() if selection == "redux" or label == "ok"}
    return [q for q in questions if q.id in keep]


def load_questions(
    source: str | Path = "chatbench",
    *,
    selection: str | None = DEFAULT_SELECTION,
    limit: int | None = None,
    seed: int = 0,
    split: str = "test",
) -> list[Question]:
    """Questions from a subset name, a ``.csv``/``.jsonl`` path, or ``hf:<subject>``.

    Subset names are aliases (``college_math``, ``math``, ``chatbench``, ...), MMLU subject
    names, or comma-separated lists of them; MMLU subjects that are not bundled load from
    Hugging Face. Deterministic for a given seed; sorted by id. See the module docstring for
    ``selection`` and ``limit``.
    """
    selection = DEFAULT_SELECTION if selection is None else selection
    if selection not in SELECTIONS:
        raise UnknownNameError("selection", selection, SELECTIONS)
    if _is_file_source(source):
        questions = load_question_file(source)
    else:
        questions = []
        for subject, via_hf in _plan(str(source)):
            if via_hf:
                questions += load_hf_mmlu(subject, split)
            elif split not in BUNDLED_SPLITS:
                raise UnknownNameError("split", split, BUNDLED_SPLITS)
            else:
                questions += _select_bundled(subject, split, selection)
    return sample_stratified(questions, limit, seed)


def load_dev_examples(subject: str) -> list[Question]:
    """The five dev-split examples of one subject (for 5-shot baselines), in file order."""
    subjects = resolve_subset(subject)
    if len(subjects) != 1:
        raise ConfigError(f"load_dev_examples needs one subject, {subject!r} names {subjects}")
    if subjects[0] in CHATBENCH_SUBJECTS:
        return list(load_bundled(subjects[0], "dev"))
    return load_hf_mmlu(subjects[0], "dev")
