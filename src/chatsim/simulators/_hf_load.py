"""Load base model, LoRA adapter and tokenizer, the way the ChatBench model card does.

torch and transformers are imported here, only when an ``hf:`` simulator is created; peft
only when its spec names an adapter (a base alone, such as a merged fine-tune, loads without
peft installed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chatsim._exceptions import ConfigError, MissingDependencyError, SimulatorError
from chatsim.simulators._hf_engine import HFEngine
from chatsim.simulators._hf_options import DEFAULT_BASE, HFOptions, parse_hf_spec
from chatsim.simulators._hf_prompt import resolve_text_format

__all__ = ["estimate_parameters", "load_engine"]

_HINT = "Or use --simulator prompted:<model> or served:<model>."
_CPU_LIMIT = 1_000_000_000  # parameters; above this, CPU generation is impractically slow


def _import_stack(adapter: bool) -> tuple[Any, Any, Any]:
    """torch, transformers, and peft (None without an ``adapter``)."""
    try:
        import torch
        import transformers

        if not adapter:
            return torch, transformers, None
        import peft
    except ImportError as exc:
        raise MissingDependencyError(
            exc.name or "torch", "gpu", "the local hf: simulator", _HINT
        ) from exc
    return torch, transformers, peft


def estimate_parameters(config: Any) -> int:
    """Rough parameter count of a decoder-only config (attention + MLP + embeddings)."""
    hidden = int(getattr(config, "hidden_size", 0) or 0)
    layers = int(getattr(config, "num_hidden_layers", 0) or 0)
    inner = int(getattr(config, "intermediate_size", 0) or 4 * hidden)
    vocab = int(getattr(config, "vocab_size", 0) or 0)
    heads = int(getattr(config, "num_attention_heads", 0) or 1)
    kv_heads = int(getattr(config, "num_key_value_heads", 0) or heads)
    head_dim = int(getattr(config, "head_dim", 0) or hidden // heads)
    attention = 2 * hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim
    return layers * (attention + 3 * hidden * inner) + 2 * vocab * hidden


def _check_device(base: str, options: HFOptions, cuda: bool, transformers: Any) -> None:
    if cuda or options.allow_large_on_cpu:
        return
    if options.load_in_8bit:
        raise ConfigError(f"load_in_8bit needs a CUDA GPU, and none is visible. {_HINT}")
    big = base == DEFAULT_BASE
    if not big:
        try:
            config = transformers.AutoConfig.from_pretrained(base)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the config of simulator base {base!r}: {exc}") from exc
        big = estimate_parameters(config) > _CPU_LIMIT
    if big:
        raise ConfigError(
            f"the hf: simulator {base!r} needs a CUDA GPU, and none is visible (torch sees no "
            f"CUDA device). Run on a machine with a GPU, serve the adapter with vLLM and use "
            f"--simulator served:<model>, or use --simulator prompted:<model>. (Tiny local "
            f"models run on a CPU; HFOptions(allow_large_on_cpu=True) forces a large one.)"
        )


def _model_kwargs(options: HFOptions, cuda: bool, torch: Any, transformers: Any) -> dict[str, Any]:
    name = options.torch_dtype_name(cuda)
    kwargs: dict[str, Any] = {"dtype": name if name == "auto" else getattr(torch, name)}
    if options.load_in_8bit:
        kwargs["quantization_config"] = transformers.BitsAndBytesConfig(load_in_8bit=True)
        kwargs["device_map"] = options.device_map or "auto"
    elif options.device_map is not None:
        kwargs["device_map"] = options.device_map
    return kwargs


def load_engine(spec_rest: str, options: HFOptions) -> HFEngine:
    """Load ``<base>+<adapter>`` into an ``HFEngine``. Blocking; seconds to minutes."""
    fmt = resolve_text_format(options.prompt_format)
    base, adapter = parse_hf_spec(spec_rest)
    torch, transformers, peft = _import_stack(adapter is not None)
    cuda = bool(torch.cuda.is_available())
    _check_device(base, options, cuda, transformers)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(base)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            base, **_model_kwargs(options, cuda, torch, transformers)
        )
        if peft is not None:
            model = peft.PeftModel.from_pretrained(model, adapter)
    except (OSError, ValueError, RuntimeError) as exc:
        where = "a local path" if Path(base).exists() else "a Hugging Face hub id"
        raise SimulatorError(
            f"could not load simulator {base}+{adapter} ({base!r} looks like {where}): {exc}"
        ) from exc
    if "device_map" not in _model_kwargs(options, cuda, torch, transformers):
        model = model.to("cuda" if cuda else "cpu")
    model.eval()
    # Mistral's tokenizer has no pad token; decoder-only batches pad on the left.
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return HFEngine(model, tokenizer, options, fmt)
