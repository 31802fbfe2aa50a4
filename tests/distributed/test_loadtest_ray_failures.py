"""A Ray load test whose load worker fails: it dies mid-stage, stops answering, its stage task
raises, or a call to it fails. Each ends the run at once with a ``ChatsimError`` naming the
worker, the other workers stopped, and what ran kept: the driver is driven in process with fake
worker handles, a ``LoadWorker`` runs in process (no Ray), and one test kills a real load
worker on Ray."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
from array import array
from collections.abc import Callable, Coroutine
from importlib.util import find_spec
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from ray_kit import actor_table, all_dead
from structlog.testing import capture_logs

from chatsim import ChatsimError
from chatsim._exceptions import ConfigError
from chatsim.config import LoadTestConfig
from chatsim.loadtest import LOAD_SUMMARY_FILE, loadtest
from chatsim.loadtest._live_stats import COUNTERS
from chatsim.loadtest._stage import StageRun
from chatsim.testing import FakeClock, Latency, LoopbackServer, ReplyScript

needs_ray = pytest.mark.skipif(find_spec("ray") is None, reason="needs ray (chatsim[ray])")
pytestmark = [pytest.mark.anyio, needs_ray]

RUN_DIR = Path("/runs/lt")


def _counters(arrivals: int) -> tuple[int, ...]:
    return tuple(arrivals if name == "arrivals" else 0 for name in COUNTERS)


def _report(records: int = 0, arrivals: int = 0, **fields: Any) -> Any:
    from chatsim.loadtest._ray_worker import Report

    done = [SimpleNamespace(extra={"load": {"scheduled_at": 100.0 + k}}) for k in range(records)]
    return Report(done, _counters(arrivals), None, [], array("d"), array("d"), **fields)  # type: ignore[arg-type]


class _Method:
    """``handle.name.remote(...)``: an awaitable, as Ray's ``ObjectRef``."""

    def __init__(self, body: Callable[..., Coroutine[Any, Any, Any]]) -> None:
        self.body = body

    def remote(self, *args: Any) -> Coroutine[Any, Any, Any]:
        return self.body(*args)


_SILENT = object()
"""In ``_FakeWorker``'s reports: a report that never comes."""


class _FakeWorker:
    """A load worker's handle: ``report`` gives ``reports`` in turn (an exception is raised),
    then waits for ``halt`` and reports its part of the stage."""

    def __init__(self, *reports: Any) -> None:
        self.reports = list(reports)
        self.halted = anyio.Event()
        self.halts = 0
        self.last = _report()
        self.begin, self.report, self.halt = (
            _Method(self._begin),
            _Method(self._report),
            _Method(self._halt),
        )

    async def _begin(self, *args: Any) -> None:
        pass

    async def _report(self) -> Any:
        if self.reports:
            item = self.reports.pop(0)
            if isinstance(item, BaseException):
                raise item
            if item is _SILENT:
                await anyio.sleep_forever()  # alive, but its loop never answers
            self.last = item
            return item
        with anyio.move_on_after(0.01):  # a live worker's stage ends once it is halted;
            await self.halted.wait()
        if not self.halted.is_set():  # meanwhile it reports, nothing new, as a live one does
            return dataclasses.replace(self.last, records=[], lag_times=array("d"),
                                       lag_values=array("d"))  # fmt: skip
        part = StageRun(
            0,
            4.0,
            started_at=100.0,
            ended_at=101.0,
            arrivals=2,
            scheduled=array("d", [100.0, 100.5]),
        )
        return _report(stage=part)

    async def _halt(self) -> None:
        self.halts += 1
        self.halted.set()


def _driver(handles: list[_FakeWorker], monkeypatch: pytest.MonkeyPatch) -> Any:
    from chatsim.loadtest import _ray_driver

    monkeypatch.setattr(_ray_driver, "START_LEAD", 0.0)  # the stage starts at once
    config = LoadTestConfig.build(model="vllm:x", rate=4.0, duration=1.0, arrival="constant")
    driver = _ray_driver.LoadDriver(config, "lt", RUN_DIR, len(handles), FakeClock(100.0))
    driver.handles = handles
    return driver


