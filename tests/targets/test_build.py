"""``build_caller`` / ``target_settings``: the hosted-endpoint guard for every hosted vendor."""

from __future__ import annotations

import pytest

from chatsim._exceptions import ConfigError
from chatsim.targets import HOSTED_ADAPTERS, ModelSpec, target_settings

VARIABLES = {
    "openai": "OPENAI_BASE_URL",
    "azure": "AZURE_OPENAI_ENDPOINT",
    "anthropic": "ANTHROPIC_BASE_URL",
    "bedrock": "ANTHROPIC_BEDROCK_MANTLE_BASE_URL",
    "gemini": "GOOGLE_GEMINI_BASE_URL",
    "vertex": "GOOGLE_VERTEX_BASE_URL",
}


@pytest.mark.parametrize("adapter", sorted(VARIABLES))
def test_a_hosted_vendor_ignores_the_generic_url_and_refuses_its_own(adapter: str) -> None:
    assert adapter in HOSTED_ADAPTERS
    spec = ModelSpec(adapter, "m", f"{adapter}:m")
    assert target_settings(spec, base_url="http://self-hosted:8000/v1").base_url is None
    with pytest.raises(ConfigError, match=VARIABLES[adapter]):
        target_settings(spec, endpoint="http://self-hosted:8000/v1")


def test_a_self_hosted_model_takes_either_url() -> None:
    spec = ModelSpec("vllm", "m", "vllm:m")
    assert target_settings(spec, base_url="http://a/v1").base_url == "http://a/v1"
    assert target_settings(spec, base_url="http://a/v1", endpoint="http://b/v1").base_url == (
        "http://b/v1"
    )
