"""The summary as tables of display strings, shared by the terminal and the HTML report."""

from __future__ import annotations

from dataclasses import dataclass

from chatsim.metrics._accuracy import GroupSummary
from chatsim.metrics._compare import Comparison
from chatsim.metrics._cost import CostSummary, CostTotal
from chatsim.metrics._latency import Percentiles
from chatsim.metrics._stats import Interval
from chatsim.metrics._summary import RunSummary

__all__ = [
    "HEADERS",
    "AccuracyRow",
    "TextTable",
    "accuracy_table",
    "accuracy_text_table",
    "baseline_text_table",
    "behaviour_text_table",
    "comparison_text_tables",
    "cost_cell",
    "cost_text_table",
    "cost_total_cell",
    "format_interval",
    "format_pct",
    "latency_cost_text_table",
    "latency_text_table",
    "question_text_table",
    "recovery_text_table",
]

ALL = "(all)"


@dataclass(frozen=True, slots=True)
class AccuracyRow:
    """One line of the accuracy table. ``subject`` is ``(all)`` for a model's overall line."""

    model: str
    subject: str
    episodes: int
    questions: int
    accuracy: float | None
    ci_low: float | None
    ci_high: float | None
    invalid: int
    forced: int
    errors: int
    mean_turns: float | None

    def cells(self) -> list[str]:
        """The row as display strings."""
        iv = format_interval(self.ci_low, self.ci_high)
        turns = "–" if self.mean_turns is None else f"{self.mean_turns:.1f}"
        return [
            self.model,
            self.subject,
            str(self.episodes),
            str(self.questions),
            format_pct(self.accuracy),
            iv,
            str(self.invalid),
            str(self.forced),
            str(self.errors),
            turns,
        ]


HEADERS = ["model", "subject", "episodes", "questions", "accuracy", "95% CI", "invalid",
           "forced", "errors", "mean turns"]  # fmt: skip


def format_pct(value: float | None, digits: int = 1) -> str:
    """0.7234 -> ``72.3%``; None -> ``–``."""
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def format_interval(low: float | None, high: float | None) -> str:
    """Bounds as percentage points, ``–`` when there is no interval."""
    if low is None or high is None:
        return "–"
    # + 0.0 turns -0.0 into 0.0, so that a bound at zero never prints as "-0.0".
    return f"{round(low * 100, 1) + 0.0:.1f}–{round(high * 100, 1) + 0.0:.1f}"


def _row(model: str, subject: str, g: GroupSummary) -> AccuracyRow:
    ci: Interval = g.ci
    return AccuracyRow(
        model=model,
        subject=subject,
        episodes=g.episodes,
        questions=g.questions,
        accuracy=g.accuracy,
        ci_low=ci.low,
        ci_high=ci.high,
        invalid=g.invalid,
        forced=g.forced,
        errors=sum(g.errors.values()),
        mean_turns=g.mean_turns,
    )


def accuracy_table(summary: RunSummary) -> list[AccuracyRow]:
    """Rows: per model, its overall line then one per subject (only when it has several)."""
    rows: list[AccuracyRow] = []
    for name, m in summary.models.items():
        rows.append(_row(name, ALL, m))
        if len(m.subjects) > 1:
            rows += [_row(name, s, g) for s, g in m.subjects.items()]
    return rows