async def test_a_worker_dead_mid_stage_stops_the_others_and_keeps_the_stage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ray.exceptions import ActorDiedError

    survivor = _FakeWorker(_report(records=1, arrivals=1))
    dying = _FakeWorker(_report(records=1, arrivals=3), ActorDiedError())
    driver = _driver([survivor, dying], monkeypatch)
    written: list[Any] = []
    with capture_logs() as logs:
        await driver._stages(SimpleNamespace(append=written.append))

    assert isinstance(driver.failure, ChatsimError)
    message = str(driver.failure)
    assert "load worker 1 of 2 died" in message and "run it again" in message
    assert str(RUN_DIR) in message
    assert isinstance(driver.failure.__cause__, ActorDiedError)
    assert (survivor.halts, dying.halts) == (1, 0)  # the survivor was stopped, not the dead one
    assert len(written) == 2  # every record that reached the driver is kept
    # The interrupted stage: the survivor's part and what reached the driver of the lost one
    # (3 arrivals, 1 recorded: 2 abandoned with it).
    (stage,) = driver.stages
    assert (stage.arrivals, stage.abandoned, stage.workers) == (2 + 3, 2, 2)
    assert sorted(stage.scheduled) == [100.0, 100.0, 100.5]
    # Logged below warning: the run's error names the loss, and the CLI prints that once.
    lost = [(e["worker"], e["log_level"]) for e in logs if e["event"] == "load worker lost"]
    assert lost == [(1, "info")]


async def test_a_worker_alive_but_silent_is_lost_and_the_others_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chatsim.loadtest import _ray_driver

    monkeypatch.setattr(_ray_driver, "SILENT_SECONDS", 0.05)  # a minute in real use
    survivor = _FakeWorker(_report(records=1, arrivals=1))
    silent = _FakeWorker(_report(records=1, arrivals=2), _SILENT)
    driver = _driver([survivor, silent], monkeypatch)
    written: list[Any] = []
    await driver._stages(SimpleNamespace(append=written.append))

    assert isinstance(driver.failure, ChatsimError)
    message = str(driver.failure)
    assert "load worker 1 of 2 stopped answering: no report for 0 s" in message
    assert "run it again" in message and str(RUN_DIR) in message
    assert driver.lost == {1}  # ended with the others by ``run`` (ray.kill)
    assert (survivor.halts, silent.halts) == (1, 0)
    assert len(written) == 2  # its record that arrived is kept, and the survivor's
    (stage,) = driver.stages
    assert (stage.arrivals, stage.abandoned) == (2 + 2, 1)  # its 2 arrivals, 1 recorded


class _Frozen(_FakeWorker):
    """A worker whose loop is blocked: no call to it ever returns (``halt`` either)."""

    async def _begin(self, *args: Any) -> None:
        if not self.reports:  # frozen from the start
            await anyio.sleep_forever()

    async def _halt(self) -> None:
        await anyio.sleep_forever()


async def test_silent_workers_that_ignore_halt_do_not_hang_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chatsim.loadtest import _ray_driver

    monkeypatch.setattr(_ray_driver, "SILENT_SECONDS", 0.05)  # a minute in real use
    survivor = _FakeWorker(_report(records=1, arrivals=1))
    frozen = [_Frozen(_report(records=1, arrivals=2), _SILENT) for _ in range(2)]
    driver = _driver([survivor, *frozen], monkeypatch)
    with anyio.fail_after(30):  # a ceiling, not a timing: without the bound it never ends
        await driver._stages(SimpleNamespace(append=lambda record: None))
    assert "stopped answering" in str(driver.failure)
    assert driver.lost == {1, 2} and survivor.halted.is_set()  # halted (once per loss)


