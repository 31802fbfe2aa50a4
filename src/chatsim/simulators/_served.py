"""The fine-tuned simulator behind an OpenAI-compatible server: ``--simulator served:<model>``.

For the ChatBench LoRA served by vLLM::

    vllm serve mistralai/Mistral-7B-v0.1 --enable-lora \\
        --lora-modules chatbench=microsoft/chatbench-mistral-7b
    chatsim run ... --simulator served:chatbench --simulator-base-url http://HOST:8000/v1

The same plain-text prompts as the local backend go to ``POST {base_url}/completions`` with
``stop`` at ``[END]`` (and at the turn labels, so a rambling model stops early), the
temperature, ``max_tokens`` and a per-turn seed (``send_seed=False`` leaves it out, for servers
that refuse or ignore ``seed``). Each turn is one HTTP call through a
``TargetCaller``, so retries, timeouts, concurrency limits and recorded attempts are the core's,
as for any target. Not batched (the server batches); a batch of turns runs concurrently.

The HTTP client is ``chatsim.targets._completions.CompletionsAdapter`` (one shared aiohttp
session, no SDK), written like any target adapter against the adapter kit: its errors come
from the one status mapping (``chatsim.targets.kit.error_for_status``).

Context: the server's own limit, read once before the first turn from its ``GET /models``
(vLLM's ``max_model_len``, a LoRA's through its base model; ``_served_limits``), unless
``context_tokens`` fixes it; 2,048 (the hf: backend's default) with a warning when the server
does not say. Without a local tokenizer, prompts are trimmed (protocol rule) to that context
minus ``max_tokens`` by an estimate of 3 bytes per token, so a 1,024-token server is not sent
prompts it must refuse. Text that tokenizes worse (digits, LaTeX, non-Latin scripts) can
still exceed it; when the server refuses a prompt for its length, the turn is rebuilt once at
the worst case, one token per byte (byte-fallback tokenizers such as Mistral's never need
more), and sent again. Both calls' attempts are recorded.
"""

from __future__ import annotations

import math
import os
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Final, Literal

import anyio

from chatsim._exceptions import AuthenticationError, PermanentError, SimulatorError, TargetError
from chatsim._logging import get_logger
from chatsim._util._clock import Clock, MonotonicWallClock
from chatsim._util._urls import require_http_url
from chatsim.protocol import PromptFormat, clean_generated
from chatsim.recording._records import AttemptRecord
from chatsim.simulators._batcher import BatchItemErrors
from chatsim.simulators._contract import SimulatorBackend, UserTurn, UserTurnRequest
from chatsim.simulators._hf_prompt import build_prompt, resolve_text_format, stop_strings
from chatsim.simulators._served_limits import fetch_max_model_len
from chatsim.targets import CallPolicy, TargetCaller, TargetRequest
from chatsim.targets._completions import CompletionsAdapter
from chatsim.targets._http_errors import is_context_length_error

__all__ = ["CompletionsAdapter", "ServedSimulator", "create_served_simulator"]

#: Environment variable with the served simulator's API key, when its server wants one.
API_KEY_ENV = "CHATSIM_SIMULATOR_API_KEY"
#: The context assumed when the server does not report one (the hf: backend's default too).
DEFAULT_CONTEXT_TOKENS: Final = 2048

#: Reads the server's context length once: ``(tokens or None, why)``.
ContextProbe = Callable[[], Awaitable[tuple[int | None, str]]]

_log = get_logger("chatsim.simulators")


def estimate_tokens(text: str) -> int:
    """A token count without a tokenizer: 3 UTF-8 bytes per token (English prose needs ~4)."""
    return math.ceil(len(text.encode("utf-8")) / 3)


def worst_case_tokens(text: str) -> int:
    """At most one token per UTF-8 byte, plus the beginning-of-sequence token."""
    return len(text.encode("utf-8")) + 1


def _numbered(attempts: list[AttemptRecord]) -> list[AttemptRecord]:
    """One turn's attempts across both calls, numbered in order."""
    if all(a.index == i for i, a in enumerate(attempts)):
        return attempts
    return [a.model_copy(update={"index": i}) for i, a in enumerate(attempts)]


