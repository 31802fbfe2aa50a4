"""The Gemini adapter: one ``generate_content`` (or ``generate_content_stream``) per attempt.

One class serves both profiles: the Gemini API (``gemini:<model>``) and Vertex AI
(``vertex:<model>``); they differ only in how the SDK client is built (``_factory``,
``_vertex``) and in the resource path a request names (``models/{model}`` or
``projects/{project}/locations/{location}/publishers/google/models/{model}``).

Requests go through the official SDK's async client (``client.aio.models``), whose own retries
are off, automatic continuation (its resumption of a cut stream) included: the core retries.
The system messages become the ``system_instruction``; user and assistant turns become
``contents`` with roles ``user`` and ``model``. ``TargetRequest.extra`` adds
``GenerateContentConfig`` fields (snake case, e.g. ``top_p``, ``thinking_config``).
Every failure leaves as a chatsim error, translated in ``_errors``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
from google import genai
from google.genai import types

from chatsim import ConfigError
from chatsim.protocol import Role
from chatsim.recording import ReplyTiming, Usage
from chatsim.targets import AdapterReply, TargetAdapter, TargetRequest
from chatsim.targets.kit import (
    error_for_status,
    keep_recorded_headers,
    request_id_of,
    transient_error,
)
from chatsim_gemini._errors import FOREIGN_ERRORS, translate
from chatsim_gemini._wire import finish_reason_of, plain_body

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

    from chatsim_gemini._fast import FastTransport

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TRANSPORT",
    "TRANSPORTS",
    "GeminiAdapter",
    "finish_reason_of",
]

TRANSPORTS = ("fast", "sdk")
#: Measured (benchmarks/bench_adapters.py --only gemini): client CPU per streamed call
#: 0.7-1.1 ms with ``fast`` vs 19 ms with ``sdk`` (bare SDK 10-12 ms) at concurrency 64-512.
DEFAULT_TRANSPORT = "fast"

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/"
API_VERSION = "v1beta"


def _usage(meta: types.GenerateContentResponseUsageMetadata | None) -> Usage | None:
    """Prompt tokens, and output tokens including thinking tokens (billed as output)."""
    if meta is None:
        return None
    completion = (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)
    return Usage(prompt_tokens=meta.prompt_token_count or 0, completion_tokens=completion)


def _text_of(response: types.GenerateContentResponse) -> tuple[str, str | None]:
    """The first candidate's text (thought parts left out) and its finish reason."""
    candidate = response.candidates[0] if response.candidates else None
    if candidate is None:
        return "", None
    parts = candidate.content.parts if candidate.content and candidate.content.parts else []
    text = "".join(p.text for p in parts if p.text and not p.thought)
    return text, finish_reason_of(candidate.finish_reason)


def _blocked(response: types.GenerateContentResponse) -> str | None:
    feedback = response.prompt_feedback
    reason = feedback.block_reason if feedback is not None else None
    return None if reason is None else str(getattr(reason, "value", reason))