async def test_a_worker_silent_from_the_stages_start_is_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chatsim.loadtest import _ray_driver

    monkeypatch.setattr(_ray_driver, "SILENT_SECONDS", 0.05)
    survivor = _FakeWorker(_report(records=1, arrivals=1))
    driver = _driver([survivor, _Frozen()], monkeypatch)
    with anyio.fail_after(30):
        await driver._stages(SimpleNamespace(append=lambda record: None))
    assert "load worker 1 of 2 stopped answering" in str(driver.failure)
    assert driver.lost == {1} and survivor.halts == 1


async def test_a_stage_task_that_raises_fails_the_run_at_once_with_its_traceback_logged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trace = 'Traceback (most recent call last):\n  File "_engine.py"\nKeyError: 3\n'
    broken = _FakeWorker(_report(error="KeyError: 3", trace=trace))
    other = _FakeWorker()
    driver = _driver([other, broken], monkeypatch)
    with capture_logs() as logs:
        await driver._stages(SimpleNamespace(append=lambda record: None))
    assert isinstance(driver.failure, ChatsimError)
    assert "load worker 1 of 2 failed: KeyError: 3" in str(driver.failure)
    assert other.halts == 1
    (failed,) = [e for e in logs if e["event"] == "load worker failed"]
    assert (failed["worker"], failed["traceback"]) == (1, trace)
    assert len(driver.stages) == 1  # the stage so far, kept


async def test_a_failed_remote_call_unwraps_a_chatsim_cause_and_names_the_worker_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ray.exceptions import ObjectLostError, RayTaskError

    refused = ConfigError("set CHATSIM_X to a number")
    cases = [
        (RayTaskError("report", "tb", refused), "set CHATSIM_X to a number"),
        (
            RayTaskError("report", "tb", ValueError("bad")),
            "load worker 0 of 1 failed: ValueError: bad",
        ),
        (ObjectLostError("ab" * 14, None, "call"), "a result of load worker 0 of 1 was lost"),
    ]
    for error, expected in cases:
        driver = _driver([_FakeWorker(error)], monkeypatch)
        await driver._stages(SimpleNamespace(append=lambda record: None))
        assert isinstance(driver.failure, ChatsimError) and expected in str(driver.failure)
    assert driver.failure is not None
    assert len(driver.stages) == 1


def test_a_worker_whose_constructor_raised_is_named_with_the_error() -> None:
    from ray.exceptions import ActorDiedError, RayTaskError

    from chatsim.loadtest._ray_errors import ray_failure

    cause = RayTaskError(
        "__init__", "Traceback\nMissingCredentialError: set OPENAI_API_KEY", KeyError()
    )
    failure = ray_failure(ActorDiedError(cause), "load worker 0 of 2", RUN_DIR)
    assert failure is not None
    assert str(failure).startswith("load worker 0 of 2 could not start:")
    assert ray_failure(ValueError("ours"), "load worker 0 of 2", RUN_DIR) is None  # no Ray error


def test_the_first_chatsim_error_of_nested_groups_is_the_one_raised() -> None:
    from chatsim.loadtest._ray_errors import first_error as _first_error

    wanted = ChatsimError("the one")
    group = ExceptionGroup("outer", [ValueError("x"), ExceptionGroup("inner", [wanted])])
    assert _first_error(group) is wanted
    plain = ValueError("y")
    assert _first_error(ExceptionGroup("g", [plain])) is plain


async def _serving_worker(
    server: LoopbackServer, body: Callable[[Any], Coroutine[Any, Any, None]]
) -> None:
    """A ``LoadWorker`` serving in this process (no Ray), handed to ``body`` once ready."""
    from chatsim.loadtest._ray_worker import LoadWorker

    config = LoadTestConfig.build(
        model="vllm:loopback",
        base_url=server.base_url,
        rate=4.0,
        duration=1.0,
        simulator="scripted",
    )
    worker = LoadWorker(config.model_dump(mode="json"), "lt", 0, 1)

    async def serve() -> None:
        with contextlib.suppress(Exception):  # a failed serve: report() says so, checked below
            await worker.serve(0.0)

    async with anyio.create_task_group() as group:
        group.start_soon(serve)
        assert await worker.wait_ready() is None
        await body(worker)
        await worker.stop()


