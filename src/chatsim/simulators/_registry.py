"""Simulator specs: which backend plays the user.

    hf[:<base>+<adapter>]     local transformers + peft (the ChatBench LoRA by default); GPU
    served:<model>            the LoRA (or any model) behind /v1/completions, e.g. vLLM;
                              options context_tokens=N (default: the server's max_model_len),
                              seed=false (send no per-turn seed); several replicas: a
                              comma-separated --simulator-base-url (``_served_fleet``)
    prompted:<model spec>     any chat model prompted to play the user (unfine-tuned baseline)
    scripted                  deterministic, no model (tests, CPU benchmarks)

Backends with heavy dependencies are imported only when named.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, StrictBool, TypeAdapter, ValidationError

from chatsim._exceptions import ConfigError, UnknownNameError
from chatsim._util._clock import Clock
from chatsim.protocol import PromptFormat, get_format, load_format
from chatsim.recording._records import SimulatorChoice
from chatsim.simulators._contract import SimulatorBackend, TurnSource, UserTurn, UserTurnRequest
from chatsim.targets import CallerPool, CallPolicy, build_caller, parse_model_spec

__all__ = [
    "DEFAULT_HF_SPEC",
    "SIMULATOR_KINDS",
    "DirectTurnSource",
    "ServedOptions",
    "SimulatorSettings",
    "choose_simulator",
    "create_remote_simulator",
    "create_simulator",
    "cuda_available",
    "default_simulator_choice",
    "default_simulator_spec",
    "open_turn_source",
    "runs_on_actors",
]

SIMULATOR_KINDS = ("hf", "served", "prompted", "scripted")
DEFAULT_HF_SPEC = "hf:mistralai/Mistral-7B-v0.1+microsoft/chatbench-mistral-7b"


@dataclass(frozen=True, slots=True)
class SimulatorSettings:
    """How to build a simulator backend (from ``RunConfig``)."""

    base_url: str | None = None
    """The simulator's own endpoint (``--simulator-base-url``)."""
    fallback_base_url: str | None = None
    """The run's generic ``--base-url``: used where the simulator's model is self-hosted (never
    for hosted providers, whose keys must not travel to another host)."""
    temperature: float = 1.0
    max_tokens: int = 256
    prompt_format: str | None = None
    concurrency: int = 32
    options: dict[str, Any] = field(default_factory=dict)
    """Backend options: for ``hf`` the fields of ``HFOptions`` and ``max_wait`` for the batcher;
    for ``served`` the fields of ``ServedOptions``."""
    policy: CallPolicy | None = None
    """The run's call policy (retries, timeouts, rate limits) for HTTP simulators."""
    pool: CallerPool | None = None
    """The run's callers: a prompted simulator on a target's deployment shares its budget."""


def cuda_available() -> bool:
    """True when torch is installed and sees a CUDA GPU. Imports torch only if it could."""
    return _no_cuda_reason() is None


def _no_cuda_reason() -> str | None:
    """Why there is no usable CUDA GPU (None when there is one)."""
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed"
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return "CUDA_VISIBLE_DEVICES is empty"
    if not Path("/dev/nvidia0").exists():
        return "no CUDA GPU found"
    import torch

    return None if torch.cuda.is_available() else "torch sees no CUDA GPU"


def default_simulator_choice(
    models: tuple[str, ...] | list[str], *, flag: str = "--simulator"
) -> SimulatorChoice:
    """The ChatBench LoRA on a local GPU when there is one; otherwise the first target model
    prompted to play the user (the paper's weaker, unfine-tuned baseline), saying why.
    ``flag`` is how the caller's user picks another (``--simulator`` or ``simulator=``)."""
    missing = _no_cuda_reason()
    if missing is None:
        return SimulatorChoice(
            spec=DEFAULT_HF_SPEC,
            source="default",
            reason=f"the default ChatBench LoRA on the local CUDA GPU; pass {flag} to choose",
        )
    adapter = DEFAULT_HF_SPEC.rpartition("+")[2]
    return SimulatorChoice(
        spec=f"prompted:{models[0]}",
        source="default",
        reason=(
            f"{missing} for the default hf:{adapter}; the first target plays the user, "
            f"unfine-tuned: weaker fidelity, and its tokens are billed; pass {flag} to choose"
        ),
    )


