"""The adapter author's kit: the helpers every target adapter needs besides the contract.

An adapter distribution (``adapters/<vendor>``) imports public names only; a test
(``tests/test_adapter_imports.py``) holds it to that. Where each thing lives:

- the contract, in ``chatsim.targets``: ``TargetAdapter``, ``TargetRequest``, ``AdapterReply``,
  ``TargetSettings``, ``register_adapter``, ``parse_retry_after``, ``env_setting`` (explicit
  value > environment variable), ``register_secret_headers``;
- the errors, in ``chatsim``: ``TargetError`` and its tree, ``ConfigError``,
  ``MissingCredentialError``, ``MissingDependencyError``;
- token counts and a reply's transport timings, in ``chatsim.recording``: ``Usage`` and
  ``ReplyTiming`` (``AdapterReply.timing``: built once where the transport measures it);
- and here, the one boundary every adapter shares:

  - ``error_for_status``: an HTTP error response as a chatsim error (the one mapping: 429
    rate limit, 429 ``insufficient_quota`` quota, 401/403 auth, 408/409/5xx transient, the
    rest permanent), ``Retry-After`` read, headers and message scrubbed; given the request's
    ``endpoint`` (its URL, shown without the query) and ``model`` (``model_kind="deployment"``
    for Azure), the message names both, so no adapter formats its own;
  - ``transient_error``: a retryable failure without a status (reset, timeout, bad reply);
  - ``connect_timeout_error`` / ``ConnectTimeoutError``: a connection not set up in time (the
    request was never sent), recorded as ``connect_timeout``, not as a read timeout;
    ``is_connect_timeout`` recognises the HTTP libraries' connect timeouts in an error's chain
    (the core also promotes a transient error caused by one, whatever an adapter called it);
  - ``is_context_length_error``: whether an error is a server's refusal of a too-long prompt;
  - ``request_id_of``: the provider's request id from (lower-cased) headers;
  - ``keep_recorded_headers``: the allow-listed response headers worth recording, scrubbed;
  - ``register_secret`` / ``scrub``: remember a credential / remove every known one from text;
  - ``require_http_url``: check a configured endpoint once, at construction;
  - for an adapter's own aiohttp transport: ``LoopSession`` (a session per event loop),
    ``sdk_timeout`` (an SDK client's timeouts for aiohttp), ``env_proxy`` (the environment's
    proxy for an endpoint, looked up once).
"""

from chatsim._util._redact import keep_recorded_headers, register_secret, scrub
from chatsim._util._urls import require_http_url
from chatsim.targets._aiohttp_kit import LoopSession, env_proxy, sdk_timeout
from chatsim.targets._http_errors import (
    ConnectTimeoutError,
    connect_timeout_error,
    error_for_status,
    is_connect_timeout,
    is_context_length_error,
    request_id_of,
    transient_error,
)

__all__ = [
    "ConnectTimeoutError",
    "LoopSession",
    "connect_timeout_error",
    "env_proxy",
    "error_for_status",
    "is_connect_timeout",
    "is_context_length_error",
    "keep_recorded_headers",
    "register_secret",
    "request_id_of",
    "require_http_url",
    "scrub",
    "sdk_timeout",
    "transient_error",
]
