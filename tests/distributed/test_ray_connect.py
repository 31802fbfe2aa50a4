"""Reaching a Ray cluster: the workers of ``--ray auto`` / ``ray://`` get the variables the
run's adapters declared (only those, merged under a ``ray job submit`` runtime env), their
values are never logged, and a ``ray://`` head that does not answer fails at once.

``ray.init`` is replaced by a recorder (no cluster in CI); ``test_ray_run`` runs a real one.
"""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from chatsim import ConfigError
from chatsim._logging import configure_logging, shutdown_logging
from chatsim.cli import app
from chatsim.distributed import _ray
from chatsim.distributed._ray import check_address, connect, worker_environment
from chatsim.targets import TargetSettings, adapter_environment, reads_environment
from chatsim.testing import FakeTarget, registered_adapter

needs_ray = pytest.mark.skipif(find_spec("ray") is None, reason="needs ray (chatsim[ray])")

# Not key-shaped and never registered: only not logging values keeps them out of the logs.
VALUE = "plain-value-7f3a"
ENV = {"FAKE_KEY": VALUE, "FAKE_URL": "http://fake", "OTHER_SECRET": "no", "EMPTY_ONE": ""}


@reads_environment("FAKE_KEY", "FAKE_URL", "EMPTY_ONE")
def _fake_factory(model: str, settings: TargetSettings) -> FakeTarget:
    return FakeTarget(default="B")


@pytest.fixture
def fake() -> Iterator[None]:
    with registered_adapter("fake", _fake_factory):
        yield


class _FakeRay:
    """What ``connect`` uses of ``ray``, recording ``init``'s arguments."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail = fail
        self.up = False

    def is_initialized(self) -> bool:
        return self.up

    def init(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)
        if self.fail is not None:
            raise self.fail
        self.up = True

    def cluster_resources(self) -> dict[str, float]:
        return {"CPU": 3.0}

    def shutdown(self) -> None:
        self.up = False


@pytest.fixture
def fake_ray(monkeypatch: pytest.MonkeyPatch) -> _FakeRay:
    ray = _FakeRay()
    monkeypatch.setattr(_ray, "import_ray", lambda: ray)
    monkeypatch.delenv("RAY_JOB_CONFIG_JSON_ENV_VAR", raising=False)
    monkeypatch.delenv("CHATSIM_RAY_FORWARD_ENV", raising=False)
    return ray


def test_adapters_declare_what_they_read() -> None:
    assert "OPENAI_API_KEY" in adapter_environment("openai")
    assert "VLLM_API_KEY" in adapter_environment("vllm")
    assert adapter_environment("vllm") != adapter_environment("openai")


@pytest.mark.usefixtures("fake")
def test_worker_environment_holds_the_runs_variables_only() -> None:
    env = {**ENV, "OPENAI_API_KEY": "sk-x", "CHATSIM_SIMULATOR_API_KEY": "sim"}
    assert worker_environment(["fake:a"], "scripted", env) == {
        "FAKE_KEY": VALUE,
        "FAKE_URL": "http://fake",
    }  # not OTHER_SECRET, not the unset EMPTY_ONE, not the unused OpenAI key
    prompted = worker_environment(["fake:a"], "prompted:gpt-4o", env)
    assert prompted == {"FAKE_KEY": VALUE, "FAKE_URL": "http://fake", "OPENAI_API_KEY": "sk-x"}
    served = worker_environment(["fake:a"], "served:chatbench", env)
    assert served["CHATSIM_SIMULATOR_API_KEY"] == "sim"
    assert "OPENAI_API_KEY" not in served


@pytest.mark.parametrize("address", ["auto", "ray://head:10001"])
def test_a_cluster_gets_the_variables_and_the_log_only_their_names(
    fake_ray: _FakeRay, address: str, tmp_path: Path
) -> None:
    console = io.StringIO()
    log = configure_logging(tmp_path, json=True, level="debug", stream=console)
    try:
        with connect(address, None, env_vars={"FAKE_KEY": VALUE}) as count:
            assert count == 3  # the cluster's CPUs
    finally:
        shutdown_logging()
    assert fake_ray.calls == [
        {"address": address, "runtime_env": {"env_vars": {"FAKE_KEY": VALUE}}}
    ]
    assert log is not None
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(e.get("variables") == ["FAKE_KEY"] for e in events)
    for text in (log.read_text(), console.getvalue()):
        assert VALUE not in text


def test_a_local_ray_inherits_the_environment(fake_ray: _FakeRay) -> None:
    with connect("local", 2, env_vars={"FAKE_KEY": VALUE}):
        pass
    (call,) = fake_ray.calls
    assert "runtime_env" not in call and "address" not in call


def test_under_ray_job_submit_the_jobs_variables_win(
    fake_ray: _FakeRay, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = {"runtime_env": {"env_vars": {"FAKE_KEY": "from-job"}, "working_dir": "."}}
    monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", json.dumps(job))
    with connect("auto", 1, env_vars={"FAKE_KEY": VALUE, "FAKE_URL": "u"}):
        pass
    # Ray merges this into the job's runtime env and refuses a variable set in both.
    assert fake_ray.calls[0]["runtime_env"] == {"env_vars": {"FAKE_URL": "u"}}
    fake_ray.calls.clear()
    with connect("auto", 1, env_vars={"FAKE_KEY": VALUE}):
        pass
    assert fake_ray.calls[0]["runtime_env"] is None


def test_forwarding_can_be_switched_off(
    fake_ray: _FakeRay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATSIM_RAY_FORWARD_ENV", "0")  # the pods have the keys already
    with connect("ray://head:10001", 1, env_vars={"FAKE_KEY": VALUE}):
        pass
    assert fake_ray.calls[0]["runtime_env"] is None


def test_auto_without_a_cluster_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    ray = _FakeRay(fail=ConnectionError("Could not find any running Ray instance."))
    monkeypatch.setattr(_ray, "import_ray", lambda: ray)
    with pytest.raises(ConfigError, match=r"ray start --head.*--ray local"), connect("auto", 1):
        pass


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there now: a connection is refused at once


@needs_ray
@pytest.mark.parametrize("address", ["ray://", "ray://:10001", "ray://head:port"])
def test_a_malformed_ray_address_is_refused(address: str) -> None:
    with pytest.raises(ConfigError, match="ray://HOST:PORT"):
        check_address(address, None)


@needs_ray
def test_an_unreachable_head_fails_before_anything_is_written(tmp_path: Path) -> None:
    port = _closed_port()
    out = tmp_path / "runs"
    args = ["run", "--model", "vllm:a", "--base-url", "http://127.0.0.1:9/v1", "--simulator"]
    args += ["scripted", "--limit", "1", "--out", str(out), "--ray", f"ray://127.0.0.1:{port}"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f"nothing answers at 127.0.0.1:{port}" in result.output
    assert "Ray Client server" in result.output
    assert not out.exists()


@needs_ray
def test_a_reachable_head_without_ray_client_names_the_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_ray, "find_spec", lambda name: None)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with pytest.raises(ConfigError, match=r"pip install 'ray\[client\]'"):
            check_address(f"ray://127.0.0.1:{port}", None)


def test_worker_environment_of_a_real_run_config() -> None:
    # The names come from the installed openai adapter; values from this mapping only.
    env = {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "", "VLLM_API_KEY": "v"}
    assert worker_environment(["gpt-4o"], None, env) == {"OPENAI_API_KEY": "k"}
