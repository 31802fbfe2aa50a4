"""The live terminal view: arrivals, in flight, completed, errors, recent latency, loop lag.

Redrawn from the event loop (``auto_refresh=False``: no render thread competing for the GIL)
twice a second; one redraw is a few numpy percentiles over the sliding window and a small
table, well under a millisecond of the loop's time per redraw at thousands of calls per second.
"""

from __future__ import annotations

import time

import anyio
import numpy as np
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from chatsim._util._clock import Clock
from chatsim.config import LoadTestConfig
from chatsim.loadtest._lag import LagMonitor
from chatsim.loadtest._live_stats import LiveStats

__all__ = ["LiveView"]

REFRESH_SECONDS = 0.5


def _ms(values: np.ndarray, q: float) -> str:
    return f"{np.percentile(values, q) * 1000:.0f}" if values.size else "-"


class LiveView:
    """Shows ``stats`` (and the lag monitor) on ``console`` while ``run`` runs."""

    def __init__(
        self,
        console: Console,
        stats: LiveStats,
        lag: LagMonitor,
        config: LoadTestConfig,
        clock: Clock,
    ) -> None:
        self.console = console
        self.stats = stats
        self.lag = lag
        self.config = config
        self._now = clock.now
        self._stages = len(config.loads())
        self._started = time.monotonic()

    async def run(self) -> None:
        with Live(console=self.console, auto_refresh=False, transient=False) as live:
            try:
                while True:
                    live.update(self.render(), refresh=True)
                    await anyio.sleep(REFRESH_SECONDS)
            finally:  # last picture on exit (cancellation included)
                live.update(self.render(), refresh=True)

    def render(self) -> Group:
        stats, config = self.stats, self.config
        now = self._now()
        ttft, e2e = stats.recent_latency(now)
        lag = self.lag.recent(config.window, now)
        unit = "conv/s" if config.mode == "open" else "users"
        head = Text.assemble(
            ("load test ", "bold"),
            f"{config.model}  stage {max(stats.stage, 0) + 1}/{self._stages}  ",
            (f"{stats.load:g} {unit}", "cyan"),
            f"  {time.monotonic() - self._started:.0f}s",
        )
        counts = Table.grid(padding=(0, 2))
        for _ in range(7):
            counts.add_column(justify="right")
        counts.add_row(
            "arrivals", "in flight", "calls in flight", "completed", "errors", "abandoned",
            "failed calls",
        )  # fmt: skip
        values = (
            stats.arrivals, stats.in_flight, stats.calls_in_flight, stats.completed,
            stats.errors, stats.abandoned, stats.call_errors,
        )  # fmt: skip
        counts.add_row(*(str(v) for v in values))
        latency = Table(
            title=f"last {config.window:g}s (ms, from send)", title_justify="left", box=None
        )
        for name in ("", "n", "p50", "p95", "p99"):
            latency.add_column(name, justify="right")
        latency.add_row("TTFT", str(ttft.size), _ms(ttft, 50), _ms(ttft, 95), _ms(ttft, 99))
        latency.add_row("end-to-end", str(e2e.size), _ms(e2e, 50), _ms(e2e, 95), _ms(e2e, 99))
        latency.add_row("loop lag", str(lag.size), _ms(lag, 50), _ms(lag, 95), _ms(lag, 99))
        return Group(head, counts, latency)
