"""Issue 15: the kit's one error mapping names where a failed request went."""

from __future__ import annotations

import pytest

from chatsim import PermanentError, RateLimitError
from chatsim._util._redact import register_secret
from chatsim.targets._error_location import endpoint_of
from chatsim.targets.kit import error_for_status


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://res.openai.azure.com/openai/deployments/d/chat/completions?api-version=1",
            "https://res.openai.azure.com/openai/deployments/d/chat/completions",
        ),
        ("http://user:pw@10.0.0.5:8000/v1/completions#x", "http://10.0.0.5:8000/v1/completions"),
        ("https://g.example/v1beta/models/m:generateContent?key=AIzaSECRET", "https://g.example/v1beta/models/m:generateContent"),
        ("http://[::1]:9/v1/chat/completions", "http://[::1]:9/v1/chat/completions"),
    ],
)  # fmt: skip
def test_an_endpoint_is_shown_without_query_fragment_or_user_info(url: str, shown: str) -> None:
    assert endpoint_of(url) == shown


def test_a_permanent_error_names_deployment_and_endpoint_before_the_vendor_words() -> None:
    url = "https://res.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2"
    body = {"error": {"code": "DeploymentNotFound", "message": "x " * 400}}
    error = error_for_status(
        404, body=body, provider="azure", endpoint=url, model="gpt4o", model_kind="deployment"
    )
    assert isinstance(error, PermanentError)
    where = f"for deployment 'gpt4o' at {url.split('?')[0]}: "
    assert str(error).startswith(f"azure answered HTTP 404 (DeploymentNotFound) {where}")
    # A long vendor message is cut as before; the location never is.
    assert len(str(error)) <= 360 + len(where)
    assert "api-version" not in str(error)


def test_a_secret_in_the_path_is_scrubbed_and_without_a_location_nothing_changes() -> None:
    register_secret("path-secret-0123456789")
    error = error_for_status(
        429, body=b"slow down", endpoint="https://h.example/k/path-secret-0123456789", model="m"
    )
    assert isinstance(error, RateLimitError)
    where = "for model 'm' at https://h.example/k/***"
    assert str(error) == f"the server answered HTTP 429 {where}: slow down"
    assert str(error_for_status(404, body=b"gone")) == "the server answered HTTP 404: gone"
