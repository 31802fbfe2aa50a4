"""The conversation viewer's data: every episode of a run, compact, for the page to render.

A run of 10,000 episodes would be tens of megabytes as ready-made HTML (and a question's text
repeated in every one of its episodes). The viewer instead carries one JSON document, each
question's text once and each model's name once, compressed (gzip, then base64 so that it
can sit in the page); the page's script unpacks it and renders one page of episodes at a time.

Layout (``VIEWER_DATA_VERSION`` 1)::

    {"version": 1, "models": [name, ...],
     "questions": {id: [stem, [option A, B, C, D], gold]},
     "episodes": [[model index, question id, repeat, final answer or null, gold,
                   termination, user messages, outcome, turns, failures, error or null], ...]}

    turn    = [role ("user"|"assistant"), text, seconds, attempts, stated letter or ""]
    failure = [turn index, role, attempt index, outcome, HTTP status or null, error class,
               error message, seconds waited before the next attempt or null]

``failures`` lists every failed attempt of the episode in order (not only the error that ended
it), so an errored episode shows how it got there. Episodes are in start order.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Mapping, Sequence
from typing import Any

from chatsim.protocol import stated_answer
from chatsim.questions import Question
from chatsim.recording._records import EpisodeRecord

__all__ = ["VIEWER_DATA_VERSION", "decode_viewer_data", "encode_viewer_data", "viewer_data"]

VIEWER_DATA_VERSION = 1


def outcome(ep: EpisodeRecord) -> str:
    """``correct``, ``wrong`` or ``error``: what the viewer filters on."""
    if ep.termination.is_error:
        return "error"
    return "correct" if ep.correct else "wrong"


def _failures(ep: EpisodeRecord) -> list[list[Any]]:
    return [
        [t.index, t.role.value, a.index, a.outcome, a.status_code, a.error_class or "",
         a.error_message or "", a.wait_before_next]
        for t in ep.turns
        for a in t.attempts
        if a.outcome != "ok"
    ]  # fmt: skip


def _turns(ep: EpisodeRecord) -> list[list[Any]]:
    out: list[list[Any]] = []
    for t in ep.turns:
        stated = stated_answer(t.text) if t.role.value == "assistant" else None
        seconds = round(t.ended_at - t.started_at, 2)
        out.append([t.role.value, t.text, seconds, len(t.attempts), stated or ""])
    return out


def viewer_data(
    episodes: Sequence[EpisodeRecord], questions: Mapping[str, Question]
) -> dict[str, Any]:
    """Every episode, in start order, as the viewer's JSON document (see the module doc)."""
    ordered = sorted(episodes, key=lambda ep: (ep.started_at, ep.episode_id))
    models = list(dict.fromkeys(ep.model for ep in ordered))
    index = {m: i for i, m in enumerate(models)}
    asked = {ep.question_id for ep in ordered}
    return {
        "version": VIEWER_DATA_VERSION,
        "models": models,
        "questions": {
            qid: [q.stem, list(q.options), q.gold] for qid, q in questions.items() if qid in asked
        },
        "episodes": [
            [index[ep.model], ep.question_id, ep.repeat, ep.final_answer, ep.gold,
             ep.termination.value, ep.user_messages, outcome(ep), _turns(ep), _failures(ep),
             ep.error]
            for ep in ordered
        ],
    }  # fmt: skip


def encode_viewer_data(data: Mapping[str, Any]) -> str:
    """gzip + base64 of the compact JSON: safe inside a ``<script>`` element as it is."""
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    # mtime=0: the same records give the same bytes (reproducible reports).
    return base64.b64encode(gzip.compress(raw, compresslevel=6, mtime=0)).decode("ascii")


def decode_viewer_data(text: str) -> dict[str, Any]:
    """The inverse of ``encode_viewer_data`` (for tests and tools that read a report)."""
    data: dict[str, Any] = json.loads(gzip.decompress(base64.b64decode(text)))
    return data
