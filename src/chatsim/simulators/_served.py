"""The fine-tuned simulator behind an OpenAI-compatible server: ``--simulator served:<model>``.

For the ChatBench LoRA served by vLLM::

    vllm serve mistralai/Mistral-7B-v0.1 --enable-lora \\
        --lora-modules chatbench=microsoft/chatbench-mistral-7b
    chatsim run ... --simulator served:chatbench --simulator-base-url http://HOST:8000/v1

The same plain-text prompts as the local backend go to ``POST {base_url}/completions`` with
``stop`` at ``[END]`` (and at the turn labels, so a rambling model stops early), the
temperature, ``max_tokens`` and a per-turn seed. Each turn is one HTTP call through a
``TargetCaller``, so retries, timeouts, concurrency limits and recorded attempts are the core's,
as for any target. Not batched (the server batches); a batch of turns runs concurrently.

Hot path: one shared aiohttp session, no SDK (DESIGN.md §4: raw aiohttp costs ~0.35 ms of
client CPU per call, the openai SDK several ms).

Context: without a local tokenizer, prompts are trimmed (protocol rule) to ``context_tokens``
minus ``max_tokens`` by an estimate of 3 bytes per token, so a 2,048-token LoRA server is not
sent prompts it must refuse. Text that tokenizes worse (digits, LaTeX, non-Latin scripts) can
still exceed it; when the server refuses a prompt for its length, the turn is rebuilt once at
the worst case, one token per byte (byte-fallback tokenizers such as Mistral's never need
more), and sent again. Both calls' attempts are recorded.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import anyio

from chatsim._exceptions import (
    AuthenticationError,
    PermanentError,
    RateLimitError,
    SimulatorError,
    TargetError,
    TransientError,
)
from chatsim._util._clock import Clock, MonotonicWallClock
from chatsim._util._redact import keep_recorded_headers, register_secret, scrub
from chatsim._util._urls import require_http_url
from chatsim.protocol import PromptFormat, clean_generated
from chatsim.recording._records import AttemptRecord, Usage
from chatsim.simulators._batcher import BatchItemErrors
from chatsim.simulators._contract import SimulatorBackend, UserTurn, UserTurnRequest
from chatsim.simulators._hf_prompt import build_prompt, resolve_text_format, stop_strings
from chatsim.targets import AdapterReply, CallPolicy, TargetAdapter, TargetCaller, TargetRequest

__all__ = ["CompletionsAdapter", "ServedSimulator", "create_served_simulator"]

#: Environment variable with the served simulator's API key, when its server wants one.
API_KEY_ENV = "CHATSIM_SIMULATOR_API_KEY"


def estimate_tokens(text: str) -> int:
    """A token count without a tokenizer: 3 UTF-8 bytes per token (English prose needs ~4)."""
    return math.ceil(len(text.encode("utf-8")) / 3)


def worst_case_tokens(text: str) -> int:
    """At most one token per UTF-8 byte, plus the beginning-of-sequence token."""
    return len(text.encode("utf-8")) + 1


_TOO_LONG = re.compile(r"context.length|maximum model length|prompt .*too long", re.IGNORECASE)


def refused_for_length(error: TargetError) -> bool:
    """The server's 400 for a prompt beyond its context (vLLM's and OpenAI's wordings)."""
    return error.status_code == 400 and _TOO_LONG.search(str(error)) is not None


def _error(status: int, body: bytes, headers: dict[str, str]) -> TargetError:
    try:
        detail = json.loads(body).get("error", {})
        message = detail.get("message") if isinstance(detail, dict) else str(detail)
    except (ValueError, AttributeError):
        message = None
    text = scrub(f"HTTP {status} from the simulator server: {message or body[:200]!r}")
    request_id = headers.get("x-request-id")
    kw: dict[str, Any] = {"status_code": status, "request_id": request_id, "headers": headers}
    if status == 429:
        return RateLimitError(text, **kw)
    if status in (401, 403):
        return AuthenticationError(text, **kw)
    if status in (408, 409) or status >= 500:
        return TransientError(text, **kw)
    return PermanentError(text, **kw)


