"""What the loopback server reads from a completion request: validation, reply contexts, tokens."""

from __future__ import annotations

from typing import Any

from chatsim.testing._server_script import Endpoint, ReplyContext, count_tokens

__all__ = ["contexts_of", "prompt_tokens", "validate"]


def validate(endpoint: Endpoint, body: dict[str, Any]) -> tuple[str, str] | None:
    """A 400's message and param when the body lacks what the endpoint needs."""
    if endpoint == "chat":
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return ("'messages' must be a non-empty array", "messages")
        return None
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return None
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        return None
    return ("'prompt' must be a string or a non-empty array of strings", "prompt")


def contexts_of(endpoint: Endpoint, model: str, body: dict[str, Any]) -> list[ReplyContext]:
    if endpoint == "chat":
        messages = tuple(m for m in body["messages"] if isinstance(m, dict))
        return [ReplyContext("chat", model, body, messages=messages)]
    prompt = body["prompt"]
    prompts = [prompt] if isinstance(prompt, str) else prompt
    return [
        ReplyContext("completions", model, body, prompt=p, index=i) for i, p in enumerate(prompts)
    ]


def prompt_tokens(contexts: list[ReplyContext]) -> int:
    total = 0
    for ctx in contexts:
        if ctx.prompt is not None:
            total += count_tokens(ctx.prompt)
            continue
        for message in ctx.messages:
            content = message.get("content")
            if isinstance(content, str):
                total += count_tokens(content)
            elif isinstance(content, list):
                total += sum(
                    count_tokens(part.get("text", ""))
                    for part in content
                    if isinstance(part, dict) and isinstance(part.get("text"), str)
                )
    return total
