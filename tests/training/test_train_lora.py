"""``chatsim sim train`` on the tiny model: masking, loss, format preference, loading, resume.

One short training (on data rendered in a format the tiny model was *not* built with) is
shared by the module's tests: it must lower the loss, flip ``sim check``'s preference to that
format, and load through the ``hf:BASE+ADAPTER`` loader.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from train_kit import sum_conversations
from typer.testing import CliRunner

from chatsim import ConfigError, DataError
from chatsim.protocol import CHATBENCH_CHAT_V1, CHATBENCH_TEXT_V1, Message, Role
from chatsim.simulators._sim_check import Conversation, score_formats
from chatsim.training import (
    IGNORE,
    TrainSettings,
    encode_example,
    mean_nll,
    read_split,
    train_simulator,
    write_data,
)

pytest.importorskip("torch")

ALT = CHATBENCH_TEXT_V1.model_copy(
    update={
        "name": "plain-roles",
        "system_template": "{instruction}",
        "user_template": "User: {text} [END]",
        "assistant_template": "Assistant: {text}",
        "generation_prefix": "User:",
        "labels": ("User:", "Assistant:"),
    }
)
# A high rate and few steps: seconds on one CPU thread, enough to move a tiny model.
QUICK = TrainSettings(learning_rate=2e-3, max_steps=20, save_steps=10, logging_steps=5,
                      progress=False)  # fmt: skip


def _engine(spec: str) -> Any:
    from chatsim.simulators._hf_load import load_engine
    from chatsim.simulators._hf_options import HFOptions

    return load_engine(spec, HFOptions(max_new_tokens=4, context_tokens=1024))


@pytest.fixture(scope="module")
def trained(tiny_model: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("train")
    conversations = sum_conversations(24)
    write_data(conversations, root / "data", ALT, seed=0)
    result = train_simulator(root / "data", str(tiny_model.base), root / "out", QUICK)
    return {"root": root, "result": result, "conversations": conversations}


def test_labels_cover_exactly_the_user_turn_and_its_stop(tiny_model: Any) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model.base)
    prompt, completion = "[SYSTEM] Ask.\n\n[USER]", " Can you help me with this sum? [END]"
    encoded = encode_example(tok, prompt, completion)
    ids, labels = encoded["input_ids"], encoded["labels"]
    assert ids == tok(prompt + completion).input_ids and len(labels) == len(ids)
    kept = [t for t, label in zip(ids, labels, strict=True) if label != IGNORE]
    assert [label for label in labels if label != IGNORE] == kept  # labels are the token ids
    assert tok.decode(kept) == completion
    first = labels.index(kept[0])
    assert all(label == IGNORE for label in labels[:first])  # BOS and the whole prompt
    assert all(label != IGNORE for label in labels[first:])  # contiguous to the end
    assert len(kept) == len(tok(completion, add_special_tokens=False).input_ids)


def test_training_lowers_train_loss_and_heldout_perplexity(
    trained: dict[str, Any], tiny_model: Any
) -> None:
    from chatsim.training._tokens import encode_file

    result, root = trained["result"], trained["root"]
    assert result.steps == 20 and result.train_examples > 0 and result.heldout_examples > 0
    assert result.heldout_perplexity_after < result.heldout_perplexity_before
    before, after = _engine(str(tiny_model.base)), _engine(f"{tiny_model.base}+{root / 'out'}")
    train_set, _ = encode_file(after.tokenizer, root / "data" / "train.jsonl", 2048)
    assert mean_nll(after.model, after.tokenizer, train_set) < mean_nll(
        before.model, before.tokenizer, train_set
    )
    record = json.loads((root / "out" / "training.json").read_text())
    assert record["settings"]["r"] == 8 and record["steps"] == 20 and len(record["losses"]) == 4


def test_sim_check_then_prefers_the_trained_format(
    trained: dict[str, Any], tiny_model: Any
) -> None:
    held = set(read_split(trained["root"] / "data" / "split.json").heldout)
    convs = [Conversation(c.question, (*c.messages, Message(Role.USER, "Answer: A")))
             for c in trained["conversations"] if c.question.id in held]  # fmt: skip
    formats = [CHATBENCH_TEXT_V1, ALT]
    untouched = score_formats(_engine(f"{tiny_model.base}+{tiny_model.adapter}"), convs, formats)
    assert untouched.best == "chatbench-text-v1"  # what the tiny model was built with
    retrained = score_formats(_engine(f"{tiny_model.base}+{trained['root'] / 'out'}"), convs,
                              formats)  # fmt: skip
    assert retrained.best == "plain-roles"


def test_the_adapter_loads_as_an_hf_simulator(trained: dict[str, Any], tiny_model: Any) -> None:
    from chatsim.simulators._hf import create_hf_simulator
    from chatsim.simulators._hf_options import HFOptions

    out = trained["root"] / "out"
    assert (out / "adapter_config.json").is_file()
    sim = create_hf_simulator(f"{tiny_model.base}+{out}", HFOptions(max_new_tokens=4))
    assert type(sim.engine.model).__name__ == "PeftModelForCausalLM"
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["r"] == 8 and config["lora_alpha"] == 32
    assert sorted(config["target_modules"]) == ["q_proj", "v_proj"]


class _Interrupt(Exception):
    pass


def _interrupt_at(step: int) -> Any:
    from transformers import TrainerCallback

    class Stop(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step == step:
                raise _Interrupt

    return Stop()


@pytest.mark.slow
def test_resume_continues_from_the_last_checkpoint(
    trained: dict[str, Any], tiny_model: Any
) -> None:
    import torch
    from safetensors.torch import load_file

    data, base, root = trained["root"] / "data", str(tiny_model.base), trained["root"]
    settings = replace(QUICK, max_steps=4, save_steps=2)
    whole = train_simulator(data, base, root / "whole", settings)
    with pytest.raises(_Interrupt):
        train_simulator(data, base, root / "cut", settings, callbacks=[_interrupt_at(3)])
    with pytest.raises(ConfigError, match="--resume"):
        train_simulator(data, base, root / "cut", settings)
    resumed = train_simulator(data, base, root / "cut", settings, resume=True)
    assert resumed.steps == whole.steps == 4
    assert resumed.resumed_from is not None and resumed.resumed_from.endswith("checkpoint-2")
    one = load_file(str(root / "whole" / "adapter_model.safetensors"))
    two = load_file(str(root / "cut" / "adapter_model.safetensors"))
    assert one.keys() == two.keys()
    assert all(torch.allclose(one[k], two[k], atol=1e-6) for k in one)


def test_bad_requests_fail_clearly(tiny_model: Any, tmp_path: Path) -> None:
    base = str(tiny_model.base)
    write_data(sum_conversations(4), tmp_path / "text", CHATBENCH_TEXT_V1)
    with pytest.raises(ConfigError, match="no checkpoint"):
        train_simulator(tmp_path / "text", base, tmp_path / "o", QUICK, resume=True)
    with pytest.raises(ConfigError, match="CUDA"):
        train_simulator(tmp_path / "text", base, tmp_path / "o", replace(QUICK, load_in_8bit=True))
    write_data(sum_conversations(4), tmp_path / "chat", CHATBENCH_CHAT_V1)
    with pytest.raises(DataError, match="hosted fine-tuning"):
        train_simulator(tmp_path / "chat", base, tmp_path / "o", QUICK)


def test_cli_trains_and_prints_json(tiny_model: Any, tmp_path: Path) -> None:
    from chatsim.cli._sim import sim_app

    write_data(sum_conversations(6), tmp_path / "d", CHATBENCH_TEXT_V1)
    args = ["train", str(tmp_path / "d"), "--base", str(tiny_model.base), "--out",
            str(tmp_path / "o"), "--max-steps", "2", "--json"]  # fmt: skip
    shown = CliRunner().invoke(sim_app, args)
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)  # the progress bar and log lines go to stderr
    assert data["steps"] == 2 and math.isfinite(data["heldout_perplexity_after"])
    again = CliRunner().invoke(sim_app, args)
    assert again.exit_code != 0 and "--resume" in again.output
