"""A synthetic ChatBench release and a matching run directory, with a planted correlation.

Shape of the real release (``microsoft/ChatBench``): ``questions.csv``, ``ai_alone_answers.csv``
and ``full_study/user_answers_filtered.csv``, with the column names of
``chatsim.chatbench.DEFAULT_COLUMNS``. Accuracies are exact fractions (k of n answers correct),
so the only noise between the planted latent accuracies and what calibration sees is rounding.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chatsim.chatbench._ids import redux_rows
from chatsim.config import RunConfig
from chatsim.protocol._types import TerminationReason
from chatsim.questions import CHATBENCH_SUBJECTS, load_questions
from chatsim.recording import EpisodeRecord, JsonlWriter, RunHeader, create_run_dir

HUMAN_ANSWERS = 40
EPISODES = 20
ANSWER_COLUMNS = ["worker_id", "model", "condition", "subject", "batch", "position",
                  "question_id", "answer_type", "selected_answer", "acc"]  # fmt: skip


@dataclass(frozen=True)
class Planted:
    release: Path
    run: Path
    planted_r: float
    """Pearson r of the latent simulated and human accuracies."""
    chatsim_ids: tuple[str, ...]
    release_ids: tuple[str, ...]


def _release_id(qid: str, use_redux: bool) -> str:
    subject = qid.rsplit("-", 2)[0]
    rows = redux_rows(subject)
    return f"{subject}-redux-{rows.index(qid)}" if use_redux and qid in rows else qid


def _latent(n: int, rho: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z1 = rng.standard_normal(n)
    z2 = rho * z1 + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    return 1 / (1 + np.exp(-1.5 * z1)), 1 / (1 + np.exp(-1.5 * z2))


def _answer_rows(
    rid: str, k: int, n: int, model: str, condition: str, kind: str
) -> list[list[str]]:
    return [[f"w{i}", model, condition, "math", "0", str(i), rid, kind, "A", str(int(i < k))]
            for i in range(n)]  # fmt: skip


def write_release(folder: Path, ids: list[str], human: np.ndarray, alone: np.ndarray,
                  ai: np.ndarray, extra_ids: tuple[str, ...] = ()) -> Path:  # fmt: skip
    (folder / "full_study").mkdir(parents=True, exist_ok=True)
    with (folder / "questions.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["question_id", "subject", "question"])
        w.writerows([rid, "math", "?"] for rid in (*ids, *extra_ids))
    rows: list[list[str]] = []
    for rid, h, a in zip(ids, human, alone, strict=True):
        rows += _answer_rows(rid, round(h * HUMAN_ANSWERS), HUMAN_ANSWERS, "gpt-4o",
                             "direct-to-AI", "user-AI")  # fmt: skip
        rows += _answer_rows(rid, 10 - round(h * 10), 10, "gpt-4o", "answer-first", "user-AI")
        rows += _answer_rows(rid, 10 - round(h * 10), 10, "llama-3.1-8b", "direct-to-AI", "user-AI")
        rows += _answer_rows(rid, round(a * 20), 20, "gpt-4o", "direct-to-AI", "user-alone")
    with (folder / "full_study" / "user_answers_filtered.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(ANSWER_COLUMNS)
        w.writerows(rows)
    with (folder / "ai_alone_answers.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["question_id", "model", "letter_only_zero_shot_count",
                    "letter_only_zero_shot_acc", "free_text_acc"])  # fmt: skip
        w.writerows(
            [rid, "gpt-4o", "50", f"{v:.2f}", "0.5"] for rid, v in zip(ids, ai, strict=True)
        )
    return folder


def _episode(qid: str, subject: str, repeat: int, correct: bool, model: str) -> EpisodeRecord:
    return EpisodeRecord(
        run_id="cal", episode_id=f"{model}|{qid}|{repeat}", model=model, simulator="scripted",
        question_id=qid, subject=subject, repeat=repeat, seed=repeat, gold="A", turns=[],
        final_answer="A" if correct else "B", answer_method="explicit", correct=correct,
        termination=TerminationReason.ANSWERED, user_messages=1, started_at=0.0, ended_at=1.0,
    )  # fmt: skip


def write_run(folder: Path, ids: list[str], simulated: np.ndarray, model: str = "gpt-4o") -> Path:
    episodes = [
        _episode(qid, qid.rsplit("-", 2)[0], i, i < round(p * EPISODES), model)
        for qid, p in zip(ids, simulated, strict=True)
        for i in range(EPISODES)
    ]
    config = RunConfig(models=(model,), simulator="scripted", repeats=EPISODES)
    header = RunHeader(
        run_id=folder.name, created_at=0.0, config=config, versions={"chatsim": "0"}, seed=0,
        planned_episodes=len(episodes),
    )  # fmt: skip
    create_run_dir(folder, header)
    with JsonlWriter(folder / "episodes.jsonl") as writer:
        for ep in episodes:
            writer.append(ep)
    return folder


def planted(root: Path, n: int, rho: float, seed: int = 7) -> Planted:
    """``n`` bundled questions (spread over the five subjects; about half named by Redux id)
    whose simulated and human accuracies have latent correlation ``rho``."""
    pool = load_questions("chatbench", selection="redux", limit=n, seed=seed)
    ids = [q.id for q in pool]
    sim, human = _latent(n, rho, seed)
    rng = np.random.default_rng(seed + 1)
    release_ids = [_release_id(q, i % 2 == 0) for i, q in enumerate(ids)]
    write_release(root / "release", release_ids, human, rng.uniform(0.2, 0.8, n),
                  rng.uniform(0, 1, n))  # fmt: skip
    write_run(root / "run", ids, sim)
    r = float(np.corrcoef(sim, human)[0, 1])
    return Planted(root / "release", root / "run", r, tuple(ids), tuple(release_ids))


assert len(CHATBENCH_SUBJECTS) == 5  # the pool above draws from all five


# --- conversations.json, in the shape chatsim assumes (see chatsim.chatbench._conversations) --


@dataclass(frozen=True)
class Chat:
    """One synthetic conversation of the release, and the letter the answers file records."""

    release_id: str
    worker: str
    user: tuple[str, ...]
    """The user's messages; each gets an assistant reply."""
    csv_letter: str | None = None
    """``selected_answer`` of the worker's user-AI row (None: no row)."""
    answer: object = None
    """The conversation's own ``answer`` field (None: absent)."""
    model: str = "gpt-4o"
    condition: str = "direct-to-AI"


