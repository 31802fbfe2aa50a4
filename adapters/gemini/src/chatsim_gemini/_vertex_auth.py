"""Vertex AI credentials, found as Application Default Credentials are, without the network.

``google.auth.default()`` is what the SDK calls when it gets no credentials. It may block a
run before its first episode: on a machine without a credentials file it probes the GCE
metadata server (3 attempts of 3 s each, with backoff, against 169.254.169.254), and a
credentials file without a project makes it run ``gcloud config get project`` or, for
workload-identity files, ask a server. So the profile never calls it; it walks the same
sources itself, reading files only, and hands the SDK explicit credentials and a project:

1. ``options["credentials"]``: a ``google.auth.credentials.Credentials`` given in-process
   (tests: ``google.oauth2.credentials.Credentials(token=...)``);
2. the file named by ``GOOGLE_APPLICATION_CREDENTIALS`` (a service-account key, a
   workload-identity configuration, ...); an unreadable one fails naming the variable;
3. gcloud's ADC file, written by ``gcloud auth application-default login``
   (``$CLOUDSDK_CONFIG`` or ``~/.config/gcloud``, ``%APPDATA%\\gcloud`` on Windows);
4. the metadata server's credentials, only where the machine says it is on Google Cloud
   without being asked over the network: ``GCE_METADATA_HOST`` set, or a DMI product name
   starting with ``Google`` (the offline check google-auth itself falls back to).

Building credentials makes no call; the first request refreshes the token (the SDK does it
in a worker thread). A refusal then (a revoked login, a bad key file) is an
``AuthenticationError`` (``_errors``).
"""

from __future__ import annotations

import asyncio
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatsim import ConfigError, MissingCredentialError
from chatsim.targets.kit import register_secret

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

__all__ = ["CREDENTIALS_VARIABLE", "SCOPES", "BearerAuth", "find_credentials"]

CREDENTIALS_VARIABLE = "GOOGLE_APPLICATION_CREDENTIALS"
#: The scope the SDK asks for (``google.genai._api_client.load_auth``).
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
_DMI_PRODUCT = Path("/sys/class/dmi/id/product_name")
_HOW = (
    "(Application Default Credentials: run `gcloud auth application-default login`, or point "
    "GOOGLE_APPLICATION_CREDENTIALS at a service-account key file; Vertex AI express mode: "
    "set GOOGLE_API_KEY)"
)


def gcloud_adc_path() -> Path:
    """Where ``gcloud auth application-default login`` writes its credentials."""
    config = os.environ.get("CLOUDSDK_CONFIG")
    if config:
        root = Path(config)
    elif os.name == "nt":
        root = Path(os.environ.get("APPDATA", "C:\\")) / "gcloud"
    else:
        root = Path.home() / ".config" / "gcloud"
    return root / "application_default_credentials.json"


def on_google_cloud() -> bool:
    """Whether the metadata server should be there, decided without asking it."""
    if os.environ.get("GCE_METADATA_HOST") or os.environ.get("GCE_METADATA_ROOT"):
        return True
    try:
        return _DMI_PRODUCT.read_text().strip().startswith("Google")
    except OSError:
        return False


def _from_file(path: Path, source: str) -> tuple[Credentials, str | None]:
    import google.auth
    from google.auth import exceptions

    try:
        # The user's own ADC file, trusted as google.auth.default() trusts it (which silences
        # this same warning, meant for configurations from untrusted sources).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            found: tuple[Credentials, str | None] = google.auth.load_credentials_from_file(  # type: ignore[no-untyped-call]
                str(path), scopes=list(SCOPES)
            )
    except exceptions.DefaultCredentialsError as exc:
        raise ConfigError(f"the vertex adapter cannot use {source} ({path}): {exc}") from exc
    return found


def find_credentials(options: Mapping[str, Any]) -> tuple[Credentials, str | None]:
    """Credentials for Vertex AI and the project their source names (a service-account key's
    ``project_id``), or None; raises ``MissingCredentialError`` saying how to log in."""
    from google.auth.credentials import Credentials

    given = options.get("credentials")
    if given is not None:
        if not isinstance(given, Credentials):
            raise ConfigError(
                "options['credentials'] must be google.auth.credentials.Credentials, "
                f"not {type(given).__name__}"
            )
        return given, None
    named = os.environ.get(CREDENTIALS_VARIABLE)
    if named:
        return _from_file(Path(named), CREDENTIALS_VARIABLE)
    gcloud = gcloud_adc_path()
    if gcloud.is_file():
        return _from_file(gcloud, "gcloud's application default credentials")
    if on_google_cloud():
        from google.auth import compute_engine

        metadata: Credentials = compute_engine.Credentials()  # type: ignore[no-untyped-call]
        return metadata, None
    raise MissingCredentialError(
        CREDENTIALS_VARIABLE, f"the vertex adapter needs Google Cloud credentials {_HOW}"
    )


class BearerAuth:
    """The ``Authorization`` header for Vertex AI from google-auth credentials, refreshed (in
    a worker thread: google-auth is blocking) when missing or expired, as the SDK does, and
    once at a time per event loop; each new token is registered as a secret."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self._lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    def _fresh(self) -> bool:
        return bool(self.credentials.token) and not self.credentials.expired

    def _refresh(self) -> None:
        from google.auth.transport.requests import Request

        self.credentials.refresh(Request())  # type: ignore[no-untyped-call]

    async def headers(self) -> dict[str, str]:
        """``Authorization`` (and ``x-goog-user-project`` for a quota project)."""
        if not self._fresh():
            loop = asyncio.get_running_loop()
            if self._lock is None or self._lock[0] is not loop:
                self._lock = (loop, asyncio.Lock())
            async with self._lock[1]:
                if not self._fresh():
                    await asyncio.to_thread(self._refresh)
                    register_secret(self.credentials.token)
        token = self.credentials.token
        if not token:
            raise ConfigError("the vertex adapter's credentials gave no access token")
        found = {"Authorization": f"Bearer {token}"}
        quota = getattr(self.credentials, "quota_project_id", None)
        if quota:
            found["x-goog-user-project"] = str(quota)
        return found
