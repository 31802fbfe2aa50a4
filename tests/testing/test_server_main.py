"""``python -m chatsim.testing.server`` runs the server as a process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request

import pytest

from chatsim.testing.server import build_server, parse_args


def test_process_prints_url_serves_and_reports() -> None:
    cmd = [
        sys.executable,
        "-m",
        "chatsim.testing.server",
        "--tokens",
        "3",
        "--fault",
        "server_error=0",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        request = urllib.request.Request(
            f"{base_url}/chat/completions", body.encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            reply = json.load(resp)
        assert reply["choices"][0]["message"]["content"] == "tok0 tok1 tok2"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert json.loads(err.strip().splitlines()[-1])["statuses"] == {"200": 1}


def test_arguments_build_the_scripted_server() -> None:
    args = parse_args(
        [
            "--tokens",
            "4",
            "--ttft-ms",
            "5",
            "--itl-ms",
            "1",
            "--chunks",
            "2",
            "--workers",
            "8",
            "--queue-limit",
            "16",
            "--rpm",
            "100",
            "--fault",
            "rate_limit=0.1",
            "--fault",
            "reset=0.05",
        ]
    )
    server = build_server(args)
    assert server.script.latency.first_token == pytest.approx(0.005)
    assert server.script.latency.chunks == 2
    assert server.capacity is not None and server.capacity.queue_limit == 16
    with pytest.raises(SystemExit, match="bad --fault"):
        build_server(parse_args(["--fault", "nonsense=0.1"]))
