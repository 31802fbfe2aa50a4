"""litellm loads only for a ``litellm:`` model, and then offline: no network, no ``.env``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_PROBE_NETWORK = """
import socket, sys, threading
looked_up = []
def refuse(host, *args, **kwargs):
    looked_up.append(host)
    raise OSError("no network in this test")
socket.getaddrinfo = refuse
import chatsim_litellm
sdk = chatsim_litellm.load()
import os
print("lookups", looked_up)
print("threads", sorted(t.name for t in threading.enumerate()))
print("dotenv", os.environ.get("CHATSIM_FROM_DOTENV"))
print("callbacks", sdk.callbacks, sdk.success_callback, sdk.failure_callback)
"""


def _run(code: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=100,
        cwd=cwd,
    ).stdout  # fmt: skip


def test_chatsim_and_an_openai_run_do_not_import_litellm() -> None:
    code = (
        "import sys, chatsim, chatsim.targets, chatsim_litellm\n"
        "from chatsim.targets import TargetSettings, available_adapters, create_adapter\n"
        "assert 'litellm' in available_adapters()\n"
        "create_adapter('openai:gpt-4o', TargetSettings(api_key='sk-test-0123456789abcdef'))\n"
        "print('\\n'.join(sys.modules))"
    )
    loaded = set(_run(code).split())
    assert "chatsim_litellm" in loaded and "litellm" not in loaded


def test_loading_litellm_stays_offline_and_reads_no_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CHATSIM_FROM_DOTENV=1\n", encoding="utf-8")
    out = _run(_PROBE_NETWORK, cwd=tmp_path).splitlines()
    assert out == [
        "lookups []",
        "threads ['MainThread']",  # no cost-map retry thread
        "dotenv None",
        "callbacks [] [] []",
    ]
