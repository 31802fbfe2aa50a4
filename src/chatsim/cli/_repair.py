"""``chatsim repair RUN_DIR``: move damaged record lines aside so that the run can go on.

The lines go to quarantine files next to the records (nothing is deleted); the command says
what it moved, where to, and that ``chatsim run --resume`` re-runs the quarantined episodes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from chatsim._util._redact import scrub
from chatsim.cli._console import stdout_console
from chatsim.cli._errors import cli_errors

if TYPE_CHECKING:  # the records (pydantic) are imported when the command runs
    from chatsim.recording import FileRepair, RepairResult

__all__ = ["repair_command", "repair_lines"]


def _file_lines(repair: FileRepair) -> list[str]:
    """One line per quarantined record line, then where they went and what is left."""
    lines = []
    for bad in repair.quarantined:
        ids = ", ".join(bad.record_ids)
        who = f"{repair.id_field} {ids}" if ids else f"{repair.id_field} unknown"
        lines.append(
            f"moved {repair.path.name}:{bad.number} ({bad.length} bytes; {who}): {bad.reason}"
        )
    moved = len(repair.quarantined)
    lines.append(
        f"{moved} damaged line{'s' * (moved != 1)} of {repair.path.name} appended to "
        f"{repair.quarantine}; kept {repair.kept} valid record{'s' * (repair.kept != 1)}"
    )
    return lines


def repair_lines(result: RepairResult) -> list[str]:
    """The command's report, as plain lines (secrets scrubbed: ids come from damaged text)."""
    from chatsim.config import RunConfig
    from chatsim.recording import BASELINE_RECORDS, EPISODE_RECORDS, JUDGE_RECORDS, read_header

    run_dir = result.run_dir
    if result.nothing_to_repair:
        kept = ", ".join(f"{f.kept} in {f.path.name}" for f in result.files) or "no records yet"
        return [f"nothing to repair in {run_dir}: every record is valid ({kept})"]
    lines: list[str] = []
    for repair in result.files:
        if repair.quarantined:
            lines += _file_lines(repair)
    names = {f.path.name for f in result.files if f.quarantined}
    if EPISODE_RECORDS.name in names:
        lines.append(f"next: chatsim run --resume {run_dir}   re-runs the quarantined episodes")
    if BASELINE_RECORDS.name in names:
        config = read_header(run_dir).config
        measured = isinstance(config, RunConfig) and bool(config.baseline)
        flag = "" if measured else " --baseline"
        lines.append(
            f"next: chatsim run --resume {run_dir}{flag}   re-measures the quarantined "
            "AI-alone answers"
        )
    if JUDGE_RECORDS.name in names:
        lines.append(
            f"next: chatsim report {run_dir} --judge JUDGE   re-scores the quarantined judgements"
        )
    return [scrub(line) for line in lines]


def repair_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (runs/<id>).")],
) -> None:
    """Move damaged record lines to quarantine files, so that the run can be resumed.

    Damaged lines go byte for byte to episodes.quarantine.jsonl (baseline.quarantine.jsonl,
    judge.quarantine.jsonl). Valid records stay as they were; then `chatsim run --resume
    RUN_DIR` re-runs the episodes.
    """
    from chatsim.recording import repair_run

    console = Console(stderr=True)
    with cli_errors(console):
        lines = repair_lines(repair_run(run_dir))
    out = stdout_console()
    for line in lines:
        out.print(line, markup=False, highlight=False, soft_wrap=True)
