"""Endpoint URLs are checked once, where they are configured, not on every request."""

from __future__ import annotations

from urllib.parse import urlsplit

from chatsim._exceptions import ConfigError

__all__ = ["require_http_url"]


def require_http_url(url: str, what: str) -> str:
    """``url`` if it is an absolute http(s) URL with a host, else a ``ConfigError`` naming
    ``what`` (e.g. ``"--base-url"``). Credentials in the URL are refused: they would end up in
    headers saved with the run and in error messages."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{what} must be an http(s) URL with a host, e.g. http://127.0.0.1:8000/v1; got {url!r}"
        )
    if parts.username or parts.password:
        raise ConfigError(f"{what} must not carry credentials; pass the key in its variable")
    return url.strip()
