"""What the Messages API answers 400 ``invalid_request_error`` to, as the loopback server checks it.

From Anthropic's API reference, with the API's own wording where it is known:

- the body is a JSON object whose top-level fields are all documented ones: the API validates
  strictly and refuses any other field (``response_format: Extra inputs are not permitted``),
  so an OpenAI-shaped field sent by mistake fails here as it would there;
- ``model`` a non-empty string; ``max_tokens`` a positive integer (required);
- ``messages`` a non-empty list of ``{"role", "content"}`` objects; roles only ``user`` and
  ``assistant`` (``system`` goes in the top-level field); the first message ``user``;
- ``content`` a string or a list of content blocks; every message's content non-empty except an
  optional final assistant message (a prefill). This server reads only ``text`` blocks: the
  API also takes images, documents and tool blocks, which it has no use for;
- ``system`` a string or a list of text blocks; ``temperature`` a number in [0, 1];
  ``stream`` a boolean; ``stop_sequences`` a list of strings.

Consecutive turns of one role are not refused: the API merges them into one turn.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["KNOWN_FIELDS", "problem"]

#: The request body's documented top-level fields; any other is refused, as the API does.
KNOWN_FIELDS: Final = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "stream",
        "metadata",
        "tools",
        "tool_choice",
        "thinking",
        "service_tier",
        "container",
        "context_management",
        "mcp_servers",
        "output_config",
        "output_format",
        "inference_geo",
        "cache_control",
        "diagnostics",
        "speed",
        "user_profile_id",
        "workspace_id",
    }
)

_MESSAGE_FIELDS: Final = frozenset({"role", "content"})
_TEXT_BLOCK_FIELDS: Final = frozenset({"type", "text", "cache_control", "citations"})
_NOT_EMPTY: Final = (
    "all messages must have non-empty content except for the optional final assistant message"
)
_SYSTEM_ROLE: Final = (
    'messages: Unexpected role "system". The Messages API accepts a top-level `system` '
    'parameter, not "system" as an input message role.'
)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def problem(body: Any) -> str | None:
    """Why the API would answer 400 to this body (its message), or None."""
    if not isinstance(body, dict):
        return "There was an error parsing the body of your request."
    extra = sorted(set(body) - KNOWN_FIELDS)
    if extra:
        return f"{extra[0]}: Extra inputs are not permitted"
    return _top_level(body) or _messages(body.get("messages")) or _options(body)


def _top_level(body: dict[str, Any]) -> str | None:
    if "model" not in body:
        return "model: Field required"
    if not isinstance(body["model"], str) or not body["model"]:
        return "model: Input should be a non-empty string"
    if "max_tokens" not in body:
        return "max_tokens: Field required"
    if not _is_int(body["max_tokens"]):
        return "max_tokens: Input should be a valid integer"
    if body["max_tokens"] < 1:
        return "max_tokens: Input should be greater than or equal to 1"
    return None


def _messages(messages: Any) -> str | None:
    if messages is None:
        return "messages: Field required"
    if not isinstance(messages, list):
        return "messages: Input should be a valid list"
    if not messages:
        return "messages: at least one message is required"
    for i, message in enumerate(messages):
        refusal = _message(i, message, last=i == len(messages) - 1)
        if refusal is not None:
            return refusal
    if messages[0]["role"] != "user":
        return 'messages: first message must use the "user" role'
    return None


def _message(i: int, message: Any, *, last: bool) -> str | None:
    where = f"messages.{i}"
    if not isinstance(message, dict):
        return f"{where}: Input should be a valid dictionary"
    extra = sorted(set(message) - _MESSAGE_FIELDS)
    if extra:
        return f"{where}.{extra[0]}: Extra inputs are not permitted"
    role = message.get("role")
    if role == "system":
        return _SYSTEM_ROLE
    if role not in ("user", "assistant"):
        return f"{where}.role: Input should be 'user' or 'assistant'"
    if "content" not in message:
        return f"{where}.content: Field required"
    content = message["content"]
    if isinstance(content, list):
        refusal = _blocks(f"{where}.content", content)
        if refusal is not None:
            return refusal
    elif not isinstance(content, str):
        return f"{where}.content: Input should be a valid string or a list of content blocks"
    if not content and not (last and role == "assistant"):
        return f"{where}: {_NOT_EMPTY}"
    return None


def _blocks(where: str, blocks: list[Any]) -> str | None:
    """Text blocks only (see the module docstring), each with a non-empty string ``text``."""
    for j, block in enumerate(blocks):
        at = f"{where}.{j}"
        if not isinstance(block, dict):
            return f"{at}: Input should be a valid dictionary"
        kind = block.get("type")
        if kind is None:
            return f"{at}.type: Field required"
        if kind != "text":
            return f"{at}.type: this loopback server reads only 'text' content blocks, not {kind!r}"
        extra = sorted(set(block) - _TEXT_BLOCK_FIELDS)
        if extra:
            return f"{at}.text.{extra[0]}: Extra inputs are not permitted"
        if not isinstance(block.get("text"), str):
            return f"{at}.text.text: Input should be a valid string"
        if not block["text"]:
            return "messages: text content blocks must be non-empty"
    return None


def _options(body: dict[str, Any]) -> str | None:
    system = body.get("system")
    if system is not None:
        if isinstance(system, list):
            refusal = _blocks("system", system)
            if refusal is not None:
                return refusal.replace("messages: text", "system: text")
        elif not isinstance(system, str):
            return "system: Input should be a valid string or a list of text blocks"
    if "temperature" in body:
        temperature = body["temperature"]
        if not _is_number(temperature):
            return "temperature: Input should be a valid number"
        if not 0 <= temperature <= 1:
            return "temperature: range: 0..1"
    if "stream" in body and not isinstance(body["stream"], bool):
        return "stream: Input should be a valid boolean"
    stops = body.get("stop_sequences")
    if stops is not None and not (
        isinstance(stops, list) and all(isinstance(s, str) for s in stops)
    ):
        return "stop_sequences: Input should be a valid list of strings"
    return None