class GeminiAdapter(TargetAdapter):
    """Chat over the Gemini API (``gemini:<model>``) or Vertex AI (``vertex:<model>``) through
    ``google.genai.Client``."""

    def __init__(
        self,
        model: str,
        client: genai.Client,
        *,
        base_url: str = DEFAULT_BASE_URL,
        name: str = "gemini",
        http: httpx.AsyncClient | None = None,
        api_version: str = API_VERSION,
        resource: str | None = None,
        transport: str = DEFAULT_TRANSPORT,
        credentials: Credentials | None = None,
        timeout: float | None = None,
    ) -> None:
        """``http``: the client's httpx client, when the adapter owns it (closed by ``aclose``).
        ``resource``: the model's path after the API version, as the SDK builds it (default
        ``models/{model}``, the Gemini API's); shown in ``describe_request`` and errors.
        ``transport``: ``fast`` (aiohttp and ``_wire``) or ``sdk`` (the client end to end);
        ``credentials``: Vertex AI's, for the ``fast`` transport's bearer token; ``timeout``:
        its connect and read timeout in seconds."""
        if transport not in TRANSPORTS:
            raise ConfigError(
                f"unknown transport {transport!r} for the {name} adapter; use one of {TRANSPORTS}"
            )
        self.name = name
        self.model = model
        self.client = client
        self.base_url = base_url
        self.api_version = api_version
        self.resource = resource or (
            model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"
        )
        self._http = http
        self.transport = transport
        self._fast: FastTransport | None = None
        if transport == "fast":
            from chatsim_gemini._fast import FastTransport, sdk_headers
            from chatsim_gemini._vertex_auth import BearerAuth

            auth = None if credentials is None else BearerAuth(credentials)
            self._fast = FastTransport(
                provider=name, model=model, headers=sdk_headers(client), auth=auth,
                timeout=timeout,
            )  # fmt: skip

    # -- the request -------------------------------------------------------------------------

    def build_request(
        self, request: TargetRequest
    ) -> tuple[list[types.Content], types.GenerateContentConfig]:
        """``contents`` and ``config`` of the call, as the SDK takes them."""
        system: list[str] = []
        contents: list[types.Content] = []
        for message in request.messages:
            if message.role is Role.SYSTEM:
                system.append(message.content)
                continue
            role = "model" if message.role is Role.ASSISTANT else "user"
            contents.append(types.Content(role=role, parts=[types.Part(text=message.content)]))
        # No SDK-side resumption of cut or early-ended streams (continuation tokens): like its
        # HTTP retries, it would hide failures from the core, which retries once for all.
        fields: dict[str, Any] = {"automatic_continuation": False}
        if system:
            fields["system_instruction"] = "\n\n".join(system)
        if request.temperature is not None:
            fields["temperature"] = request.temperature
        if request.max_tokens is not None:
            fields["max_output_tokens"] = request.max_tokens
        if request.seed is not None:
            fields["seed"] = request.seed
        if request.stop:
            fields["stop_sequences"] = list(request.stop)
        fields.update(request.extra)
        try:
            config = types.GenerateContentConfig(**fields)
        except ValueError as exc:  # pydantic: an unknown or ill-typed extra field
            raise ConfigError(f"the gemini adapter cannot send {sorted(fields)}: {exc}") from exc
        return contents, config

    def describe_request(self, request: TargetRequest) -> dict[str, Any]:
        """Method, URL and JSON body (Gemini's REST form); the key travels in a header."""
        contents, config = self.build_request(request)
        url = self.endpoint(stream=request.stream)
        if request.stream:
            url += "?alt=sse"
        body: dict[str, Any] = {
            "contents": [c.model_dump(mode="json", exclude_none=True) for c in contents]
        }
        sdk_only = {"system_instruction", "automatic_continuation"}
        generation = config.model_dump(
            mode="json", exclude_none=True, by_alias=True, exclude=sdk_only
        )
        if config.system_instruction is not None:
            body["systemInstruction"] = {"parts": [{"text": config.system_instruction}]}
        if generation:
            body["generationConfig"] = generation
        return {"method": "POST", "url": url, "body": body}

    def endpoint(self, *, stream: bool) -> str:
        """The URL a request goes to, without its query (``?alt=sse`` when streamed)."""
        method = "streamGenerateContent" if stream else "generateContent"
        return f"{self.base_url.rstrip('/')}/{self.api_version}/{self.resource}:{method}"

    # -- one attempt -------------------------------------------------------------------------

    def rest_body(self, request: TargetRequest) -> dict[str, Any]:
        """The JSON body the ``fast`` transport sends: hand-built for chatsim's own fields, the
        SDK's converter's where ``extra`` adds config fields (it knows where each belongs)."""
        if not request.extra:
            return plain_body(request)
        from google.genai import _common, models

        contents, config = self.build_request(request)
        api = self.client._api_client
        params = types._GenerateContentParameters(
            model=self.model, contents=contents, config=config
        )
        convert = (
            models._GenerateContentParameters_to_vertex
            if api.vertexai
            else models._GenerateContentParameters_to_mldev
        )
        body = convert(api, params, None, params)
        for key in [k for k in body if k.startswith("_")] + ["config"]:
            body.pop(key, None)
        found: dict[str, Any] = _common.encode_unserializable_types(_common.convert_to_dict(body))
        return found

    async def complete(self, request: TargetRequest, *, now: Callable[[], float]) -> AdapterReply:
        kept: dict[str, str] = {}
        if self._fast is not None:
            url, body = self.endpoint(stream=request.stream), self.rest_body(request)
            try:
                return await self._fast.send(url, body, stream=request.stream, now=now)
            except FOREIGN_ERRORS as exc:  # a token refresh refused, a bad extra field, ...
                raise translate(exc, provider=self.name, model=self.model) from exc
        contents, config = self.build_request(request)
        try:
            if request.stream:
                return await self._streamed(contents, config, now, kept)
            response = await self.client.aio.models.generate_content(
                model=self.model, contents=contents, config=config
            )
            ended = now()
            kept.update(self._headers(response))
            text, reason = self._checked(response, kept, stream=False)
            return self._reply(response, text, reason, kept, ReplyTiming(ended_at=ended))
        except FOREIGN_ERRORS as exc:
            raise translate(exc, provider=self.name, headers=kept, model=self.model) from exc

    async def _streamed(
        self,
        contents: list[types.Content],
        config: types.GenerateContentConfig,
        now: Callable[[], float],
        kept: dict[str, str],
    ) -> AdapterReply:
        stream = await self.client.aio.models.generate_content_stream(
            model=self.model, contents=contents, config=config
        )
        parts: list[str] = []
        first: float | None = None
        last: float | None = None
        gap: float | None = None
        reason: str | None = None
        final: types.GenerateContentResponse | None = None
        try:
            async for chunk in stream:
                if final is None:
                    kept.update(self._headers(chunk))
                final = chunk
                text, chunk_reason = _text_of(chunk)
                if text:
                    at = now()
                    if first is None:
                        first = at
                    elif last is not None and (gap is None or at - last > gap):
                        gap = at - last
                    last = at
                    parts.append(text)
                reason = chunk_reason or reason
        finally:
            close = getattr(stream, "aclose", None)  # an async generator, typed as an iterator
            if close is not None:
                await close()
        ended = now()
        if final is None:
            raise transient_error(self.name, "the stream carried no events", headers=kept)
        if reason is None:  # Gemini streams end without a marker: a finished reply says why
            self._checked(final, kept, stream=True)
            raise transient_error(
                self.name, "the stream ended before the reply finished", headers=kept
            )
        timing = ReplyTiming(first_token_at=first, max_token_gap=gap, ended_at=ended)
        return self._reply(final, "".join(parts), reason, kept, timing)

    def _checked(
        self, response: types.GenerateContentResponse, kept: dict[str, str], *, stream: bool
    ) -> tuple[str, str | None]:
        """Text and finish reason; a blocked prompt or a reply without candidates raises."""
        blocked = _blocked(response)
        if blocked is not None:
            # A 200 whose promptFeedback refuses the prompt: permanent (the same prompt is
            # blocked again), and worded like every other, naming the model and the endpoint.
            raise error_for_status(
                200,
                "the prompt was blocked (promptFeedback.blockReason)",
                headers=kept,
                code=blocked,
                request_id=request_id_of(kept) or response.response_id,
                provider=self.name,
                endpoint=self.endpoint(stream=stream),
                model=self.model,
            )
        if not response.candidates:
            raise transient_error(self.name, "the reply carried no candidates", headers=kept)
        return _text_of(response)

    def _reply(
        self,
        response: types.GenerateContentResponse,
        text: str,
        reason: str | None,
        kept: dict[str, str],
        timing: ReplyTiming,
    ) -> AdapterReply:
        return AdapterReply(
            text=text,
            usage=_usage(response.usage_metadata),
            timing=timing,
            finish_reason=reason,
            request_id=request_id_of(kept) or response.response_id,
            headers=kept,
        )

    @staticmethod
    def _headers(response: types.GenerateContentResponse) -> dict[str, str]:
        raw = response.sdk_http_response
        headers = raw.headers if raw is not None and raw.headers else {}
        return keep_recorded_headers(headers)

    async def aclose(self) -> None:
        if self._fast is not None:
            await self._fast.aclose()
        await self.client.aio.aclose()
        if self._http is not None:
            await self._http.aclose()
