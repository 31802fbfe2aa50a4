"""The section registry: order, the generic load-summary fallback, entry-point plugins."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from chatsim.loadtest._report import load_test_sections
from chatsim.report import (
    ENTRY_POINT_GROUP,
    LOAD_SECTION_ID,
    ReportData,
    Section,
    _sections,
    register_section,
)
from chatsim.report._sections import _RENDERERS, render_sections, section_renderers

NO_SUMMARY: Any = None  # none of the renderers here reads the summary


def _data(load_summary: dict[str, Any] | None) -> ReportData:
    nothing: Any = None  # nor the run itself
    return ReportData(Path("no-run"), nothing, nothing, load_summary=load_summary)


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> list[EntryPoint]:
    """Entry points the registry will see instead of the installed ones (reloaded afresh)."""
    found: list[EntryPoint] = []

    def entry_points(*, group: str) -> list[EntryPoint]:
        return [ep for ep in found if ep.group == group]

    monkeypatch.setattr(_sections, "entry_points", entry_points)
    monkeypatch.setattr(_sections, "_PLUGINS", None)
    return found


def _ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name, value, ENTRY_POINT_GROUP)


def test_the_load_test_is_registered_through_its_entry_point() -> None:
    # Installed metadata (pyproject.toml); fails if `pip install -e .` was not rerun.
    assert load_test_sections in section_renderers()


def test_a_generic_load_summary_renders_through_the_fallback() -> None:
    data = _data({"goodput_rps": 3.5, "series": [{"t": 0, "rps": 1.0}, {"t": 1, "rps": 2.0}]})
    assert list(load_test_sections(data, NO_SUMMARY)) == []  # not a `chatsim loadtest` run
    (section,) = render_sections(data, NO_SUMMARY)
    assert section.id == LOAD_SECTION_ID and "goodput_rps" in section.html


def test_a_renderer_that_gives_a_load_section_replaces_the_fallback() -> None:
    def mine(data: object, summary: object) -> list[Section]:
        return [Section(LOAD_SECTION_ID, "Mine", "<p>mine</p>")]

    register_section(mine)
    try:
        sections = render_sections(_data({"goodput_rps": 3.5}), NO_SUMMARY)
    finally:
        _RENDERERS.remove(mine)
    assert [(s.id, s.title) for s in sections] == [(LOAD_SECTION_ID, "Mine")]


def test_no_load_summary_no_load_section() -> None:
    assert render_sections(_data(None), NO_SUMMARY) == []


def test_a_broken_plugin_warns_naming_its_entry_point(plugins: list[EntryPoint]) -> None:
    plugins += [
        _ep("broken", "chatsim_no_such_module:render"),
        _ep("constant", "chatsim.report._sections:LOAD_SECTION_ID"),
        _ep("loadtest", "chatsim.loadtest._report:load_test_sections"),
    ]
    with pytest.warns(RuntimeWarning) as caught:
        renderers = section_renderers()
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2
    assert "'broken' = 'chatsim_no_such_module:render'" in messages[0]
    assert "ModuleNotFoundError" in messages[0] and ENTRY_POINT_GROUP in messages[0]
    assert "'constant'" in messages[1] and "is not callable" in messages[1]
    assert load_test_sections in renderers  # the good plugin still counts
    section_renderers()  # loaded once: no second warning (warnings are errors in tests)


def test_plugins_load_once_and_render_once(plugins: list[EntryPoint]) -> None:
    plugins.append(_ep("loadtest", "chatsim.loadtest._report:load_test_sections"))
    section_renderers()
    plugins.clear()  # a second look at the metadata would now find nothing
    register_section(load_test_sections)  # also registered by hand
    try:
        renderers = section_renderers()
    finally:
        _RENDERERS.remove(load_test_sections)
    assert renderers.count(load_test_sections) == 1
    assert renderers.index(load_test_sections) < renderers.index(_sections.load_summary_sections)