@dataclass(frozen=True, slots=True)
class TextTable:
    """A table of display strings, rendered by rich in the terminal and as HTML in reports."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    left_columns: int = 1
    """How many leading columns are labels (left-aligned)."""
    empty: str = "(none)"


def _ms(p: Percentiles, field: str) -> str:
    value = getattr(p, field)
    return "–" if value is None else f"{value * 1000:.0f} ms"


def _share(k: int, n: int) -> str:
    return "–" if n == 0 else f"{k}/{n} ({k / n * 100:.0f}%)"


def accuracy_text_table(summary: RunSummary) -> TextTable:
    level = f"{round(summary.confidence * 100)}% CI"
    headers = [level if h == "95% CI" else h for h in HEADERS]
    rows = [row.cells() for row in accuracy_table(summary)]
    return TextTable("User–AI accuracy", headers, rows, left_columns=2, empty="(no episodes)")


def baseline_text_table(summary: RunSummary) -> TextTable:
    headers = ["model", "subject", "mode", "questions", "AI alone", "user–AI", "gap", "gap CI", "p"]
    rows = []
    for row in summary.baseline:
        g = row.gap
        gap = "–" if g.diff is None else f"{g.diff * 100:+.1f}"
        p = "–" if g.p_value is None else f"{g.p_value:.2g}"
        rows.append([row.model, row.subject, row.mode, str(g.questions), format_pct(g.b),
                     format_pct(g.a), gap, format_interval(g.ci.low, g.ci.high), p])  # fmt: skip
    title = "AI alone vs user–AI (gap = user–AI − AI alone, paired over questions)"
    return TextTable(title, headers, rows, left_columns=3, empty="(no AI-alone baseline)")


def latency_cost_text_table(summary: RunSummary) -> TextTable:
    headers = ["model", "calls", "TTFT p50", "TTFT p95", "e2e p50", "e2e p95",
               "e2e p95 (from request)", "tokens/episode", "target cost",
               "simulator cost"]  # fmt: skip
    rows = []
    for name, m in summary.models.items():
        lat, cost = m.latency, m.cost
        tokens = "–" if cost.tokens_per_episode is None else f"{cost.tokens_per_episode:.0f}"
        rows.append([name, str(lat.calls), _ms(lat.ttft_sent, "p50"), _ms(lat.ttft_sent, "p95"),
                     _ms(lat.e2e_sent, "p50"), _ms(lat.e2e_sent, "p95"),
                     _ms(lat.e2e_requested, "p95"), tokens, cost_cell(cost),
                     cost_cell(m.simulator_cost)])  # fmt: skip
    return TextTable("Latency (from send) and cost", headers, rows)


def cost_cell(c: CostSummary) -> str:
    """An estimated cost, ``unpriced`` where the model has no price (never a made-up 0), and
    ``–`` where nothing was called."""
    if c.cost is not None:
        return _money(c.cost, c.currency)
    if c.prompt_tokens or c.completion_tokens or c.calls_without_usage:
        return "unpriced"
    return "–"


def cost_total_cell(t: CostTotal) -> str:
    """A total: the sum, or a lower bound that says what it leaves out."""
    if t.cost is None:
        return "unpriced" if t.prompt_tokens or t.completion_tokens else "–"
    money = _money(t.cost, t.currency)
    if t.complete:
        return money
    if t.unpriced_tokens:
        return f"≥ {money} (+ {t.unpriced_tokens} unpriced tokens)"
    return f"≥ {money} (some calls reported no usage)"


def latency_text_table(summary: RunSummary) -> TextTable:
    """Every latency figure per model: p50 / p95 / p99."""
    rows = []
    for name, m in summary.models.items():
        lat = m.latency
        for label, p in (
            ("TTFT from send", lat.ttft_sent), ("TTFT from request", lat.ttft_requested),
            ("end-to-end from send", lat.e2e_sent), ("end-to-end from request", lat.e2e_requested),
            ("time per output token", lat.tpot), ("longest pause in a stream", lat.max_token_gap),
            ("new connection set-up", lat.connect), ("client queue", lat.queue),
            ("simulator turn", lat.simulator_turn), ("episode wall", lat.episode_wall),
            ("episode simulator", lat.episode_simulator), ("episode target", lat.episode_target),
            ("episode queue", lat.episode_queue),
        ):  # fmt: skip
            rows.append([name, label, str(p.n), _ms(p, "p50"), _ms(p, "p90"), _ms(p, "p95"),
                         _ms(p, "p99"), _ms(p, "max")])  # fmt: skip
        tps = lat.tokens_per_s
        rows.append([name, "output tokens/s", str(tps.n)] + [
            "–" if getattr(tps, f) is None else f"{getattr(tps, f):.1f}"
            for f in ("p50", "p90", "p95", "p99", "max")
        ])  # fmt: skip
    headers = ["model", "figure", "n", "p50", "p90", "p95", "p99", "max"]
    return TextTable("Latency", headers, rows, left_columns=2)


def behaviour_text_table(summary: RunSummary) -> TextTable:
    headers = ["model", "pass^1", "pass^k", "majority vote", "copied question",
               "follows assistant", "assistant changed", "wrong→right", "right→wrong"]  # fmt: skip
    rows = []
    for name, m in summary.models.items():
        c, b = m.consistency, m.behaviour
        k = max(c.pass_k, default=None)
        pass_k = "–" if k is None else f"{format_pct(c.pass_k[k])} (k={k})"
        copied = _share(b.copied_question, b.copy_checked)
        rows.append([name, format_pct(c.pass_k.get(1)), pass_k, format_pct(c.majority_accuracy),
                     copied, _share(b.follows, b.follow_checked), _share(b.changed, b.episodes),
                     str(b.wrong_to_right), str(b.right_to_wrong)])  # fmt: skip
    return TextTable("Consistency and conversation behaviour", headers, rows)


def recovery_text_table(summary: RunSummary) -> TextTable:
    headers = ["model", "target calls", "retried", "failed attempts", "recovered episodes",
               "lost to target errors", "time added by retries"]  # fmt: skip
    rows = []
    for name, m in summary.models.items():
        r = m.recovery
        failed = ", ".join(f"{k} {v}" for k, v in r.failed_attempts.items()) or "0"
        rows.append([name, str(r.calls), str(r.retried_calls), failed,
                     _share(r.recovered_episodes, r.episodes_with_failures),
                     str(r.lost_to_target_errors), f"{r.retry_seconds:.1f} s"])  # fmt: skip
        if r.simulator_failed_attempts or r.lost_to_simulator_errors:  # not the target's
            sim = ", ".join(f"{k} {v}" for k, v in r.simulator_failed_attempts.items()) or "0"
            rows.append([f"{name}: simulator", str(r.simulator_calls),
                         str(r.simulator_retried_calls), sim, "–",
                         f"{r.lost_to_simulator_errors} (simulator errors)",
                         f"{r.simulator_retry_seconds:.1f} s"])  # fmt: skip
    return TextTable("Recovery", headers, rows)


def _money(x: float | None, currency: str) -> str:
    return "–" if x is None else f"{x:.4f} {currency}"


def _cost_row(label: str, side: str, c: CostSummary) -> list[str]:
    per = "–" if c.tokens_per_episode is None else f"{c.tokens_per_episode:.0f}"
    entry = c.price_entry or ("unpriced: not in the price table" if cost_cell(c) != "–" else "–")
    return [label, side, str(c.episodes), str(c.prompt_tokens), str(c.completion_tokens), per,
            entry, cost_cell(c), _money(c.cost_per_episode, c.currency)]  # fmt: skip


def _total_row(side: str, t: CostTotal) -> list[str]:
    return [ALL, side, "", str(t.prompt_tokens), str(t.completion_tokens), "", "",
            cost_total_cell(t), ""]  # fmt: skip


def cost_text_table(summary: RunSummary) -> TextTable:
    """Per model, the target's and the simulator's tokens and cost; then the run's totals."""
    headers = ["model", "side", "episodes", "prompt tokens", "completion tokens",
               "tokens/episode", "price entry", "est. cost", "cost/episode"]  # fmt: skip
    rows = []
    simulator = "simulator: " + (", ".join(summary.simulators) or "–")
    for name, m in summary.models.items():
        rows += [_cost_row(name, "target", m.cost), _cost_row(name, simulator, m.simulator_cost)]
    if summary.models:
        c = summary.cost
        rows += [_total_row("target", c.target), _total_row("simulator", c.simulator),
                 _total_row("total", c.total)]  # fmt: skip
    return TextTable("Tokens and estimated cost", headers, rows, left_columns=2)