def choose_simulator(
    given: str | None, models: tuple[str, ...] | list[str], *, flag: str = "--simulator"
) -> SimulatorChoice:
    """The simulator ``given`` by the user, or the default with its reason."""
    if given:
        return SimulatorChoice(spec=given, source="given", reason=f"given with {flag}")
    return default_simulator_choice(models, flag=flag)


def default_simulator_spec(models: tuple[str, ...] | list[str]) -> str:
    """The spec of ``default_simulator_choice`` (kept for callers that need only the spec)."""
    return default_simulator_choice(models).spec


def _format(settings: SimulatorSettings, default: str) -> PromptFormat:
    name = settings.prompt_format or default
    if name.endswith((".json", ".toml")) or os.sep in name:
        return load_format(Path(name))
    return get_format(name)


def create_simulator(spec: str, settings: SimulatorSettings, clock: Clock) -> SimulatorBackend:
    """Build the backend for ``spec``. Fails before any episode on bad specs or credentials."""
    kind, _, rest = spec.strip().partition(":")
    if settings.options and kind not in ("hf", "served"):
        raise ConfigError(
            f"--simulator-option applies to hf: and served: simulators only; {kind} takes none "
            f"(given: {', '.join(sorted(settings.options))})"
        )
    if kind == "scripted":
        from chatsim.simulators._scripted import ScriptedSimulator

        return ScriptedSimulator(spec=spec)
    if kind == "prompted":
        return _prompted(spec, rest, settings, clock)
    if kind == "served":
        return _served(rest, settings, clock)
    if kind == "hf":
        from chatsim.simulators._hf import create_hf_simulator

        return create_hf_simulator(rest or DEFAULT_HF_SPEC[3:], _hf_options(settings))
    raise UnknownNameError(
        "simulator", kind, [f"{k}:..." if k != "scripted" else k for k in SIMULATOR_KINDS]
    )


def _hf_options(settings: SimulatorSettings) -> Any:
    """The typed ``HFOptions`` of an ``hf:`` simulator, checked before minutes of loading."""
    from chatsim.simulators._hf import HFOptions

    options = {k: v for k, v in settings.options.items() if k != "max_wait"}
    options.setdefault("temperature", settings.temperature)
    options.setdefault("max_new_tokens", settings.max_tokens)
    if settings.prompt_format:
        options.setdefault("prompt_format", settings.prompt_format)
    _batcher_wait(settings)
    return _typed_options(HFOptions, options)


def runs_on_actors(spec: str) -> bool:
    """Whether a run on Ray plays this simulator on its own actors (``hf:``: one GPU model
    per GPU, called by every episode worker) rather than one copy in each worker."""
    return spec.strip().partition(":")[0] == "hf"


def create_remote_simulator(spec: str, settings: SimulatorSettings) -> SimulatorBackend:
    """A stand-in for a simulator that runs elsewhere (``hf:`` on Ray's simulator actors):
    the spec and options are checked here as ``create_simulator`` would, and no model is
    loaded in this process. Its turns cannot be generated here."""
    if not runs_on_actors(spec):
        raise ConfigError(f"only hf: simulators run on simulator actors, not {spec}")
    options = _hf_options(settings)
    from chatsim.simulators._contract import RemoteSimulator

    return RemoteSimulator(spec, max_batch_size=options.max_batch_size)


