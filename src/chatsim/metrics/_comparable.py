"""Is a comparison of two runs a comparison of models? One pure function says.

A difference in accuracy between runs made with different simulators, turn limits, questions
or seeds mixes the effect of the model with the effect of the set-up, and no interval can tell
them apart. ``run_differences`` lists every set-up field on which runs differ (each run
against the first); ``check_comparable`` refuses them unless the caller allows them by name,
and returns the allowed ones so that they can be shown above the verdict.

What is compared (``COMPARED_FIELDS``), and why: anything that changes the distribution of
the answers other than the model under test.

- ``kind``: an evaluation and a load test schedule different conversations.
- ``simulator``, ``simulator_temperature``, ``simulator_max_tokens``, ``prompt_format``: the
  simulated user is half of every conversation; a stronger user lifts every model.
- ``simulator_options``: the simulator's backend options (a served simulator's seed sending
  and context length, an hf: one's 8-bit loading, dtype, context, scheduler, ...) change the
  simulated user too: its turns, its trimming, its reproducibility. Compared as recorded,
  key by key (an option set to its default still differs from one left unset).
- ``schema_version``: the record schema says how times are measured (version 2 added the send
  time that latency "from send" uses), so latencies across schemas are not alike.
- ``condition``: the study condition (direct-to-AI, answer-first, user-alone) is a different
  experiment: a user-alone accuracy is not a user-AI one.
- ``max_turns``: more turns, more chances to recover (or to be talked out of) an answer.
- ``questions``: the question set (its fingerprint, else how it was selected); accuracy
  depends on which questions were asked.
- ``repeats`` and ``seeds``: the run seed fixes every episode's simulator seed; paired episodes
  of two models start from the same simulated user only when seeds agree.
- ``system_prompt``, ``target_temperature``, ``target_max_tokens``: how the assistant is
  asked; the same for every model of one run, so a difference across runs is a confound.

Not compared: the models (the point of a comparison), endpoints, concurrency, retry policy,
streaming, timeouts and adapter options (they change latency and errors, not what a
recorded answer is), the AI-alone baseline modes, and package versions.

Episode lists without a header are checked on what their records carry: the simulator, the
schema version and the seed of every shared (question, repeat) pair.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from chatsim._exceptions import ConfigError
from chatsim._util._compared_fields import COMPARED_FIELDS  # light: `compare --help` lists them
from chatsim.recording._records import EpisodeRecord, RunHeader

if TYPE_CHECKING:
    import pyarrow as pa

    from chatsim.metrics._frame import Frame

__all__ = [
    "COMPARED_FIELDS",
    "AllowDifferent",
    "Difference",
    "IncomparableRunsError",
    "RunFacts",
    "check_comparable",
    "run_differences",
]

AllowDifferent = Iterable[str] | Literal["all"]

# The prompt format a simulator kind uses when the run named none (simulators._registry).
_NATURAL_FORMAT = {"hf": "chatbench-text-v1", "served": "chatbench-text-v1",
                   "prompted": "chatbench-chat-v1", "scripted": "none (scripted)"}  # fmt: skip


class Difference(BaseModel):
    """One set-up field on which two runs differ."""

    model_config = ConfigDict(frozen=True)

    field: str
    """The field's name (one of ``COMPARED_FIELDS``): what ``allow_different`` takes."""
    a_run: str
    """The run the others are compared with (the first)."""
    a: str
    """Its value, in words."""
    b_run: str
    b: str

    def describe(self) -> str:
        """``field: A value (run A) vs B value (run B)``."""
        return f"{self.field}: {self.a} ({self.a_run}) vs {self.b} ({self.b_run})"


class IncomparableRunsError(ConfigError):
    """The runs differ in their set-up; ``differences`` says where."""

    def __init__(self, message: str, differences: Sequence[Difference]) -> None:
        super().__init__(message)
        self.differences = list(differences)


@dataclass(frozen=True)
class RunFacts:
    """What one compared run is made of: its name, header (None for a bare episode list) and
    its episodes' facts table (``chatsim.metrics.facts_table``), or the records themselves."""

    name: str
    header: RunHeader | None
    facts: pa.Table | Sequence[EpisodeRecord]

    @cached_property
    def frame(self) -> Frame:
        """The facts as a frame, built once (its columns are converted on first use)."""
        from chatsim.metrics._frame import Frame, frame_of  # lazy: pyarrow

        if isinstance(self.facts, Sequence):
            return frame_of(self.facts)
        return Frame(self.facts)


def _text(value: Any) -> str:
    return "none" if value is None else repr(value) if isinstance(value, str) else str(value)


def _prompt_format(config: Any) -> str:
    name = getattr(config, "prompt_format", None)
    if name is None:
        kind = str(getattr(config, "simulator", "")).partition(":")[0]
        return _NATURAL_FORMAT.get(kind, "the simulator's default")
    return str(name)


def _options(options: dict[str, Any]) -> str:
    """Backend options in words, in key order so that equal options read alike."""
    if not options:
        return "none"
    return ", ".join(f"{key}={json.dumps(options[key])}" for key in sorted(options))