class CompletionsAdapter(TargetAdapter):
    """One ``POST /completions`` attempt; the prompt travels in ``request.extra["prompt"]``."""

    name = "completions"

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None) -> None:
        self.url = base_url.rstrip("/") + "/completions"
        self.model = model
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            register_secret(api_key)
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._session: aiohttp.ClientSession | None = None

    def _body(self, request: TargetRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "prompt": request.extra["prompt"]}
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.seed is not None:
            body["seed"] = request.seed
        if request.stop:
            body["stop"] = list(request.stop)
        return body

    async def complete(self, request: TargetRequest, *, now: Callable[[], float]) -> AdapterReply:
        if self._session is None:  # created inside the event loop, on first use
            # No connection cap here: the TargetCaller's limit is the one that counts.
            connector = aiohttp.TCPConnector(limit=0)
            self._session = aiohttp.ClientSession(connector=connector, headers=self._headers)
        try:
            async with self._session.post(self.url, data=json.dumps(self._body(request))) as resp:
                raw = await resp.read()
                headers = keep_recorded_headers(resp.headers)
                status = resp.status
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise TransientError(f"simulator server connection failed: {exc!r}") from exc
        if status >= 400:
            raise _error(status, raw, headers)
        return _reply(raw, headers)

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def describe_request(self, request: TargetRequest) -> dict[str, Any]:
        return {"url": self.url, "body": self._body(request)}


def _reply(raw: bytes, headers: dict[str, str]) -> AdapterReply:
    try:
        data = json.loads(raw)
        choice = data["choices"][0]
        text = choice["text"]
        usage_raw = data.get("usage") or {}
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        # A proxy or a restarting server: worth a retry.
        raise TransientError(
            f"malformed completion from the simulator server: {raw[:200]!r}"
        ) from exc
    usage = Usage(
        prompt_tokens=int(usage_raw.get("prompt_tokens") or 0),
        completion_tokens=int(usage_raw.get("completion_tokens") or 0),
    )
    return AdapterReply(
        text=text,
        usage=usage if usage_raw else None,
        finish_reason=choice.get("finish_reason"),
        request_id=headers.get("x-request-id"),
        headers=headers,
    )


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
        context_tokens: int | None = 2048,
    ) -> None:
        if context_tokens is not None and context_tokens <= max_tokens:
            raise SimulatorError(
                f"context_tokens ({context_tokens}) must exceed max_tokens ({max_tokens})"
            )
        self.caller = caller
        self.format = resolve_text_format(prompt_format)
        self.spec = spec
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.context_tokens = context_tokens
        self._stops = tuple(stop_strings(self.format))

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
            seed=request.seed % 2**31,
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
                if not (refused_for_length(exc) and self.context_tokens is not None):
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
        results: list[UserTurn | SimulatorError] = [SimulatorError("not run")] * len(requests)

        async def run(index: int) -> None:
            try:
                results[index] = await self._one(requests[index])
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

    def describe_prompt(self, request: UserTurnRequest) -> str:
        return self._prompt(request)[0]

    async def aclose(self) -> None:
        await self.caller.aclose()


def create_served_simulator(
    model: str,
    *,
    base_url: str,
    api_key: str | None = None,
    temperature: float = 1.0,
    max_tokens: int = 256,
    prompt_format: str | PromptFormat = "chatbench-text-v1",
    context_tokens: int | None = 2048,
    policy: CallPolicy | None = None,
    clock: Clock | None = None,
) -> ServedSimulator:
    """A served simulator for ``model`` at ``base_url`` (e.g. ``http://127.0.0.1:8000/v1``).

    ``api_key`` defaults to ``$CHATSIM_SIMULATOR_API_KEY`` (vLLM needs none unless started
    with ``--api-key``). ``policy`` sets retries, timeouts and concurrency (the core's default
    otherwise).
    """
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    base_url = require_http_url(base_url, "the served simulator's base URL (--simulator-base-url)")
    adapter = CompletionsAdapter(base_url, model, api_key=key)
    caller = TargetCaller(
        adapter, policy, clock=clock or MonotonicWallClock(), name=f"served:{model}"
    )
    return ServedSimulator(
        caller,
        resolve_text_format(prompt_format),
        spec=f"served:{model}",
        temperature=temperature,
        max_tokens=max_tokens,
        context_tokens=context_tokens,
    )
