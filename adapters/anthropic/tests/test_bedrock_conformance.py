"""chatsim's conformance suite for the ``bedrock`` profile, on the Anthropic wire as Bedrock's
Anthropic-native endpoint serves it: ``/anthropic/v1/messages``, the key as a Bearer token."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from chatsim.targets import TargetAdapter, TargetSettings
from chatsim.testing import (
    ANTHROPIC_WIRE,
    CONFORMANCE_CHECKS,
    AnthropicLoopbackServer,
    ConformanceCheck,
    SentRequest,
    run_conformance,
)
from chatsim_anthropic import TRANSPORTS, bedrock_adapter

pytestmark = pytest.mark.anyio


def _bedrock_sent(server: AnthropicLoopbackServer) -> list[SentRequest]:
    # Stricter than the Anthropic wire's reader: the key counts only as ``Authorization:
    # Bearer`` on Mantle's path, with no ``x-api-key`` beside it.
    sent = []
    for sent_request, record in zip(ANTHROPIC_WIRE.sent(server), server.requests, strict=True):
        auth = record.headers.get("authorization", "")
        bearer = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        on_mantle = record.path == "/anthropic/v1/messages" and "x-api-key" not in record.headers
        sent.append(dataclasses.replace(sent_request, key=bearer if on_mantle else None))
    return sent


BEDROCK_WIRE = dataclasses.replace(ANTHROPIC_WIRE, name="bedrock", sent=_bedrock_sent)


def maker(transport: str) -> Callable[[AnthropicLoopbackServer], TargetAdapter]:
    def make(server: AnthropicLoopbackServer) -> TargetAdapter:
        settings = TargetSettings(
            base_url=server.bedrock_base_url,
            api_key=server.api_key,
            options={"transport": transport},
        )
        return bedrock_adapter("anthropic.claude-test", settings)

    return make


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("check", CONFORMANCE_CHECKS, ids=lambda c: c.name)
async def test_conformance(check: ConformanceCheck, transport: str) -> None:
    await check(maker(transport), wire=BEDROCK_WIRE)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_run_conformance_passes(transport: str) -> None:
    names = await run_conformance(maker(transport), wire=BEDROCK_WIRE)
    assert names == [check.name for check in CONFORMANCE_CHECKS]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_strict_wire_refuses_the_key_where_bedrock_does_not_read_it(
    transport: str,
) -> None:
    # The same adapter pointed at the plain ``/v1/messages`` must fail the key check.
    def at_the_root(server: AnthropicLoopbackServer) -> TargetAdapter:
        settings = TargetSettings(
            base_url=server.base_url, api_key=server.api_key, options={"transport": transport}
        )
        return bedrock_adapter("anthropic.claude-test", settings)

    (streamed, *_) = CONFORMANCE_CHECKS
    with pytest.raises(AssertionError, match="the key was not sent where bedrock reads it"):
        await streamed(at_the_root, wire=BEDROCK_WIRE)
