"""Issue 15: Anthropic's permanent errors name the endpoint and the model, never the key."""

from __future__ import annotations

import pytest
from anthropic_helpers import KEY, adapter_for, request

from chatsim import PermanentError, TargetError
from chatsim.targets import CallPolicy, TargetCaller
from chatsim.testing import Fault, FaultKind
from chatsim_anthropic.testing import AnthropicLoopbackServer

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("status", [400, 404])
async def test_permanent_errors_name_the_model_and_the_endpoint(stream: bool, status: int) -> None:
    async with AnthropicLoopbackServer("unused") as server:
        server.inject(Fault(FaultKind.HTTP_ERROR, status=status))
        caller = TargetCaller(adapter_for(server), CallPolicy(max_attempts=1))
        try:
            with pytest.raises(TargetError) as info:
                await caller.call(request(stream=stream))
        finally:
            await caller.aclose()
    error = info.value
    assert isinstance(error, PermanentError) and error.status_code == status
    (attempt,) = error.attempts
    where = f"for model 'claude-test' at {server.base_url.rstrip('/')}/v1/messages"
    assert str(error).startswith(f"anthropic answered HTTP {status} (")
    assert where in str(error) and where in (attempt.error_message or "")
    assert KEY not in f"{error} {error!r} {error.headers} {attempt.model_dump_json()}"
