"""A run's model labels onto the user study's assistant models (``gpt-4o``, ``llama-3.1-8b``).

A run labels a target by its spec (``gpt-4o``, ``openai:gpt-4o-2024-08-06``,
``vllm:meta-llama/Meta-Llama-3.1-8B-Instruct``); the release names the model behind the
study's chatbot. ``KNOWN_MODELS`` maps a normalised label (no provider prefix, no
organisation, lower case) onto a release name by prefix; ``--model-map RUN=HUMAN`` overrides.
"""

from __future__ import annotations

import re

from chatsim._exceptions import ConfigError

__all__ = ["KNOWN_MODELS", "normalise_label", "parse_model_map", "resolve_human_model"]

KNOWN_MODELS: tuple[tuple[str, str], ...] = (
    # (normalised run-label prefix, release model); the first match wins, so the
    # near-namesakes that are other models come first and map to nothing.
    ("gpt-4o-mini", ""),
    ("gpt-4o", "gpt-4o"),
    ("llama-3.1-8b", "llama-3.1-8b"),
    ("meta-llama-3.1-8b", "llama-3.1-8b"),
)


def normalise_label(label: str) -> str:
    """``vllm:meta-llama/Meta-Llama-3.1-8B-Instruct`` → ``meta-llama-3.1-8b-instruct``."""
    name = label.split(":", 1)[1] if re.match(r"^[a-z]+:", label) else label
    return name.rsplit("/", 1)[-1].strip().lower()


def parse_model_map(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["RUN_MODEL=HUMAN_MODEL", ...]`` as a dict; a malformed pair says the form."""
    out: dict[str, str] = {}
    for pair in pairs:
        run, sep, human = pair.partition("=")
        if not sep or not run.strip() or not human.strip():
            raise ConfigError(f"--model-map needs RUN_MODEL=HUMAN_MODEL, got {pair!r}")
        out[run.strip()] = human.strip()
    return out


def resolve_human_model(label: str, overrides: dict[str, str] | None = None) -> str | None:
    """The release model for a run's model label, or None when none is known."""
    if overrides and label in overrides:
        return overrides[label]
    name = normalise_label(label)
    for prefix, human in KNOWN_MODELS:
        if name.startswith(prefix):
            return human or None
    return None
