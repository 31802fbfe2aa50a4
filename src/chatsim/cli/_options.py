"""Options shared by ``run`` and ``loadtest``: the simulator's settings, and the parsing of
repeatable ``KEY=VALUE`` options."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from chatsim._exceptions import ConfigError

__all__ = [
    "PromptFormatOption",
    "SimulatorMaxTokensOption",
    "SimulatorOptionOption",
    "SimulatorTemperatureOption",
    "check_ray",
    "key_values",
]

SimulatorTemperatureOption = Annotated[
    float | None, typer.Option(help="Simulator temperature (default 1.0).")
]
SimulatorMaxTokensOption = Annotated[
    int | None, typer.Option(help="Max tokens per simulated user turn.")
]
SimulatorOptionOption = Annotated[
    list[str] | None,
    typer.Option(
        help="Simulator backend option KEY=VALUE (repeatable). hf: e.g. load_in_8bit=true, "
        "max_batch_size=64; served: context_tokens=N (default: the server's max_model_len "
        "from /v1/models, else 2048), seed=false (send no per-turn seed)."
    ),
]
PromptFormatOption = Annotated[
    str | None, typer.Option(help="Simulator prompt format name or JSON/TOML file.")
]


def key_values(pairs: list[str], flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values are read as JSON where they parse (numbers, true, ...)."""
    found: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} {pair!r}: use KEY=VALUE, e.g. {flag} name=10")
        try:
            found[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            found[key.strip()] = raw
    return found


def check_ray(ray: str | None, workers: int | None, *, workers_of: str) -> None:
    """``--ray``/``--workers`` are checked (Ray installed, a known address) before anything;
    ``workers_of`` says what the workers are for, in the error of ``--workers`` alone."""
    if ray is None:
        if workers is not None:
            raise ConfigError(f"--workers sets the {workers_of} on Ray: add --ray")
        return
    from chatsim.distributed import check_address  # loads no Ray unless --ray is given

    check_address(ray, workers)