def question_text_table(summary: RunSummary, limit: int | None = None) -> TextTable:
    headers = ["model", "question", "subject", "gold", "episodes", "scored", "accuracy",
               "majority", "invalid", "errors"]  # fmt: skip
    rows = [
        [r.model, r.question_id, r.subject, r.gold, str(r.episodes), str(r.scored),
         format_pct(r.accuracy), r.majority or "–", str(r.invalid), str(r.errors)]
        for r in sorted(summary.questions, key=lambda r: (r.model, r.subject, r.question_id))[
            :limit
        ]
    ]  # fmt: skip
    return TextTable("Per question", headers, rows, left_columns=3)


def comparison_text_tables(c: Comparison) -> list[TextTable]:
    """Accuracy side by side, paired differences, and latency side by side."""
    level = f"{round(c.confidence * 100)}% CI"
    acc = TextTable(
        "Accuracy",
        ["model", "episodes", "questions", "accuracy", level],
        [[m, str(g.episodes), str(g.questions), format_pct(g.accuracy),
          format_interval(g.ci.low, g.ci.high)] for m, g in c.accuracy.items()],
    )  # fmt: skip
    pairs = TextTable(
        "Paired differences (a − b, over shared questions)",
        ["a", "b", "subject", "questions", "a", "b", "a − b", level, "p"],
        [[p.a, p.b, p.subject, str(p.diff.questions), format_pct(p.diff.a), format_pct(p.diff.b),
          "–" if p.diff.diff is None else f"{p.diff.diff * 100:+.1f}",
          format_interval(p.diff.ci.low, p.diff.ci.high),
          "–" if p.diff.p_value is None else f"{p.diff.p_value:.2g}"] for p in c.pairs],
        left_columns=3,
    )  # fmt: skip
    lat = TextTable(
        "Latency side by side",
        ["model", "calls", "TTFT p50", "TTFT p95", "e2e p50", "e2e p95",
         "e2e p95 (from request)", "tokens/s p50"],
        [[m, str(s.calls), _ms(s.ttft_sent, "p50"), _ms(s.ttft_sent, "p95"),
          _ms(s.e2e_sent, "p50"), _ms(s.e2e_sent, "p95"), _ms(s.e2e_requested, "p95"),
          "–" if s.tokens_per_s.p50 is None else f"{s.tokens_per_s.p50:.1f}"]
         for m, s in c.latency.items()],
    )  # fmt: skip
    return [acc, pairs, lat]
