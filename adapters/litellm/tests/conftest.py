"""Fixtures for the litellm adapter's tests: asyncio, and no provider settings from outside."""

from __future__ import annotations

from pathlib import Path

import pytest

#: Provider variables litellm reads; cleared so that a developer's own keys or endpoints
#: never reach a test (the tests set what they need).
ENV = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_BASE",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_API_BASE",
    "ANTHROPIC_BASE_URL",
    "GROQ_API_KEY",
    "GROQ_API_BASE",
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


#: litellm's import ignores these warnings process-wide (``litellm._process_defaults``: its
#: own pydantic models read ``model_computed_fields`` on instances while streaming, ...);
#: pytest resets the filters for every test, so they are ignored again here, for this
#: distribution's tests only, with litellm's own message patterns.
LITELLM_OWN_WARNINGS = (
    r"ignore:.*Accessing the.*attribute on the instance is deprecated.*:DeprecationWarning",
    r"ignore:.*conflict with protected namespace.*:UserWarning",
    r"ignore:.*`ReadOnly` qualifier.*",
)
_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in item.path.parents:
            for spec in LITELLM_OWN_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(spec))
