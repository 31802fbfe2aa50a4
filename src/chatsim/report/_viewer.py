"""The conversation viewer: every episode, paged and filtered in the page.

The episodes travel as one compressed JSON document (``_viewer_data``); the script
(``viewer.js``, inlined in the page) unpacks it with the browser's ``DecompressionStream``
and renders one page of episodes at a time, filtered by model, outcome and question id.
Recorded text is only ever set as ``textContent``: transcripts are model output and may
contain anything, including markup. An errored episode lists every failed attempt in
order, then the error that ended it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from importlib import resources

from chatsim.questions import Question
from chatsim.recording._records import EpisodeRecord
from chatsim.report._viewer_data import encode_viewer_data, viewer_data

__all__ = ["PAGE_SIZE", "conversation_viewer", "viewer_js"]

#: Episodes rendered per page.
PAGE_SIZE = 50


def viewer_js() -> str:
    """The viewer's script (``viewer.js``, shipped in the package)."""
    return resources.files("chatsim.report").joinpath("viewer.js").read_text("utf-8")


def conversation_viewer(
    episodes: Sequence[EpisodeRecord], questions: Mapping[str, Question]
) -> str:
    """The viewer for every episode: controls, an empty list the script fills, the data."""
    outcomes = "".join(f'<option value="{o}">{o}</option>' for o in ("correct", "wrong", "error"))
    controls = (
        f'<div class="controls"><span id="cv-status">{len(episodes)} episodes (loading…)</span>'
        ' · Model <select id="cv-model"><option value="">all</option></select> Outcome '
        f'<select id="cv-outcome"><option value="">all</option>{outcomes}</select> '
        'Question id <input id="cv-question" size="14"> '
        '<button id="cv-prev" type="button">‹ previous</button> '
        '<button id="cv-next" type="button">next ›</button></div>'
    )
    payload = encode_viewer_data(viewer_data(episodes, questions))
    noscript = (
        '<noscript><p class="empty">The conversation viewer needs JavaScript; '
        f"{escape(str(len(episodes)))} episodes are in the page's data, and every transcript "
        "exports with chatsim report RUN_DIR --csv DIR.</p></noscript>"
    )
    return (
        f'{controls}{noscript}<div id="cv-list" data-page="{PAGE_SIZE}"></div>'
        f'<script type="application/octet-stream" id="cv-data">{payload}</script>'
        f"<script>{viewer_js()}</script>"
    )