def _questions(header: RunHeader) -> str:
    cfg = header.config
    how = f"{cfg.source}, selection {cfg.selection}"
    limit = getattr(cfg, "limit", None)
    if limit is not None:
        how += f", limit {limit}, question seed {getattr(cfg, 'question_seed', 0)}"
    digest = header.questions_digest
    return how if digest is None else f"{how} [fingerprint {digest[:10]}]"


def _header_facts(header: RunHeader) -> dict[str, str]:
    cfg = header.config
    return {
        "kind": header.kind,
        "simulator": _text(cfg.simulator),
        "simulator_temperature": _text(cfg.simulator_temperature),
        "simulator_max_tokens": _text(cfg.simulator_max_tokens),
        "prompt_format": _prompt_format(cfg),
        "simulator_options": _options(cfg.simulator_options),
        "schema_version": str(header.schema_version),
        "condition": str(getattr(cfg, "condition", "direct-to-AI")),
        "max_turns": str(cfg.max_turns),
        "questions": _questions(header),
        "repeats": _text(getattr(cfg, "repeats", None)),
        "seeds": f"run seed {header.seed}",
        "system_prompt": _text(cfg.system_prompt),
        "target_temperature": _text(cfg.target_temperature),
        "target_max_tokens": _text(cfg.target_max_tokens),
    }


def _episode_facts(frame: Frame) -> dict[str, str]:
    sims = sorted(frame.strings("simulator"))
    schemas = np.unique(frame.values("schema_version")).tolist()
    return {
        "simulator": ", ".join(map(repr, sims)) or "none",
        "schema_version": ", ".join(map(str, schemas)) or "none",
        "condition": ", ".join(sorted(frame.strings("condition"))) or "none",
    }


def _seed_difference(a: RunFacts, b: RunFacts) -> Difference | None:
    """Shared (question, repeat) pairs whose simulator seeds differ between the runs."""
    from chatsim.metrics._pairing import keyed, paired  # lazy: pyarrow

    keys = ("question_id", "repeat")
    sides = [keyed(r.frame, keys, ["seed"], np.ones(len(r.frame), np.bool_)) for r in (a, b)]
    shared = paired(sides[0], sides[1], keys)
    differ = int(np.count_nonzero(shared["seed_a"].to_numpy() != shared["seed_b"].to_numpy()))
    if not differ:
        return None
    note = (
        f"{differ} of {shared.num_rows} shared (question, repeat) pairs with other simulator seeds"
    )
    return Difference(field="seeds", a_run=a.name, a="its episode seeds", b_run=b.name, b=note)


def run_differences(runs: Sequence[RunFacts]) -> list[Difference]:
    """Every compared field on which a run differs from the first, in field order per run.

    Runs with headers are compared on all of ``COMPARED_FIELDS``; where either side is a bare
    episode list, on what its records carry. Seeds are also checked episode by episode.
    """
    if len(runs) < 2:
        return []
    first = runs[0]
    out: list[Difference] = []
    for other in runs[1:]:
        if first.header is not None and other.header is not None:
            fa, fb = _header_facts(first.header), _header_facts(other.header)
        else:
            fa, fb = _episode_facts(first.frame), _episode_facts(other.frame)
        found = [
            Difference(field=k, a_run=first.name, a=fa[k], b_run=other.name, b=fb[k])
            for k in COMPARED_FIELDS
            if k in fa and fa[k] != fb[k]
        ]
        seeds = _seed_difference(first, other)
        if seeds is not None and not any(d.field == "seeds" for d in found):
            found.append(seeds)
        out += sorted(found, key=lambda d: COMPARED_FIELDS.index(d.field))
    return out


def _allowed(allow: AllowDifferent) -> set[str]:
    if isinstance(allow, str):  # one name (or "all", or "a,b"), not its characters
        allow = [allow]
    names = {n.strip() for name in allow for n in name.split(",") if n.strip()}
    if "all" in names:
        return set(COMPARED_FIELDS)
    unknown = sorted(names - set(COMPARED_FIELDS))
    if unknown:
        raise ConfigError(
            f"unknown field(s) to allow: {', '.join(unknown)}; valid: "
            f"{', '.join(COMPARED_FIELDS)}, or all"
        )
    return names


def check_comparable(
    differences: Sequence[Difference], allow_different: AllowDifferent = ()
) -> list[Difference]:
    """The differences ``allow_different`` allows (to show above the verdict), or
    ``IncomparableRunsError`` naming each one that is not allowed and how to allow it."""
    allowed = _allowed(allow_different)
    refused = [d for d in differences if d.field not in allowed]
    if not refused:
        return list(differences)
    fields = list(dict.fromkeys(d.field for d in refused))
    lines = "\n".join(f"  {d.describe()}" for d in refused)
    flags = " ".join(f"--allow-different {f}" for f in fields)
    message = (
        "these runs are not comparable: a difference in accuracy would mix the models with "
        f"these differences in set-up:\n{lines}\n"
        f"To compare them anyway, pass {flags} (or --allow-different all; in Python "
        f"allow_different={tuple(fields)!r}); the differences are then shown above the verdicts."
    )
    raise IncomparableRunsError(message, refused)