class ServedSimulator(SimulatorBackend):
    """The LoRA (or any completion model) on an OpenAI-compatible server (module doc)."""

    batched = False
    max_batch_size = 1_000_000

    def __init__(
        self,
        caller: TargetCaller,
        prompt_format: PromptFormat,
        *,
        spec: str,
        temperature: float = 1.0,
        max_tokens: int = 256,
        context_tokens: int | None = DEFAULT_CONTEXT_TOKENS,
        send_seed: bool = True,
        context_probe: ContextProbe | None = None,
    ) -> None:
        """``context_tokens``: the server's context (None: never trim); with a
        ``context_probe``, the fallback until the probe has read the server's own, before the
        first turn. ``send_seed``: whether requests carry the turn's seed."""
        _check_context(context_tokens, max_tokens)
        self.caller = caller
        self.format = resolve_text_format(prompt_format)
        self.spec = spec
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.context_tokens = context_tokens
        self.send_seed = send_seed
        self._probe = context_probe
        self._probe_lock = anyio.Lock()
        self._unusable: str | None = None
        self._stops = tuple(stop_strings(self.format))

    async def _read_context(self) -> None:
        """Ask the server for its context length, once (concurrent first turns wait)."""
        async with self._probe_lock:
            probe, self._probe = self._probe, None
            if probe is None:
                return
            found, why = await probe()
            if found is None:
                _log.warning(
                    "served simulator context length unknown; using the default",
                    simulator=self.spec,
                    context_tokens=self.context_tokens,
                    why=why,
                    hint="set it with --simulator-option context_tokens=N",
                )
                return
            try:
                _check_context(found, self.max_tokens)
            except SimulatorError as exc:  # every turn fails with this explanation
                self._unusable = f"served simulator {self.spec}: the server's {exc}"
                return
            self.context_tokens = found
            _log.info(
                "served simulator context length read from the server",
                simulator=self.spec,
                context_tokens=found,
            )

    def _prompt(
        self, request: UserTurnRequest, counter: Callable[[str], int] = estimate_tokens
    ) -> tuple[str, bool]:
        budget = None if self.context_tokens is None else self.context_tokens - self.max_tokens
        count = None if budget is None else counter
        return build_prompt(self.format, request, count_tokens=count, budget=budget)

    def _request(self, prompt: str, request: UserTurnRequest) -> TargetRequest:
        return TargetRequest(
            messages=(),
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            seed=request.seed % 2**31 if self.send_seed else None,
            stream=False,
            stop=self._stops,
            extra={"prompt": prompt},
        )

    async def _one(self, request: UserTurnRequest) -> UserTurn:
        prompt, trimmed = self._prompt(request)
        earlier: list[AttemptRecord] = []  # a refused first try's attempts
        try:
            try:
                reply = await self.caller.call(self._request(prompt, request))
            except PermanentError as exc:
                if not (is_context_length_error(exc) and self.context_tokens is not None):
                    raise
                earlier = list(exc.attempts)
                prompt, trimmed = self._prompt(request, worst_case_tokens)
                reply = await self.caller.call(self._request(prompt, request))
        except AuthenticationError as exc:  # stops the run, like a target's refused key
            raise AuthenticationError(
                f"simulator {self.spec}: {exc}", status_code=exc.status_code
            ) from exc
        except TargetError as exc:
            raise SimulatorError(
                f"served simulator {self.spec} failed: {exc}",
                attempts=_numbered([*earlier, *exc.attempts]),
            ) from exc
        return UserTurn(
            text=clean_generated(reply.text, self.format.stop, self.format.labels),
            usage=reply.usage,
            started_at=reply.started_at,
            ended_at=reply.ended_at,
            queue_time=reply.queue_time,
            context_trimmed=trimmed,
            attempts=_numbered([*earlier, *reply.attempts]),
        )

    async def generate(self, requests: Sequence[UserTurnRequest]) -> list[UserTurn]:
        if self._probe is not None:
            await self._read_context()
        if self._unusable is not None:
            raise SimulatorError(self._unusable)
        return await generate_each(self._one, requests)

    def describe_prompt(self, request: UserTurnRequest) -> str:
        return self._prompt(request)[0]

    async def aclose(self) -> None:
        await self.caller.aclose()


async def generate_each(
    one: Callable[[UserTurnRequest], Awaitable[UserTurn]], requests: Sequence[UserTurnRequest]
) -> list[UserTurn]:
    """``one`` on every request at once: the turns in order, or the one turn's error, or
    ``BatchItemErrors`` when only some failed; a refused key (``AuthenticationError``) stops
    them all and is raised as it is."""
    results: list[UserTurn | SimulatorError] = [SimulatorError("not run")] * len(requests)

    async def run(index: int) -> None:
        try:
            results[index] = await one(requests[index])
        except SimulatorError as exc:
            results[index] = exc

    try:
        async with anyio.create_task_group() as tg:
            for index in range(len(requests)):
                tg.start_soon(run, index)
    except* AuthenticationError as group:
        raise group.exceptions[0] from None
    turns = [r for r in results if isinstance(r, UserTurn)]
    if len(turns) == len(results):
        return turns
    if len(results) == 1:
        raise results[0]  # type: ignore[misc]  # the one result is an error here
    raise BatchItemErrors(results)


def _check_context(context_tokens: int | None, max_tokens: int) -> None:
    if context_tokens is not None and context_tokens <= max_tokens:
        raise SimulatorError(
            f"context_tokens ({context_tokens}) must exceed max_tokens ({max_tokens}): "
            "lower the simulator's max tokens (--simulator-max-tokens)"
        )


def create_served_simulator(
    model: str,
    *,
    base_url: str,
    api_key: str | None = None,
    temperature: float = 1.0,
    max_tokens: int = 256,
    prompt_format: str | PromptFormat = "chatbench-text-v1",
    context_tokens: int | Literal["server"] | None = "server",
    send_seed: bool = True,
    policy: CallPolicy | None = None,
    clock: Clock | None = None,
) -> ServedSimulator:
    """A served simulator for ``model`` at ``base_url`` (e.g. ``http://127.0.0.1:8000/v1``).

    ``api_key`` defaults to ``$CHATSIM_SIMULATOR_API_KEY`` (vLLM needs none unless started
    with ``--api-key``). ``context_tokens``: ``"server"`` reads the server's ``max_model_len``
    from ``GET /models`` before the first turn (2,048 when it does not say), a number fixes it,
    None never trims. ``send_seed=False`` sends no ``seed``. ``policy`` sets retries, timeouts
    and concurrency (the core's default otherwise).
    """
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    base_url = require_http_url(base_url, "the served simulator's base URL (--simulator-base-url)")
    adapter = CompletionsAdapter(base_url, model, api_key=key)
    caller = TargetCaller(
        adapter, policy, clock=clock or MonotonicWallClock(), name=f"served:{model}"
    )
    probe = None
    if context_tokens == "server":
        context_tokens = DEFAULT_CONTEXT_TOKENS
        probe = partial(fetch_max_model_len, base_url, model, api_key=key)
    return ServedSimulator(
        caller,
        resolve_text_format(prompt_format),
        spec=f"served:{model}",
        temperature=temperature,
        max_tokens=max_tokens,
        context_tokens=context_tokens,
        send_seed=send_seed,
        context_probe=probe,
    )