async def _failed_report(worker: Any) -> Any:
    """The worker's first report that carries an error (a ceiling, not a timing)."""
    with anyio.fail_after(60):
        while (report := await worker.report()).error is None:
            pass
    return report


async def test_a_load_worker_reports_its_stage_task_failing_instead_of_no_stage_forever() -> None:
    async def run(worker: Any) -> None:
        async def broken(*args: Any, **kwargs: Any) -> StageRun:
            raise KeyError("a bug in the stage")

        worker.engine.run_stage = broken
        await worker.begin(0, 4.0, worker.clock.now(), 0)
        report = await _failed_report(worker)
        assert report.stage is None
        assert report.error == "KeyError: 'a bug in the stage'"
        assert report.trace is not None and "Traceback" in report.trace and "broken" in report.trace
        await worker.begin(1, 4.0, worker.clock.now(), 0)  # no stage starts on a failed worker
        assert (await worker.report()).error == report.error

    async with LoopbackServer(ReplyScript("The answer is B.")) as server:
        await _serving_worker(server, run)


async def test_a_load_worker_whose_serve_fails_after_ready_says_so_in_its_report() -> None:
    async def run(worker: Any) -> None:
        async def crash() -> None:
            raise OSError("the lag monitor broke")

        worker.group.start_soon(crash)  # one of serve's own tasks fails
        report = await _failed_report(worker)
        assert report.error is not None and "the lag monitor broke" in report.error

    frozen = gc.get_freeze_count()
    async with LoopbackServer(ReplyScript("The answer is B.")) as server:
        await _serving_worker(server, run)
    assert gc.get_freeze_count() == frozen  # its GC policy handed the frozen objects back


@pytest.mark.usefixtures("local_ray")
async def test_a_load_worker_killed_mid_stage_fails_the_run_and_keeps_its_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ray

    from chatsim.loadtest import _ray_driver, _ray_run

    class KillingDriver(_ray_driver.LoadDriver):
        """Kills load worker 1 once its first records reached the driver: mid-stage."""

        async def _follow(self, worker: int, stage: Any, writer: Any) -> None:
            original = writer.append

            def append(record: Any) -> None:
                original(record)
                if worker == 1 and not self.lost and len(stage.recorded[1]) == 0:
                    ray.kill(self.handles[1])

            await super()._follow(worker, stage, SimpleNamespace(append=append))

    monkeypatch.setattr(_ray_run, "LoadDriver", KillingDriver)
    before = set(actor_table())
    # 20 conversations a second for 30 s, at 20 ms a reply: the kill lands long before the end.
    script = ReplyScript("The answer is B.", latency=Latency(first_token=0.02))
    async with LoopbackServer(script) as server:
        with pytest.raises(ChatsimError, match=r"load worker 1 of 2 died") as raised:
            await loadtest(
                "vllm:loopback", base_url=server.base_url, out_dir=tmp_path, run_id="lt",
                ray="local", workers=2, arrival="constant", rate=20.0, duration=30.0, seed=3,
                bucket=0.5, max_in_flight=8,
            )  # fmt: skip
    assert "run it again" in str(raised.value)
    summary = json.loads((tmp_path / "lt" / LOAD_SUMMARY_FILE).read_text())
    assert summary["interrupted"] is True
    (stage,) = summary["stages"]
    assert 0 < stage["arrivals"] < 20 * 30  # stopped mid-stage
    started = {key for key, (cls, _) in actor_table().items() if cls == "LoadWorker"} - before
    assert len(started) == 2 and await all_dead(started)  # the other worker was ended too
