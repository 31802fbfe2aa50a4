"""The conversation and run configuration: frozen, JSON-serialisable, secret-free.

Precedence everywhere: explicit argument > environment variable > default. Secrets (API keys)
are never part of this object: adapters read them from the environment (or from an explicit
``api_key`` argument kept outside the config), so the header can store the config as it is.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "CONDITIONS",
    "DEFAULT_MAX_ERROR_SHARE",
    "DEFAULT_SYSTEM_PROMPT",
    "DEFAULT_TARGET_TEMPERATURE",
    "Condition",
    "ConversationConfig",
    "RunConfig",
]

#: ChatBench's assistant system prompt.
DEFAULT_SYSTEM_PROMPT = "You are a helpful AI assistant."
#: ChatBench's assistant temperature.
DEFAULT_TARGET_TEMPERATURE = 0.7
#: A model whose episodes ended in errors more often than this fails the run. Errored episodes
#: are left out of accuracy, and errors are not random (long conversations time out more), so
#: past a fifth of the episodes the accuracy describes a different set of conversations.
DEFAULT_MAX_ERROR_SHARE = 0.2

#: ChatBench's study conditions. ``direct-to-AI``: the user talks to the assistant straight
#: away (the protocol of DESIGN.md §1). ``answer-first``: the user first answers alone, then
#: talks to the assistant and answers again (both answers recorded). ``user-alone``: the user
#: answers alone and the assistant is never called.
Condition = Literal["direct-to-AI", "answer-first", "user-alone"]
CONDITIONS: tuple[Condition, ...] = ("direct-to-AI", "answer-first", "user-alone")


class ConversationConfig(BaseModel):
    """What every conversation needs, validated once: the questions, the simulator and its
    endpoint, the assistant's prompt and sampling, endpoints and call policy, and limits.

    ``RunConfig`` (``chatsim run``) and ``LoadTestConfig`` (``chatsim loadtest``) extend it with
    only what is theirs, so a value one command refuses, the other refuses too.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = "chatbench"
    """A subset name, ``hf:<subject>``, or a CSV/JSONL file of questions."""
    selection: str = "redux-ok"
    """Which bundled questions: ``redux-ok`` (default), ``redux``, ``all``."""
    seed: int = 0
    """Seed: episode seeds derive from it, the same for every model (paired comparison); a
    load test's arrivals, question order and think times too."""
    simulator: str = "scripted"
    """Simulator spec: ``hf:<base>+<adapter>``, ``served:<model>``, ``prompted:<model spec>``,
    ``scripted``."""
    simulator_base_url: str | None = None
    """Endpoint of a served or prompted simulator; defaults to ``base_url``."""
    simulator_temperature: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 1.0
    """Simulator sampling temperature (the paper: 1.0)."""
    simulator_max_tokens: Annotated[int, Field(ge=1)] = 256
    """Cap on tokens per simulated user turn."""
    prompt_format: str | None = None
    """Prompt format name or file; None picks the simulator's natural format."""
    max_turns: Annotated[int, Field(ge=1)] = 10
    """User messages before the simulator is asked only for its answer."""
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT
    """The assistant's system prompt; None sends none."""
    target_temperature: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = (
        DEFAULT_TARGET_TEMPERATURE
    )
    """The assistant's temperature; None leaves the provider default."""
    target_max_tokens: Annotated[int, Field(ge=1)] | None = None
    """Cap on assistant reply tokens."""
    base_url: str | None = None
    """Base URL of the target endpoint (``vllm:`` and other OpenAI-compatible servers)."""
    stream: bool = True
    """Stream assistant replies (needed for time to first token)."""
    episode_timeout: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = 1800.0
    """Seconds one episode may take in all; None for no deadline."""
    target_options: dict[str, Any] = Field(default_factory=dict)
    """Adapter options (for the OpenAI adapter e.g. ``{"transport": "sdk"}``)."""
    policy: dict[str, Any] = Field(default_factory=dict)
    """Overrides of the target call policy (retries, timeouts, rate limits)."""
    simulator_options: dict[str, Any] = Field(default_factory=dict)
    """Backend options for the simulator: for ``hf:`` dtype, batch size, ``context_tokens``, ...;
    for ``served:`` ``context_tokens`` (default: the server's ``max_model_len``) and ``seed``
    (send each turn's seed; recorded even when not given, so a header says which it was)."""

    @model_validator(mode="before")
    @classmethod
    def _served_seed_recorded(cls, data: Any) -> Any:
        """A served simulator's seed setting is part of the experiment: made explicit."""
        if not isinstance(data, dict) or not str(data.get("simulator", "")).startswith("served:"):
            return data
        options = data.get("simulator_options")
        if options is None:
            options = {}
        if not isinstance(options, dict) or "seed" in options:
            return data  # validation reports a bad type; a given seed stays as given
        return {**data, "simulator_options": {**options, "seed": True}}


class RunConfig(ConversationConfig):
    """Everything that determines which episodes a run schedules and how they behave.

    Resume compares the ``resume_key()`` of a new config with the header's: a run can only be
    continued with the same questions, models, simulator and protocol settings.
    """

    models: Annotated[tuple[str, ...], Field(min_length=1)]
    """Target model specs, e.g. ``("gpt-4o", "vllm:llama")``."""
    limit: Annotated[int, Field(ge=1)] | None = None
    """At most this many questions (seeded, stratified sample)."""
    question_seed: int = 0
    """Seed of the question sample."""
    repeats: Annotated[int, Field(ge=1)] = 1
    """Conversations per question and model (the paper used 10)."""
    condition: Condition = "direct-to-AI"
    """ChatBench's study condition (``CONDITIONS``): ``direct-to-AI``, ``answer-first``
    (answer alone first, then converse), or ``user-alone`` (no assistant calls)."""
    concurrency: Annotated[int, Field(ge=1)] = 32
    """Assistant calls in flight at once, per target."""
    max_episodes_in_flight: Annotated[int, Field(ge=1)] | None = None
    """Episodes running at once; None sizes it from the concurrency and the simulator's batch."""
    baseline: tuple[Literal["zero_shot", "five_shot", "free_text"], ...] = ()
    """AI-alone baseline modes to measure too (``zero_shot``, ``five_shot``, ``free_text``);
    empty for none. Not part of the resume check: a baseline can be added to a finished run."""
    max_error_share: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = (
        DEFAULT_MAX_ERROR_SHARE
    )
    """The run fails (``chatsim run`` exits 4, ``evaluate`` raises ``RunFailedError``) when any
    model has more than this share of its episodes ended in errors (target, simulator,
    timeout); a model whose every episode failed fails the run whatever the share. Judged on
    the records, so a resume with ``--retry-errors`` can clear it. Not part of the resume
    check."""

    @field_validator("models")
    @classmethod
    def _distinct_models(cls, models: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({m for m in models if models.count(m) > 1})
        if repeated:
            raise ValueError(f"each model may be given once; repeated: {', '.join(repeated)}")
        return models

    def resume_key(self) -> dict[str, Any]:
        """The fields that must match for a resume to continue the same experiment."""
        return self.model_dump(
            mode="json",
            include={
                "models",
                "source",
                "selection",
                "limit",
                "question_seed",
                "repeats",
                "condition",
                "seed",
                "simulator",
                "simulator_temperature",
                "simulator_max_tokens",
                "prompt_format",
                "max_turns",
                "system_prompt",
                "target_temperature",
                "target_max_tokens",
            },
        )
