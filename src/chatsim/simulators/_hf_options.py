"""Options and spec parsing of the local transformers + peft simulator (no heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass

from chatsim._exceptions import ConfigError

__all__ = ["DEFAULT_ADAPTER", "DEFAULT_BASE", "DEFAULT_HF_SPEC_REST", "HFOptions", "parse_hf_spec"]

DEFAULT_BASE = "mistralai/Mistral-7B-v0.1"
DEFAULT_ADAPTER = "microsoft/chatbench-mistral-7b"
#: What follows ``hf:`` in the default spec: the model card's base and adapter.
DEFAULT_HF_SPEC_REST = f"{DEFAULT_BASE}+{DEFAULT_ADAPTER}"

_DTYPES = {
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "float16": "float16",
    "half": "float16",
    "fp32": "float32",
    "float32": "float32",
    "float": "float32",
}

_SCHEDULERS = ("batch", "continuous")


@dataclass(frozen=True, slots=True)
class HFOptions:
    """How to load and run the local simulator. Every field has a sensible default."""

    dtype: str | None = None
    """``bf16``/``fp16``/``fp32`` (or torch names); None: bf16 on a GPU, float32 on a CPU."""
    load_in_8bit: bool = False
    """Load the base in 8 bits through bitsandbytes, as the model card does (GPU only)."""
    device_map: str | None = None
    """Passed to ``from_pretrained`` (e.g. ``auto``); None: the whole model on ``cuda`` or cpu."""
    max_new_tokens: int = 256
    """Cap on tokens generated per user turn."""
    temperature: float = 1.0
    """Sampling temperature (ChatBench: 1.0); 0 means greedy decoding."""
    context_tokens: int = 2048
    """Context the adapter was trained with; prompts are trimmed to this minus max_new_tokens."""
    max_batch_size: int = 64
    """Largest batch handed to one ``generate`` call (split further on out-of-memory)."""
    prompt_format: str = "chatbench-text-v1"
    """A built-in text format's name, or a ``.json``/``.toml`` format file."""
    allow_large_on_cpu: bool = False
    """Load a model of more than a billion parameters without a GPU anyway (very slow)."""
    scheduler: str = "batch"
    """``batch``: pending turns of all episodes micro-batched into ``generate`` calls (the
    default, measured faster here); ``continuous``: the experimental continuous-batching
    backend on transformers' manager (``_hf_cb``), where turns join a running batch."""

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ConfigError(f"temperature must be >= 0, got {self.temperature}")
        if self.max_batch_size < 1:
            raise ConfigError(f"max_batch_size must be at least 1, got {self.max_batch_size}")
        if self.context_tokens <= self.max_new_tokens:
            raise ConfigError(
                f"context_tokens ({self.context_tokens}) must exceed max_new_tokens "
                f"({self.max_new_tokens}): the prompt needs room"
            )
        if self.scheduler not in _SCHEDULERS:
            raise ConfigError(
                f"unknown scheduler {self.scheduler!r}; use {' or '.join(_SCHEDULERS)}"
            )
        if self.dtype is not None and self.dtype.lower() not in (*_DTYPES, "auto"):
            raise ConfigError(f"unknown dtype {self.dtype!r}; use bf16, fp16, fp32 or auto")

    @property
    def prompt_budget(self) -> int:
        """Tokens the rendered prompt may take."""
        return self.context_tokens - self.max_new_tokens

    def torch_dtype_name(self, cuda: bool) -> str:
        """The torch dtype name to load with (``auto`` passes through)."""
        if self.dtype is None:
            return "bfloat16" if cuda else "float32"
        lowered = self.dtype.lower()
        return "auto" if lowered == "auto" else _DTYPES[lowered]


def parse_hf_spec(rest: str) -> tuple[str, str | None]:
    """``<base>+<adapter>`` (or just ``<base>``) -> (base, adapter). Paths or hub ids.

    An empty spec means the model card's base and adapter.
    """
    rest = rest.strip() or DEFAULT_HF_SPEC_REST
    base, plus, adapter = rest.partition("+")
    base, adapter = base.strip(), adapter.strip()
    if not base or (plus and not adapter):
        raise ConfigError(
            f"bad hf simulator spec {rest!r}: use hf:<base>+<adapter> "
            f"(paths or hub ids), e.g. hf:{DEFAULT_HF_SPEC_REST}"
        )
    return base, adapter or None
