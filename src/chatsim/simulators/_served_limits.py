"""The served simulator's context length, read once from the server's ``GET /models``.

vLLM lists each model with its ``max_model_len``; a LoRA's entry carries none (``null``) but
names its base model as ``parent``, whose entry has it::

    {"data": [{"id": "mistralai/Mistral-7B-v0.1", "max_model_len": 1024, ...},
              {"id": "chatbench", "parent": "mistralai/Mistral-7B-v0.1", "max_model_len": null}]}

Servers that do not say (OpenAI-style listings, llama.cpp, a proxy without ``/models``) leave
the caller to its default. A failure here never fails the run: the completions themselves
show whether the server works.
"""

from __future__ import annotations

import json
from typing import Any, Final

import aiohttp

__all__ = ["fetch_max_model_len", "max_model_len_of"]

#: Seconds the one ``/models`` request may take (it runs once, before the first turn).
MODELS_TIMEOUT: Final = 10.0


def _length(entry: Any) -> int | None:
    value = entry.get("max_model_len") if isinstance(entry, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def max_model_len_of(listing: Any, model: str) -> int | None:
    """``model``'s context length in a ``/models`` listing, or None when it does not say.

    The model's own ``max_model_len``, else its ``parent``'s (a vLLM LoRA), else the one value
    all entries that report one agree on (a vLLM server serves one base model, whose context
    its LoRAs share; servers that answer any model name list only some).
    """
    data = listing.get("data") if isinstance(listing, dict) else None
    entries = [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []
    by_id = {e["id"]: e for e in entries if isinstance(e.get("id"), str)}
    entry = by_id.get(model, {})
    found = _length(entry)
    if found is None and isinstance(entry.get("parent"), str):
        found = _length(by_id.get(entry["parent"]))
    if found is None:
        reported = {n for n in map(_length, entries) if n is not None}
        found = reported.pop() if len(reported) == 1 else None
    return found


async def fetch_max_model_len(
    base_url: str, model: str, *, api_key: str | None = None
) -> tuple[int | None, str]:
    """``(max_model_len or None, why)`` from ``GET {base_url}/models``; never raises for a
    server that cannot or will not say (``why`` explains, for the log)."""
    url = base_url.rstrip("/") + "/models"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    timeout = aiohttp.ClientTimeout(total=MODELS_TIMEOUT)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, headers=headers) as resp,
        ):
            raw = await resp.read()
            status = resp.status
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return None, f"GET {url} failed ({type(exc).__name__})"
    if status != 200:
        return None, f"GET {url} answered HTTP {status}"
    try:
        listing = json.loads(raw)
    except ValueError:
        return None, f"GET {url} did not answer JSON"
    found = max_model_len_of(listing, model)
    if found is None:
        return None, f"GET {url} reports no max_model_len for {model!r}"
    return found, f"GET {url} reports max_model_len {found} for {model!r}"
