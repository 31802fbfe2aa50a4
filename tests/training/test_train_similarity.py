"""First-prompt similarity: BLEU and ROUGE-1 against hand-computed values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from train_kit import sum_conversations, write_conversations
from typer.testing import CliRunner

from chatsim.protocol import Message, Role
from chatsim.training import UserConversation, first_prompt_similarity, first_prompts

pytest.importorskip("sacrebleu")
pytest.importorskip("rouge_score")

HYP = "the cat sat on the mat"
REF = "the cat sat on a mat"
# By hand: n-gram precisions 5/6, 3/5, 2/4, 1/3, equal lengths (no brevity penalty).
BLEU = 100 * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25
ROUGE1 = 5 / 6  # 5 of 6 unigrams shared each way


def test_known_values_for_one_question() -> None:
    result = first_prompt_similarity({"q": [HYP]}, {"q": [REF]})
    (q,) = result.questions
    assert math.isclose(q.bleu, BLEU, rel_tol=1e-9) and math.isclose(q.rouge1, ROUGE1)
    assert (q.simulated, q.real) == (1, 1)


def test_every_real_prompt_is_a_reference_and_questions_are_averaged() -> None:
    result = first_prompt_similarity(
        {"q": [HYP, "dog"], "r": [HYP], "only-sim": ["x"]},
        {"q": [REF, HYP], "r": [REF], "only-real": ["y"]},
    )
    q, r = result.questions
    assert q.question_id == "q" and math.isclose(q.rouge1, (1.0 + 0.0) / 2)
    assert math.isclose(r.bleu, BLEU, rel_tol=1e-9)
    assert math.isclose(result.rouge1, (q.rouge1 + r.rouge1) / 2)
    assert result.only_simulated == 1 and result.only_real == 1


def test_first_prompts_take_the_first_user_message() -> None:
    (conv,) = sum_conversations(1)
    assistant_first = UserConversation.of(conv.question, (Message(Role.ASSISTANT, "hi"),), "A")
    assert first_prompts([conv, assistant_first]) == {"q0": [conv.messages[0].content]}


def test_cli_table_and_json(tmp_path: Path) -> None:
    from chatsim.cli._sim import sim_app

    real = write_conversations(tmp_path / "real.jsonl", sum_conversations(3, seed=1))
    sim = write_conversations(tmp_path / "sim.jsonl", sum_conversations(3, seed=2))
    runner = CliRunner()
    shown = runner.invoke(sim_app, ["similarity", str(sim), "--real", str(real)])
    assert shown.exit_code == 0, shown.output
    assert "BLEU" in shown.output and "q2" in shown.output
    as_json = runner.invoke(sim_app, ["similarity", str(sim), "--real", str(real), "--json"])
    data = json.loads(as_json.output)
    assert data["questions_scored"] == 3 and 0 <= data["rouge1"] <= 1
