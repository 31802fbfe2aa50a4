"""The summary in the terminal: rich tables, compact after a run, complete in ``report``."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from chatsim.metrics._latency import Percentiles
from chatsim.metrics._summary import RunSummary
from chatsim.metrics._table import ALL, HEADERS, accuracy_table, format_interval, format_pct

__all__ = ["render_summary"]


def _table(title: str, headers: Sequence[str]) -> Table:
    table = Table(title=title, title_justify="left")
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i == 0 else "right")
    return table


def _ms(p: Percentiles, field: str) -> str:
    value = getattr(p, field)
    return "–" if value is None else f"{value * 1000:.0f} ms"


def _share(k: int, n: int) -> str:
    return "–" if n == 0 else f"{k}/{n} ({k / n * 100:.0f}%)"


def _accuracy(summary: RunSummary, console: Console) -> None:
    level = f"{round(summary.confidence * 100)}% CI"
    table = Table(title="User–AI accuracy", title_justify="left")
    for i, header in enumerate(HEADERS):
        table.add_column(
            level if header == "95% CI" else header, justify="left" if i < 2 else "right"
        )
    for row in accuracy_table(summary):
        table.add_row(*row.cells(), style="bold" if row.subject == ALL else None)
    if not summary.models:
        table.add_row("(no episodes)", *[""] * (len(HEADERS) - 1))
    console.print(table)


def _baseline(summary: RunSummary, console: Console) -> None:
    if not summary.baseline:
        return
    headers = ["model", "subject", "mode", "questions", "AI alone", "user–AI", "gap", "gap CI", "p"]
    table = _table("AI alone vs user–AI (paired over questions)", headers)
    for row in summary.baseline:
        g = row.gap
        gap = "–" if g.diff is None else f"{g.diff * 100:+.1f}"
        p = "–" if g.p_value is None else f"{g.p_value:.2g}"
        table.add_row(row.model, row.subject, row.mode, str(g.questions), format_pct(g.b),
                      format_pct(g.a), gap, format_interval(g.ci.low, g.ci.high), p)  # fmt: skip
    console.print(table)


def _latency_cost(summary: RunSummary, console: Console) -> None:
    headers = ["model", "calls", "TTFT p50", "TTFT p95", "e2e p50", "e2e p95",
               "e2e p95 (from request)", "tokens/episode", "est. cost"]  # fmt: skip
    table = _table("Latency (from send) and cost", headers)
    for name, m in summary.models.items():
        lat, cost = m.latency, m.cost
        price = "tokens only" if cost.cost is None else f"{cost.cost:.4f} {cost.currency}"
        tokens = "–" if cost.tokens_per_episode is None else f"{cost.tokens_per_episode:.0f}"
        table.add_row(name, str(lat.calls), _ms(lat.ttft_sent, "p50"), _ms(lat.ttft_sent, "p95"),
                      _ms(lat.e2e_sent, "p50"), _ms(lat.e2e_sent, "p95"),
                      _ms(lat.e2e_requested, "p95"), tokens, price)  # fmt: skip
    console.print(table)


def _behaviour(summary: RunSummary, console: Console) -> None:
    headers = ["model", "pass^1", "pass^k", "majority vote", "copied question",
               "follows assistant", "assistant changed", "wrong→right", "right→wrong"]  # fmt: skip
    table = _table("Consistency and conversation behaviour", headers)
    for name, m in summary.models.items():
        c, b = m.consistency, m.behaviour
        k = max(c.pass_k, default=None)
        pass_k = "–" if k is None else f"{format_pct(c.pass_k[k])} (k={k})"
        copied = _share(b.copied_question, b.copy_checked)
        table.add_row(name, format_pct(c.pass_k.get(1)), pass_k, format_pct(c.majority_accuracy),
                      copied, _share(b.follows, b.follow_checked), _share(b.changed, b.episodes),
                      str(b.wrong_to_right), str(b.right_to_wrong))  # fmt: skip
    console.print(table)


def _recovery(summary: RunSummary, console: Console) -> None:
    headers = ["model", "target calls", "retried", "failed attempts", "recovered episodes",
               "lost to target errors", "time added by retries"]  # fmt: skip
    table = _table("Recovery", headers)
    for name, m in summary.models.items():
        r = m.recovery
        failed = ", ".join(f"{k} {v}" for k, v in r.failed_attempts.items()) or "0"
        table.add_row(name, str(r.calls), str(r.retried_calls), failed,
                      _share(r.recovered_episodes, r.episodes_with_failures),
                      str(r.lost_to_target_errors), f"{r.retry_seconds:.1f} s")  # fmt: skip
    console.print(table)


def render_summary(
    summary: RunSummary, console: Console | None = None, *, details: bool = False
) -> None:
    """Print the summary: accuracy, AI-alone gap, latency and cost; ``details`` adds
    consistency, behaviour and recovery tables."""
    console = console or Console()
    _accuracy(summary, console)
    _baseline(summary, console)
    if summary.models:
        _latency_cost(summary, console)
        if details:
            _behaviour(summary, console)
            _recovery(summary, console)
    for note in summary.notes:
        console.print(f"[dim]• {note}[/dim]", highlight=False)
    if details:
        console.print(f"[dim]• prices: {summary.price_source}[/dim]", highlight=False)
