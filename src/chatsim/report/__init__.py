"""Reports over a run directory: terminal, JSON, tables (CSV/Parquet) and a self-contained HTML.

Everything is recomputed from the records: ``summarize_run(RUN_DIR)`` gives the summary,
``write_html_report(RUN_DIR, FILE)`` the HTML report (with the paired comparison of its models
and every episode in the conversation viewer), ``write_comparison_html(comparison, FILE)`` a
comparison of runs, ``export_tables(data, DIR)`` the tables.
pandas, pyarrow and plotly (dependencies of chatsim) are imported only when a table or the
HTML is asked for, so a run never pays for them.

Other features add sections through ``register_section`` or, to be found without being
imported, an entry point in the group ``ENTRY_POINT_GROUP`` (``chatsim.report_sections``); the
load test registers its own that way. ``figure_html`` and ``html_table`` build their markup.

A report makes no network calls: judge scores are made by ``chatsim.judge`` (which calls a
model) and only rendered here, from ``judge.jsonl``.
"""

from chatsim.metrics._render import render_summary
from chatsim.report._data import (
    ReportData,
    find_questions,
    load_report_data,
    run_facts,
    summarize_run,
)
from chatsim.report._export import TABLES, export_tables, to_dataframes
from chatsim.report._html import (
    render_comparison_html,
    render_html,
    write_comparison_html,
    write_html_report,
)
from chatsim.report._sections import (
    ENTRY_POINT_GROUP,
    LOAD_SECTION_ID,
    Section,
    SectionRenderer,
    figure_html,
    html_table,
    register_section,
)
from chatsim.report._viewer_data import decode_viewer_data

__all__ = [
    "ENTRY_POINT_GROUP",
    "LOAD_SECTION_ID",
    "TABLES",
    "ReportData",
    "Section",
    "SectionRenderer",
    "decode_viewer_data",
    "export_tables",
    "figure_html",
    "find_questions",
    "html_table",
    "load_report_data",
    "register_section",
    "render_comparison_html",
    "render_html",
    "render_summary",
    "run_facts",
    "summarize_run",
    "to_dataframes",
    "write_comparison_html",
    "write_html_report",
]
