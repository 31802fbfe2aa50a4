"""``chatsim report RUN_DIR``: the summary recomputed from the records; JSON, tables, HTML."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer
from rich.console import Console
from rich.table import Table

from chatsim._exceptions import ConfigError, DataError
from chatsim.cli._console import stdout_console
from chatsim.cli._errors import cli_errors

if TYPE_CHECKING:  # the report, metrics and judge are imported when the command runs
    from chatsim.metrics import RunSummary
    from chatsim.metrics._stats import IntervalMethod
    from chatsim.report import ReportData

__all__ = ["report_command"]


async def _run_judge(data: ReportData, spec: str, base_url: str | None) -> int:
    """Judge the episodes this judge has not scored yet (appended to judge.jsonl)."""
    from chatsim.judge import judge_run

    records = await judge_run(data.path, data.episodes, spec, judged=data.judge, base_url=base_url)
    return len(records)


def _render_judge(data: ReportData, console: Console) -> None:
    if not data.judge:
        return
    from chatsim.report._sections import judge_rows

    headers, rows = judge_rows(data.judge)
    table = Table(title="Judge scores (1–5; not part of accuracy)", title_justify="left")
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i < 2 else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _write_summary_json(summary: RunSummary, extra: dict[str, str], out: BinaryIO) -> None:
    """Write the summary as JSON with ``extra`` keys (JSON texts) after its own, by
    pydantic's serializer, as bytes: at a million episodes the question table is 100k rows,
    which ``json.dumps`` of ``model_dump`` took seconds and hundreds of MB to write, and each
    copy of its 35 MB of text (decoding, slicing, joining) adds to the peak."""
    import pydantic_core

    body = pydantic_core.to_json(summary, indent=2)
    end = body.rindex(b"}")
    while end and body[end - 1 : end].isspace():
        end -= 1
    out.write(memoryview(body)[:end])
    for key, value in extra.items():
        out.write(f",\n  {json.dumps(key)}: {value.replace(chr(10), chr(10) + '  ')}".encode())
    out.write(b"\n}\n")
    out.flush()


_Opt = typer.Option
_INTERVALS: tuple[IntervalMethod, ...] = ("cluster_bootstrap", "se")


def report_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (runs/<id>).")],
    json_: Annotated[
        bool, _Opt("--json", help="Print the summary as JSON (an `accuracy` per model).")
    ] = False,
    html: Annotated[
        Path | None, _Opt(help="Write a self-contained HTML report (opens offline) to FILE.")
    ] = None,
    csv: Annotated[
        Path | None, _Opt(help="Write episodes, turns, questions, calls, baseline as CSV to DIR.")
    ] = None,
    parquet: Annotated[Path | None, _Opt(help="Write the same tables as Parquet to DIR.")] = None,
    prices: Annotated[
        Path | None, _Opt(help="Price table JSON (default: the bundled, dated table).")
    ] = None,
    interval: Annotated[
        str, _Opt(help="Interval method: cluster_bootstrap (default) or se (ChatBench's).")
    ] = "cluster_bootstrap",
    errors_as_incorrect: Annotated[
        bool, _Opt("--errors-as-incorrect", help="Score error terminations as incorrect.")
    ] = False,
    judge: Annotated[
        str | None,
        _Opt(help="Score coherence and satisfaction with this judge model (judge.jsonl)."),
    ] = None,
    judge_base_url: Annotated[
        str | None, _Opt(help="Endpoint of the judge model (vllm:/OpenAI-compatible).")
    ] = None,
) -> None:
    """Recompute and print a run's summary from its records; optionally JSON, tables, HTML."""
    import anyio

    from chatsim.judge import judge_summary
    from chatsim.metrics import load_prices, render_summary
    from chatsim.metrics._stats import keeping_draws
    from chatsim.report import export_tables, load_report_data, summarize_run, write_html_report
    from chatsim.report._paired import run_comparison

    console = Console(stderr=True)
    with cli_errors(console):
        if interval not in _INTERVALS:
            raise ConfigError(
                f"unknown interval {interval!r}; valid intervals: cluster_bootstrap, se"
            )
        data = load_report_data(run_dir)
        if judge is not None:
            scored = anyio.run(_run_judge, data, judge, judge_base_url)
            console.print(f"judged {scored} episodes with {judge}", markup=False)
            data = load_report_data(run_dir)
        with keeping_draws():  # one set of seeded draws for the summary and the pairs
            summary = summarize_run(
                data,
                prices=load_prices(prices) if prices else None,
                interval=interval,
                errors_as_incorrect=errors_as_incorrect,
            )
            # Two or more models: the paired comparison that `chatsim compare` prints, too.
            paired = run_comparison(data, summary)
        if json_:
            extra: dict[str, str] = {}
            if paired is not None:
                extra["paired"] = paired.model_dump_json(indent=2)
            if data.judge:  # kept beside the summary, never inside accuracy
                judged = [s.model_dump(mode="json") for s in judge_summary(data.judge)]
                extra["judge"] = json.dumps(judged, indent=2)
            if data.load_summary is not None:
                extra["load"] = json.dumps(data.load_summary, indent=2)
            sys.stdout.flush()
            _write_summary_json(summary, extra, sys.stdout.buffer)
        else:
            render_summary(summary, stdout_console(), details=True)
            if paired is not None:
                stdout_console().print("Paired comparison (as chatsim compare):", markup=False)
                for pair in paired.pairs:
                    stdout_console().print(f"• {pair.verdict}", markup=False, highlight=False)
            _render_judge(data, stdout_console())
            if data.load_summary is not None:
                from chatsim.loadtest import render_load_summary

                render_load_summary(data.load_summary, stdout_console())
        for fmt, out_dir in (("csv", csv), ("parquet", parquet)):
            if out_dir is not None:
                try:
                    paths = export_tables(data, out_dir, fmt)  # type: ignore[arg-type]
                except OSError as exc:
                    raise DataError(f"cannot write {fmt} tables to {out_dir}: {exc}") from exc
                console.print(f"wrote {len(paths)} {fmt} tables to {out_dir}", markup=False)
        if html is not None:
            try:
                written = write_html_report(data, html, summary=summary)
            except OSError as exc:
                raise DataError(f"cannot write the HTML report to {html}: {exc}") from exc
            console.print(f"wrote {written}", markup=False)