def _served(model: str, settings: SimulatorSettings, clock: Clock) -> SimulatorBackend:
    """One server, or a fleet of replicas when the base URL lists several (``_served_fleet``)."""
    if not model:
        raise ConfigError("served simulator needs a model name: served:<model>")
    base_url = (
        settings.base_url
        or os.environ.get("CHATSIM_SIMULATOR_BASE_URL")
        or settings.fallback_base_url
    )
    if not base_url:
        raise ConfigError(
            "served simulator needs an endpoint: pass --simulator-base-url "
            "(or set CHATSIM_SIMULATOR_BASE_URL), e.g. http://127.0.0.1:8000/v1; "
            "several replicas as a comma-separated list"
        )
    from chatsim.simulators._served import create_served_simulator
    from chatsim.simulators._served_fleet import create_served_fleet, split_base_urls

    served: ServedOptions = _typed_options(ServedOptions, settings.options, "served")
    if served.context_tokens is not None and served.context_tokens <= settings.max_tokens:
        raise ConfigError(
            f"simulator option context_tokens ({served.context_tokens}) must exceed the "
            f"simulator's max tokens ({settings.max_tokens})"
        )
    options: dict[str, Any] = {
        "temperature": settings.temperature,
        "max_tokens": settings.max_tokens,
        "prompt_format": settings.prompt_format or "chatbench-text-v1",
        "context_tokens": served.context_tokens or "server",
        "send_seed": served.seed,
        "policy": settings.policy,
        "clock": clock,
    }
    urls = split_base_urls(base_url)
    if len(urls) == 1:
        return create_served_simulator(model, base_url=urls[0], **options)
    return create_served_fleet(model, base_urls=urls, **options)


@dataclass(frozen=True, slots=True)
class ServedOptions:
    """``--simulator-option`` fields of a ``served:`` simulator."""

    context_tokens: Annotated[int, Field(ge=2)] | None = None
    """The server's context length in tokens; None reads its ``max_model_len`` from
    ``GET /models`` before the first turn (2,048 when it does not say)."""
    seed: StrictBool = True
    """Send each turn's seed (reproducible turns); false for servers that refuse ``seed``."""


def _typed_options(options_type: type[Any], options: dict[str, Any], kind: str = "hf") -> Any:
    """Validated options of ``kind``: unknown names and wrong types are a ``ConfigError``."""
    valid = sorted(f.name for f in dataclasses.fields(options_type))
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(
            f"unknown simulator option(s) {unknown} for {kind}:; valid: {', '.join(valid)}"
        )
    try:
        return TypeAdapter(options_type).validate_python(options)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid simulator option(s): {problems}") from None


def _batcher_wait(settings: SimulatorSettings) -> float:
    raw = settings.options.get("max_wait", 0.01)
    try:
        wait = float(raw)
    except (TypeError, ValueError):
        wait = -1.0
    if not wait >= 0 or wait == float("inf"):
        raise ConfigError(f"simulator option max_wait must be seconds >= 0, got {raw!r}")
    return wait


def _prompted(spec: str, rest: str, settings: SimulatorSettings, clock: Clock) -> SimulatorBackend:
    if not rest:
        raise ConfigError("prompted simulator needs a model: prompted:<model spec>")
    from chatsim.simulators._prompted import PromptedSimulator

    model = parse_model_spec(rest)
    fmt = _format(settings, "chatbench-chat-v1")
    if fmt.kind != "chat":
        raise ConfigError(
            f"prompted simulators need a chat prompt format; {fmt.name!r} is a {fmt.kind} format "
            "(use chatbench-chat-v1, or a served:/hf: simulator for text formats)"
        )
    # The pool (a run's) gives one budget with any target on the same deployment and owns it.
    policy = settings.policy or CallPolicy(max_concurrency=settings.concurrency)
    caller = build_caller(
        model, base_url=settings.fallback_base_url, endpoint=settings.base_url,
        policy=policy, pool=settings.pool, clock=clock,
    )  # fmt: skip
    owns = settings.pool is None
    return PromptedSimulator(
        caller,
        fmt,
        spec=spec,
        temperature=settings.temperature,
        max_tokens=settings.max_tokens,
        owns_caller=owns,
    )


class DirectTurnSource:
    """One request, one backend call: for backends that gain nothing from batching."""

    def __init__(self, backend: SimulatorBackend) -> None:
        self.backend = backend

    async def request(self, request: UserTurnRequest) -> UserTurn:
        (turn,) = await self.backend.generate([request])
        return turn


@asynccontextmanager
async def open_turn_source(
    backend: SimulatorBackend, settings: SimulatorSettings
) -> AsyncIterator[TurnSource]:
    """A micro-batcher in front of batched (GPU) backends, a pass-through otherwise."""
    if not backend.batched:
        yield DirectTurnSource(backend)
        return
    from chatsim.simulators._batcher import MicroBatcher

    max_wait = _batcher_wait(settings)
    async with MicroBatcher(backend, max_batch_size=backend.max_batch_size, max_wait=max_wait) as b:
        yield b
