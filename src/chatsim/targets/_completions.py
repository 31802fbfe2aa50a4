"""An OpenAI-compatible ``POST /completions`` client: the served simulator's transport.

Raw prompt in, text out, one attempt per call, as every ``TargetAdapter``: vLLM, SGLang, TGI
and llama.cpp all serve this endpoint, so the core keeps this client itself (the served
simulator must work without any adapter distribution installed). It is not registered as a
target (a plain-text completion is not a chat), and it uses only what the adapter kit
(``chatsim.targets.kit``) gives every adapter: the one HTTP-error mapping, header
allow-listing and secret scrubbing.

Hot path: one shared aiohttp session, no SDK (DESIGN.md §4: raw aiohttp costs ~0.35 ms of
client CPU per call, the openai SDK several ms).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp

from chatsim._util._redact import keep_recorded_headers, register_secret
from chatsim.recording._records import Usage
from chatsim.targets._contract import AdapterReply, TargetAdapter, TargetRequest
from chatsim.targets._http_errors import error_for_status, request_id_of, transient_error

__all__ = ["CompletionsAdapter"]

#: Who answered, as error messages name it.
_PROVIDER = "the simulator server"


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
            raise transient_error(_PROVIDER, f"connection failed: {exc!r}") from exc
        if status >= 300:  # a redirect aiohttp did not follow is no completion either
            raise error_for_status(
                status,
                headers=headers,
                body=raw,
                provider=_PROVIDER,
                endpoint=self.url,
                model=self.model,
            )
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
        what = f"malformed completion: {raw[:200]!r}"
        raise transient_error(
            _PROVIDER, what, request_id=request_id_of(headers), headers=headers
        ) from exc
    usage = Usage(
        prompt_tokens=int(usage_raw.get("prompt_tokens") or 0),
        completion_tokens=int(usage_raw.get("completion_tokens") or 0),
    )
    return AdapterReply(
        text=text,
        usage=usage if usage_raw else None,
        finish_reason=choice.get("finish_reason"),
        request_id=request_id_of(headers),
        headers=headers,
    )
