"""The ``bedrock`` profile never needs boto3 / botocore (nor google-auth): importing it, building
it and calling it, streamed and not, work with those imports refused, even with IAM
credentials in the environment (the profile never falls back to SigV4 signing)."""

from __future__ import annotations

import os
import subprocess
import sys

_PROBE = """
import importlib.abc, sys, time

BLOCKED = ("boto3", "botocore", "google")

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, Refuse())
try:
    import botocore
except ImportError:
    print("botocore refused")

import anyio
from chatsim.protocol import Message, Role
from chatsim.targets import TargetRequest, TargetSettings
from chatsim.testing import AnthropicLoopbackServer
from chatsim_anthropic import bedrock_adapter

KEY = "bedrock-api-key-test-0123456789abcdef"

async def main():
    async with AnthropicLoopbackServer("Four.", api_key=KEY) as server:
        settings = TargetSettings(api_key=KEY, base_url=server.bedrock_base_url)
        adapter = bedrock_adapter("anthropic.claude-test", settings)
        try:
            for stream in (True, False):
                messages = (Message(Role.USER, "What is 2 + 2?"),)
                reply = await adapter.complete(
                    TargetRequest(messages=messages, stream=stream), now=time.perf_counter
                )
                print("reply", stream, reply.text)
        finally:
            await adapter.aclose()
        print("paths", sorted({r.path for r in server.requests}))

anyio.run(main)
print("loaded", sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED))
"""


def test_a_bedrock_call_imports_neither_boto3_nor_botocore() -> None:
    env = dict(os.environ)
    env.update(  # IAM credentials present: they must not be picked up (that would sign)
        AWS_ACCESS_KEY_ID="AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY="secret", AWS_REGION="us-east-1"
    )
    for name in ("AWS_BEARER_TOKEN_BEDROCK", "ANTHROPIC_AWS_API_KEY"):
        env.pop(name, None)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], check=True, capture_output=True, text=True, timeout=100,
        env=env,
    )  # fmt: skip
    assert out.stdout.splitlines() == [
        "botocore refused",
        "reply True Four.",
        "reply False Four.",
        "paths ['/anthropic/v1/messages']",
        "loaded []",
    ]
