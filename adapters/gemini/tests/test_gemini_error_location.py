"""Issue 15: Gemini's permanent errors name the endpoint (without its query) and the model,
never the key."""

from __future__ import annotations

import pytest

from chatsim import PermanentError, TargetError
from chatsim.protocol import Message, Role
from chatsim.targets import CallPolicy, TargetCaller, TargetRequest
from chatsim.testing import Fault, FaultKind
from chatsim_gemini import GeminiAdapter
from chatsim_gemini.testing import GeminiLoopbackServer

KEY = "AIzaSy-test-planted-secret-0123456789"  # the key conftest serves with

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("status", [400, 404])
async def test_permanent_errors_name_the_model_and_the_endpoint(
    adapter: GeminiAdapter, server: GeminiLoopbackServer, stream: bool, status: int
) -> None:
    server.inject(Fault(FaultKind.HTTP_ERROR, status=status))
    request = TargetRequest(messages=(Message(Role.USER, "What is 2 + 2?"),), stream=stream)
    with pytest.raises(TargetError) as info:
        await TargetCaller(adapter, CallPolicy(max_attempts=1)).call(request)
    error = info.value
    assert isinstance(error, PermanentError) and error.status_code == status
    (attempt,) = error.attempts
    method = "streamGenerateContent" if stream else "generateContent"
    url = f"{server.base_url.rstrip('/')}/v1beta/models/gemini-2.5-flash:{method}"
    where = f"for model 'gemini-2.5-flash' at {url}"
    assert str(error).startswith(f"gemini answered HTTP {status}")
    assert where in str(error) and where in (attempt.error_message or "")
    assert "alt=sse" not in str(error)
    assert KEY not in f"{error} {error!r} {error.headers} {attempt.model_dump_json()}"
