"""A hosted provider's key never reaches a self-hosted URL, on every entry that takes a
simulator or judge spec: ``chatsim run``, ``chatsim loadtest``, ``chatsim report --judge``,
``chatsim.evaluate`` and ``chatsim.loadtest.loadtest``. The self-hosted server (``--base-url``)
records every header; the "OpenAI" server is a second loopback server (``OPENAI_BASE_URL``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from e2e_kit import ASSISTANT_REPLY, CHATSIM, cli_env, prompted_user

import chatsim
from chatsim.loadtest import loadtest
from chatsim.testing import LoopbackServer, ReplyScript

pytestmark = pytest.mark.anyio

KEY = "sk-hosted-PLANTED-0123456789abcdef"


@dataclass
class Hosts:
    self_hosted: LoopbackServer
    openai: LoopbackServer

    @property
    def env(self) -> dict[str, str]:
        return {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": self.openai.base_url}

    def check(self) -> None:
        """The self-hosted host served the assistant and never saw the key; OpenAI's did."""
        seen = self.self_hosted.requests
        assert seen and all(r.endpoint != "chat" or r.body["model"] == "assistant" for r in seen)
        assert not [r for r in seen if KEY in " ".join(r.headers.values())]
        user = self.openai.requests
        assert user and all(r.headers.get("authorization") == f"Bearer {KEY}" for r in user)


@pytest.fixture
async def hosts() -> AsyncIterator[Hosts]:
    async with (
        LoopbackServer(ReplyScript(ASSISTANT_REPLY)) as self_hosted,
        LoopbackServer(ReplyScript(prompted_user)) as openai,
    ):
        yield Hosts(self_hosted, openai)


def _common(hosts: Hosts, tmp_path: Path) -> list[str]:
    return ["--model", "vllm:assistant", "--base-url", hosts.self_hosted.base_url,
            "--simulator", "prompted:gpt-4o-mini", "--subset", "college_math",
            "--out", str(tmp_path)]  # fmt: skip


async def test_cli_run(hosts: Hosts, tmp_path: Path) -> None:
    args = [*CHATSIM, "run", *_common(hosts, tmp_path), "--limit", "2", "--quiet"]
    done = await anyio.run_process(args, env=cli_env(hosts.env), check=False)
    assert done.returncode == 0, done.stderr.decode()
    hosts.check()


async def test_cli_loadtest(hosts: Hosts, tmp_path: Path) -> None:
    args = [*CHATSIM, "loadtest", *_common(hosts, tmp_path), "--rate", "20", "--conversations",
            "3", "--quiet"]  # fmt: skip
    done = await anyio.run_process(args, env=cli_env(hosts.env), check=False)
    assert done.returncode == 0, done.stderr.decode()
    hosts.check()


async def test_evaluate(hosts: Hosts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in hosts.env.items():
        monkeypatch.setenv(name, value)
    await chatsim.evaluate(
        "vllm:assistant", "college_math", simulator="prompted:gpt-4o-mini", limit=2,
        base_url=hosts.self_hosted.base_url, out_dir=tmp_path,
    )  # fmt: skip
    hosts.check()


async def test_loadtest_api(hosts: Hosts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in hosts.env.items():
        monkeypatch.setenv(name, value)
    await loadtest(
        "vllm:assistant", base_url=hosts.self_hosted.base_url, simulator="prompted:gpt-4o-mini",
        rate=20, conversations=3, subset="college_math", out_dir=tmp_path,
    )  # fmt: skip
    hosts.check()


async def test_a_hosted_load_test_target_keeps_its_endpoint(hosts: Hosts, tmp_path: Path) -> None:
    args = [*CHATSIM, "loadtest", "--model", "gpt-4o", "--base-url", hosts.self_hosted.base_url,
            "--subset", "college_math", "--rate", "20", "--conversations", "2", "--quiet",
            "--out", str(tmp_path)]  # fmt: skip
    done = await anyio.run_process(args, env=cli_env(hosts.env), check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert not hosts.self_hosted.requests
    assert hosts.openai.requests


@pytest.mark.parametrize("command", ["run", "loadtest"])
async def test_a_simulator_endpoint_for_a_hosted_model_is_refused(
    hosts: Hosts, tmp_path: Path, command: str
) -> None:
    size = ["--limit", "2"] if command == "run" else ["--rate", "5", "--conversations", "1"]
    args = [*CHATSIM, command, *_common(hosts, tmp_path), *size,
            "--simulator-base-url", hosts.self_hosted.base_url]  # fmt: skip
    done = await anyio.run_process(args, env=cli_env(hosts.env), check=False)
    assert done.returncode == 2, done.stderr.decode()
    assert "OPENAI_BASE_URL" in done.stderr.decode()
    assert not hosts.self_hosted.requests and not hosts.openai.requests


async def test_the_judge(hosts: Hosts, tmp_path: Path) -> None:
    run = [*CHATSIM, "run", *_common(hosts, tmp_path), "--limit", "2", "--quiet", "--run-id", "r"]
    done = await anyio.run_process(run, env=cli_env(hosts.env), check=False)
    assert done.returncode == 0, done.stderr.decode()
    report = [*CHATSIM, "report", str(tmp_path / "r"), "--judge", "gpt-4o-mini"]
    judged = await anyio.run_process(report, env=cli_env(hosts.env), check=False)
    assert judged.returncode == 0, judged.stderr.decode()
    hosts.check()
    assert (tmp_path / "r" / "judge.jsonl").is_file()
    # A judge endpoint for a hosted judge model is refused, before anything is sent.
    before = len(hosts.self_hosted.requests)
    refused = await anyio.run_process(
        [*report, "--judge-base-url", hosts.self_hosted.base_url], env=cli_env(hosts.env),
        check=False,
    )  # fmt: skip
    assert refused.returncode == 2, refused.stderr.decode()
    assert "OPENAI_BASE_URL" in refused.stderr.decode()
    assert len(hosts.self_hosted.requests) == before
