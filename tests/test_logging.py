"""Structured logging: console and JSON formats, bound ids, run-dir file, no secrets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
import structlog

from chatsim import ConfigError, RateLimitError
from chatsim._logging import (
    LOG_FILE_NAME,
    bound_ids,
    configure_logging,
    get_logger,
    shutdown_logging,
)
from chatsim._util._redact import register_secret
from chatsim.protocol._types import Message, Role
from chatsim.targets._caller import CallPolicy, TargetCaller
from chatsim.targets._contract import AdapterReply, TargetAdapter, TargetRequest
from chatsim.testing import FakeClock

SECRET = "sk-proj-PLANTED0123456789abcdefSECRET"
BARE_SECRET = "bare-planted-token-value-42"  # not key-shaped: only registration catches it


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    register_secret(SECRET)
    register_secret(BARE_SECRET)
    yield
    shutdown_logging()
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def _owned() -> list[logging.Handler]:
    return [h for h in logging.getLogger("chatsim").handlers if getattr(h, "_chatsim_handler", 0)]


def _log_everything_secret() -> None:
    log = get_logger("chatsim.test")
    log.warning(f"request failed for {SECRET}", key=BARE_SECRET, api_key="anything")
    log.info(
        "nested",
        payload={"headers": {"authorization": f"Bearer {BARE_SECRET}"}},
        items=[SECRET, 3],
        prompt_tokens=12,
    )
    try:
        raise RuntimeError(f"boom {SECRET} {BARE_SECRET}")
    except RuntimeError:
        log.exception("crashed")
    logging.getLogger("chatsim.stdlib").error("stdlib %s", BARE_SECRET)


def test_json_file_and_console_hold_no_secret(tmp_path: Path) -> None:
    out = io.StringIO()
    path = configure_logging(tmp_path, json=True, level="debug", stream=out)
    assert path == tmp_path / LOG_FILE_NAME
    _log_everything_secret()
    shutdown_logging()
    text = path.read_text()
    for artifact in (text, out.getvalue()):
        assert SECRET not in artifact
        assert BARE_SECRET not in artifact
        assert "PLANTED" not in artifact
    events = [json.loads(line) for line in text.splitlines()]
    assert [e["event"] for e in events] == [
        "request failed for ***",
        "nested",
        "crashed",
        "stdlib ***",
    ]
    assert events[0]["api_key"] == "***"
    assert events[1]["prompt_tokens"] == 12  # token counts are not "tokens" to mask
    assert "boom ***" in events[2]["exception"]
    assert {e["level"] for e in events} == {"warning", "info", "error"}


def test_console_format_is_readable_and_scrubbed() -> None:
    out = io.StringIO()
    assert configure_logging(None, json=False, level="info", stream=out) is None
    _log_everything_secret()
    text = out.getvalue()
    assert SECRET not in text and BARE_SECRET not in text
    first = text.splitlines()[0]
    assert "request failed for ***" in first and "warning" in first
    with pytest.raises(json.JSONDecodeError):
        json.loads(first)


def test_level_filters_and_bad_level_is_a_config_error() -> None:
    out = io.StringIO()
    configure_logging(None, json=True, level="warning", stream=out)
    log = get_logger("chatsim.test")
    log.info("hidden")
    log.warning("shown")
    assert [json.loads(line)["event"] for line in out.getvalue().splitlines()] == ["shown"]
    with pytest.raises(ConfigError, match="unknown log level 'loud'"):
        configure_logging(None, level="loud")


@pytest.mark.anyio
async def test_run_and_episode_ids_bound_through_tasks(tmp_path: Path) -> None:
    configure_logging(tmp_path, json=True, level="info", stream=io.StringIO())
    log = get_logger("chatsim.runner")

    async def episode(episode_id: str) -> None:
        with bound_ids(episode_id=episode_id):
            await anyio.lowlevel.checkpoint()
            log.info("episode step")

    with bound_ids(run_id="run-1", episode_id=None):
        async with anyio.create_task_group() as tg:
            for name in ("e1", "e2"):
                tg.start_soon(episode, name)
        log.info("run done")
    log.info("after")
    shutdown_logging()
    events = [json.loads(line) for line in (tmp_path / LOG_FILE_NAME).read_text().splitlines()]
    ids = sorted((e["event"], e.get("run_id"), e.get("episode_id")) for e in events)
    assert ids == [
        ("after", None, None),
        ("episode step", "run-1", "e1"),
        ("episode step", "run-1", "e2"),
        ("run done", "run-1", None),
    ]


def test_reconfiguring_replaces_handlers_and_appends_to_the_file(tmp_path: Path) -> None:
    for _ in range(3):
        configure_logging(tmp_path, json=True, stream=io.StringIO())
    get_logger("chatsim.test").warning("once")
    assert len(_owned()) == 2
    configure_logging(tmp_path, json=True, stream=io.StringIO())
    get_logger("chatsim.test").warning("twice")
    shutdown_logging()
    lines = (tmp_path / LOG_FILE_NAME).read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["once", "twice"]
    assert _owned() == []


class _RateLimitedOnce(TargetAdapter):
    name = "fake"

    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, request: TargetRequest, *, now: Callable[[], float]) -> AdapterReply:
        self.calls += 1
        if self.calls == 1:
            headers = {"retry-after": "2"}
            raise RateLimitError(f"429 for {SECRET}", status_code=429, headers=headers)
        return AdapterReply(text="ok")


@pytest.mark.anyio
async def test_caller_retry_warnings_reach_the_log_file(tmp_path: Path) -> None:
    configure_logging(tmp_path, json=True, stream=io.StringIO())
    clock = FakeClock()
    caller = TargetCaller(_RateLimitedOnce(), CallPolicy(), clock=clock, sleep=clock.sleep)
    with bound_ids(run_id="r", episode_id="e"):
        await caller.call(TargetRequest(messages=(Message(Role.USER, "hi"),)))
    shutdown_logging()
    text = (tmp_path / LOG_FILE_NAME).read_text()
    (event,) = [json.loads(line) for line in text.splitlines()]
    assert event["event"] == "retrying target call"
    assert (event["outcome"], event["wait"], event["status"]) == ("rate_limit", 2.0, 429)
    assert (event["run_id"], event["episode_id"], event["level"]) == ("r", "e", "warning")
    assert clock.sleeps == [2.0]
    assert SECRET not in text
