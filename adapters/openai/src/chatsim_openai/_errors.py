"""HTTP failures into chatsim's exception tree: the core's one mapping, OpenAI's error bodies.

The classification is the core's (``chatsim.targets.kit.error_for_status``), shared with every
adapter and the served simulator: 429 is a rate limit (except ``insufficient_quota``, which no
wait fixes); 408, 409 and 5xx are transient; 401 and 403 are authentication; everything else
is permanent (a 400 for context length included). The OpenAI error envelope
``{"error": {"message", "code"}}`` is the one the core reads by default.

Every status error names the request's endpoint (without its query: Azure's ``api-version``)
and the model, which Azure calls the deployment (``model_kind``), so a missing deployment
reads ``azure answered HTTP 404 (DeploymentNotFound) for deployment 'gpt4o' at https://...``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chatsim import TargetError
from chatsim.targets.kit import error_for_status

__all__ = ["error_from_status", "model_kind"]


def model_kind(provider: str) -> str:
    """What ``provider`` calls the ``model`` field of a request: Azure routes by deployment."""
    return "deployment" if provider == "azure" else "model"


def error_from_status(
    status: int,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: Any,
    *,
    provider: str,
    endpoint: object | None = None,
    model: str | None = None,
) -> TargetError:
    """The chatsim error for an OpenAI-protocol HTTP error response to a request for
    ``model`` at ``endpoint`` (its URL); both transports call it."""
    return error_for_status(
        status,
        headers=headers,
        body=body,
        provider=provider,
        endpoint=endpoint,
        model=model,
        model_kind=model_kind(provider),
    )
