"""``chatsim sim train``: a LoRA on a causal LM, on transformers' ``Trainer``.

Defaults are the ``microsoft/chatbench-mistral-7b`` card's recipe: LoRA r=8, alpha 32,
dropout 0.05 on ``q_proj``/``v_proj``; AdamW at lr 5e-5 for 2 epochs; bf16 where the GPU
supports it. The loss covers the user turn and its stop marker only (``_tokens``).

``OUT/`` ends up holding the adapter itself (``adapter_config.json``,
``adapter_model.safetensors``: what ``--simulator hf:BASE+OUT`` loads), ``checkpoints/``
(``Trainer`` checkpoints, resumable with ``resume=True``) and ``training.json`` (settings,
held-out perplexity before and after, the loss log). ``Trainer`` is used rather than TRL's
``SFTTrainer``: the examples are already split into prompt and completion with their masks,
which is all SFTTrainer would add, and it would be a new dependency.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from chatsim._exceptions import ConfigError, MissingDependencyError
from chatsim.training._data import HELDOUT_FILE, TRAIN_FILE
from chatsim.training._tokens import encode_file, mean_nll

__all__ = ["CHECKPOINTS_DIR", "TRAINING_FILE", "TrainResult", "TrainSettings", "train_simulator"]

CHECKPOINTS_DIR = "checkpoints"
TRAINING_FILE = "training.json"


@dataclass(frozen=True, slots=True)
class TrainSettings:
    """How to train; the defaults are the model card's recipe."""

    r: int = 8
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    learning_rate: float = 5e-5
    epochs: float = 2.0
    max_steps: int | None = None
    """Stop after this many optimiser steps (overrides ``epochs``)."""
    batch_size: int = 4
    grad_accum: int = 1
    max_length: int = 2048
    """Examples longer than this (in tokens) are left out and counted."""
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    """``auto``: bf16 on a GPU that supports it, else fp32."""
    load_in_8bit: bool = False
    """Load the base in 8 bits (bitsandbytes; CUDA only)."""
    seed: int = 0
    save_steps: int = 200
    save_total_limit: int | None = 2
    logging_steps: int = 10
    eval_limit: int = 512
    """Held-out examples scored before and after training (the first this many)."""
    progress: bool = True


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What a training run did."""

    adapter: str
    base: str
    steps: int
    train_examples: int
    heldout_examples: int
    skipped_examples: int
    heldout_nll_before: float
    heldout_nll_after: float
    resumed_from: str | None = None
    losses: list[float] = field(default_factory=list)
    """Training loss at each logging step."""

    @property
    def heldout_perplexity_before(self) -> float:
        return math.exp(self.heldout_nll_before)

    @property
    def heldout_perplexity_after(self) -> float:
        return math.exp(self.heldout_nll_after)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("heldout_perplexity_before", "heldout_perplexity_after"):
            value = getattr(self, key)
            data[key] = value if math.isfinite(value) else None
        for key in ("heldout_nll_before", "heldout_nll_after"):
            data[key] = data[key] if math.isfinite(data[key]) else None
        return data


def _stack() -> tuple[Any, Any, Any]:
    try:
        import peft
        import torch
        import transformers
    except ImportError as exc:
        raise MissingDependencyError(exc.name or "torch", "gpu", "chatsim sim train") from exc
    return torch, transformers, peft


def _load(base: str, settings: TrainSettings, torch: Any, transformers: Any, peft: Any) -> Any:
    cuda = bool(torch.cuda.is_available())
    if settings.load_in_8bit and not cuda:
        raise ConfigError("--load-in-8bit needs a CUDA GPU (bitsandbytes), and none is visible")
    bf16 = _bf16(settings, torch)
    kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if bf16 else torch.float32}
    if settings.load_in_8bit:
        kwargs["quantization_config"] = transformers.BitsAndBytesConfig(load_in_8bit=True)
        kwargs["device_map"] = {"": 0}
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(base, **kwargs)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load the base model {base!r}: {exc}") from exc
    if settings.load_in_8bit:
        model = peft.prepare_model_for_kbit_training(model)
    # The LoRA's A matrices start random: seed them, so a run (and its resume) is repeatable.
    transformers.set_seed(settings.seed)
    lora = peft.LoraConfig(
        r=settings.r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=list(settings.target_modules),
        task_type="CAUSAL_LM",
    )
    return peft.get_peft_model(model, lora)


def _bf16(settings: TrainSettings, torch: Any) -> bool:
    cuda = bool(torch.cuda.is_available())
    if settings.precision == "bf16" and not (cuda and torch.cuda.is_bf16_supported()):
        raise ConfigError("--precision bf16 needs a GPU with bf16 support; use fp32 or auto")
    if settings.precision == "auto":
        return cuda and bool(torch.cuda.is_bf16_supported())
    return settings.precision == "bf16"


def _tokenizer(base: str, transformers: Any) -> Any:
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(base)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load the tokenizer of {base!r}: {exc}") from exc
    if tokenizer.pad_token is None:  # Mistral's has none, as the simulator does
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return tokenizer


def _resume_point(out: Path, resume: bool, transformers: Any) -> str | None:
    checkpoints = out / CHECKPOINTS_DIR
    last = (
        transformers.trainer_utils.get_last_checkpoint(str(checkpoints))
        if checkpoints.is_dir()
        else None
    )
    if resume and last is None:
        raise ConfigError(f"--resume: no checkpoint under {checkpoints} to resume from")
    if not resume and last is not None:
        raise ConfigError(
            f"{out} already holds checkpoints ({Path(last).name}); pass --resume to continue "
            "from the last one, or choose another --out"
        )
    return str(last) if last is not None else None


def _arguments(out: Path, settings: TrainSettings, torch: Any, transformers: Any) -> Any:
    return transformers.TrainingArguments(
        output_dir=str(out / CHECKPOINTS_DIR),
        learning_rate=settings.learning_rate,
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps if settings.max_steps is not None else -1,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        optim="adamw_torch",
        bf16=_bf16(settings, torch),
        use_cpu=not torch.cuda.is_available(),
        seed=settings.seed,
        data_seed=settings.seed,
        save_strategy="steps",
        save_steps=settings.save_steps,
        save_total_limit=settings.save_total_limit,
        logging_strategy="steps",
        logging_steps=settings.logging_steps,
        report_to="none",
        disable_tqdm=not settings.progress,
        dataloader_num_workers=0,
        remove_unused_columns=False,
    )


def train_simulator(
    data: str | Path,
    base: str,
    out: str | Path,
    settings: TrainSettings = TrainSettings(),  # frozen: one shared default is safe
    *,
    resume: bool = False,
    callbacks: Sequence[Any] = (),
) -> TrainResult:
    """Train a LoRA on ``data`` (a ``chatsim sim data`` directory, text format). Blocking.

    ``callbacks`` are ``transformers.TrainerCallback`` objects passed to the trainer.
    """
    torch, transformers, peft = _stack()
    data_dir, out = Path(data), Path(out)
    resumed_from = _resume_point(out, resume, transformers)
    tokenizer = _tokenizer(base, transformers)
    train_set, skipped = encode_file(tokenizer, data_dir / TRAIN_FILE, settings.max_length)
    held_path = data_dir / HELDOUT_FILE
    held: list[dict[str, list[int]]] = []
    if held_path.is_file():
        held, skipped_held = encode_file(tokenizer, held_path, settings.max_length)
        skipped += skipped_held
    if not train_set:
        raise ConfigError(
            f"{data_dir / TRAIN_FILE} has no example that fits {settings.max_length} tokens"
        )
    model = _load(base, settings, torch, transformers, peft)
    scored = held[: settings.eval_limit]
    before = mean_nll(model, tokenizer, scored) if scored else math.nan
    trainer = transformers.Trainer(
        model=model,
        args=_arguments(out, settings, torch, transformers),
        train_dataset=train_set,
        data_collator=transformers.DataCollatorForSeq2Seq(tokenizer, padding=True),
        callbacks=list(callbacks),
    )
    if not settings.progress:  # without a bar, Trainer prints every log line instead
        trainer.remove_callback(transformers.trainer_callback.PrinterCallback)
    trainer.train(resume_from_checkpoint=resumed_from)
    model.save_pretrained(str(out))
    after = mean_nll(model, tokenizer, scored) if scored else math.nan
    losses = [float(e["loss"]) for e in trainer.state.log_history if "loss" in e]
    result = TrainResult(
        adapter=str(out), base=base, steps=int(trainer.state.global_step),
        train_examples=len(train_set), heldout_examples=len(held), skipped_examples=skipped,
        heldout_nll_before=before, heldout_nll_after=after, resumed_from=resumed_from,
        losses=losses,
    )  # fmt: skip
    record = {"settings": asdict(settings), "data": str(data_dir), **result.to_json()}
    (out / TRAINING_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return result
