"""``chatsim run``'s options turned into a prepared run: the config (new, or the stored one
with the options applied), the checks of ``--ray``, and ``prepare_run``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chatsim._exceptions import ConfigError, RunDirectoryError
from chatsim.cli._options import key_values
from chatsim.recording import read_header
from chatsim.runner import RunConfig, RunSetup, prepare_run
from chatsim.simulators._registry import choose_simulator

__all__ = ["build_config", "config_overrides", "prepare"]


def config_overrides(**given: Any) -> dict[str, Any]:
    """The options the user actually gave (typer defaults are all None)."""
    return {key: value for key, value in given.items() if value is not None}


# Config fields whose CLI flag has another name.
_FLAGS = {
    "models": "model",
    "source": "subset",
    "target_temperature": "temperature",
    "target_max_tokens": "max-tokens",
}


def _flag(loc: tuple[int | str, ...]) -> str:
    field = str(loc[0]) if loc else "?"
    return _FLAGS.get(field, field.replace("_", "-"))


def _policy_overrides(pairs: list[str], **named: Any) -> dict[str, Any]:
    """``--policy KEY=VALUE`` pairs plus the named policy flags that were given."""
    found = key_values(pairs, "--policy")
    found.update({k: v for k, v in named.items() if v is not None})
    return found


#: Config fields given as repeatable KEY=VALUE options: on resume they merge onto the header's.
_MERGED_FIELDS = ("simulator_options", "policy")


def build_config(overrides: dict[str, Any], resume: Path | None) -> RunConfig:
    """A new run's config (defaults + options), or the stored config with the options applied.

    On resume, options that differ from the header are kept so that the resume check can say
    exactly what differs. Key-value options (``--simulator-option``, ``--policy``) merge key
    by key onto the stored ones: a resume that gives one option keeps the others as recorded
    (a stored ``seed: false`` does not revert to the default).
    """
    if resume is not None:
        stored = read_header(resume).config
        if not isinstance(stored, RunConfig):
            raise RunDirectoryError(f"{resume} is a load test; only evaluation runs can be resumed")
        values = {**stored.model_dump(mode="json"), **overrides}
        for field in _MERGED_FIELDS:
            if field in overrides:
                values[field] = {**getattr(stored, field), **overrides[field]}
    elif "models" not in overrides:
        raise ConfigError("no model given: pass --model (e.g. --model gpt-4o), or --resume RUN_DIR")
    else:
        values = dict(overrides)
        if "simulator" not in values:  # only now may torch be imported to look for a GPU
            values["simulator"] = choose_simulator(None, overrides["models"]).spec
    try:
        return RunConfig.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"--{_flag(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid options: {problems}") from None


def prepare(
    overrides: dict[str, Any],
    resume: Path | None,
    out: Path,
    run_id: str | None,
    policy: list[str] | None,
    simulator_option: list[str] | None,
    named: dict[str, Any],
    target_option: list[str] | None = None,
    on_ray: bool = False,
) -> RunSetup:
    """Options -> validated config -> a prepared run (nothing written yet)."""
    policy_overrides = _policy_overrides(policy or [], **named)
    if policy_overrides:
        overrides["policy"] = policy_overrides
    if simulator_option:
        overrides["simulator_options"] = key_values(simulator_option, "--simulator-option")
    if target_option:
        overrides["target_options"] = key_values(target_option, "--target-option")
    choice = None
    if resume is None and "models" in overrides:  # a resume keeps the header's choice
        choice = choose_simulator(overrides.get("simulator"), overrides["models"])
        overrides["simulator"] = choice.spec
    config = build_config(overrides, resume)
    return prepare_run(
        config,
        out_dir=out,
        run_id=run_id,
        resume_dir=resume,
        simulator_choice=choice,
        on_ray=on_ray,
    )