def chat_object(chat: Chat) -> dict[str, object]:
    messages: list[dict[str, str]] = [
        {"role": "system", "content": "You are a helpful AI assistant."}
    ]
    for i, text in enumerate(chat.user):
        messages += [{"role": "user", "content": text},
                     {"role": "assistant", "content": f"reply {i} to {chat.worker}"}]  # fmt: skip
    row: dict[str, object] = {
        "worker_id": chat.worker, "model": chat.model, "condition": chat.condition,
        "question_id": chat.release_id, "messages": messages, "annotations": {"intent": "x"},
    }  # fmt: skip
    if chat.answer is not None:
        row["answer"] = chat.answer
    return row


def write_chat_release(folder: Path, chats: list[Chat], objects: object = None) -> Path:
    """A release with questions.csv, a user-answers file and conversations.json (``objects``
    replaces the conversations written, for malformed files)."""
    (folder / "full_study").mkdir(parents=True, exist_ok=True)
    ids = sorted({c.release_id for c in chats})
    with (folder / "questions.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows(
            [["question_id", "subject", "question"], *([r, "math", "?"] for r in ids)]
        )
    rows = [[c.worker, c.model, c.condition, "math", "0", "0", c.release_id, "user-AI",
             c.csv_letter, "1"] for c in chats if c.csv_letter is not None]  # fmt: skip
    # Every worker also answered alone, with another letter: it must not be taken.
    rows += [[c.worker, c.model, c.condition, "math", "0", "0", c.release_id, "user-alone", "D",
              "0"] for c in chats]  # fmt: skip
    with (folder / "full_study" / "user_answers_filtered.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([ANSWER_COLUMNS, *rows])
    data = [chat_object(c) for c in chats] if objects is None else objects
    (folder / "full_study" / "conversations.json").write_text(json.dumps(data), encoding="utf-8")
    return folder


def release_ids(n: int, seed: int = 3) -> tuple[list[str], list[str]]:
    """``n`` bundled question ids and their release ids (every other one a Redux id)."""
    ids = [q.id for q in load_questions("chatbench", selection="redux", limit=n, seed=seed)]
    return ids, [_release_id(q, i % 2 == 0) for i, q in enumerate(ids)]
