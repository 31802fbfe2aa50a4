"""Where a failed request went, as error messages name it: the endpoint and the model.

A 404 that says only "not found" cannot be acted on; one that names the deployment and the
URL it was sent to can. The URL is shown without its query string (Azure's ``api-version``,
or a ``key=`` some gateways accept) and without user info, so no credential is ever named.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["endpoint_of", "error_location"]


def endpoint_of(url: object) -> str:
    """``scheme://host[:port]/path`` of ``url`` (a str, yarl or httpx URL): the query, the
    fragment and any user info are dropped."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def error_location(endpoint: object | None, model: str | None, model_kind: str = "model") -> str:
    """``" for deployment 'gpt4o' at https://host/path"`` (either part only when known)."""
    found = f" for {model_kind} {model!r}" if model else ""
    return found + (f" at {endpoint_of(endpoint)}" if endpoint else "")
