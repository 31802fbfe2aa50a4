"""Tokenised examples with the loss on the user turn only, and their teacher-forced NLL.

A token is the user's when it ends past the prompt -- the rule ``chatsim sim check`` scores
by -- so the tokens trained on are exactly the tokens checked. Every other label is -100
(ignored by the loss): the instruction, the transcript, BOS and padding.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chatsim._exceptions import DataError

__all__ = ["IGNORE", "encode_example", "encode_file", "mean_nll", "read_text_examples"]

#: The label the loss ignores (PyTorch's cross-entropy default).
IGNORE = -100


def encode_example(tokenizer: Any, prompt: str, completion: str) -> dict[str, list[int]]:
    """``input_ids``, ``attention_mask`` and ``labels`` (-100 outside the completion)."""
    encoded = tokenizer(prompt + completion, return_offsets_mapping=True)
    ids = list(encoded["input_ids"])
    cut = len(prompt)
    labels = [
        t if end > cut else IGNORE
        for t, (_, end) in zip(ids, encoded["offset_mapping"], strict=True)
    ]
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}


def read_text_examples(path: str | Path) -> list[tuple[str, str]]:
    """``(prompt, completion)`` pairs of a text-format data file written by ``sim data``."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read training data {path}: {exc.strerror}") from exc
    pairs = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise DataError(f"{path}:{number}: not JSON: {exc}") from exc
        if not (isinstance(row, dict) and isinstance(row.get("prompt"), str)
                and isinstance(row.get("completion"), str)):  # fmt: skip
            raise DataError(
                f"{path}:{number}: expected {{'prompt', 'completion'}} (a text-format example); "
                "chat-format data is for hosted fine-tuning: re-run `chatsim sim data` with "
                "--format chatbench-text-v1"
            )
        pairs.append((row["prompt"], row["completion"]))
    return pairs


def encode_file(
    tokenizer: Any, path: str | Path, max_length: int
) -> tuple[list[dict[str, list[int]]], int]:
    """Encoded examples of a data file, and how many were left out for being too long."""
    encoded = [encode_example(tokenizer, p, c) for p, c in read_text_examples(path)]
    kept = [e for e in encoded if len(e["input_ids"]) <= max_length]
    return kept, len(encoded) - len(kept)


def _pad(rows: Sequence[dict[str, list[int]]], key: str, fill: int) -> Any:
    """One right-padded tensor of ``key`` over ``rows``."""
    import torch

    width = max(len(e[key]) for e in rows)
    return torch.tensor([e[key] + [fill] * (width - len(e[key])) for e in rows])


def mean_nll(model: Any, tokenizer: Any, examples: Sequence[dict[str, list[int]]],
             batch_size: int = 8) -> float:  # fmt: skip
    """Mean NLL per user-turn token (nats), teacher-forced; ``exp`` of it is the perplexity."""
    import torch

    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for start in range(0, len(examples), batch_size):
        batch = examples[start : start + batch_size]

        ids, mask = _pad(batch, "input_ids", pad), _pad(batch, "attention_mask", 0)
        labels = _pad(batch, "labels", IGNORE)
        device = next(model.parameters()).device
        with torch.inference_mode():
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        logits, targets = logits[:, :-1].float(), labels[:, 1:].to(device)
        scored = targets != IGNORE
        logprobs = torch.log_softmax(logits, dim=-1)
        picked = logprobs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        total += float(-(picked * scored).sum())
        count += int(scored.sum())
    model.train(was_training)
    return total / count if count else math.nan
