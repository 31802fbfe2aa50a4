"""The conversation viewer: transcripts with their answers and outcomes, as plain HTML.

Every piece of recorded text goes through ``html.escape``: transcripts are model output and
may contain anything, including markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from chatsim.protocol import stated_answer
from chatsim.questions import LETTERS, Question
from chatsim.recording._records import EpisodeRecord, TurnRecord

__all__ = ["conversation_viewer"]

_FILTER_JS = """
function chatsimFilter() {
  const m = document.getElementById('cv-model').value;
  const o = document.getElementById('cv-outcome').value;
  document.querySelectorAll('details.episode').forEach(function (d) {
    const ok = (!m || d.dataset.model === m) && (!o || d.dataset.outcome === o);
    d.style.display = ok ? '' : 'none';
  });
}
"""


def _outcome(ep: EpisodeRecord) -> str:
    if ep.termination.is_error:
        return "error"
    return "correct" if ep.correct else "wrong"


def _question_html(q: Question | None, gold: str) -> str:
    if q is None:
        missing = "<em>question text not available</em>"
        return f'<div class="question">{missing} · gold {escape(gold)}</div>'
    options = "".join(
        f'<li class="{"gold" if letter == q.gold else ""}"><b>{letter}.</b> {escape(opt)}</li>'
        for letter, opt in zip(LETTERS, q.options, strict=True)
    )
    return f'<div class="question"><p>{escape(q.stem)}</p><ul class="options">{options}</ul></div>'


def _turn_html(turn: TurnRecord, final: bool, ep: EpisodeRecord) -> str:
    role = turn.role.value
    badge = ""
    if role == "assistant":
        letter = stated_answer(turn.text)
        if letter is not None:
            badge = f'<span class="badge">states {escape(letter)}</span>'
    elif final and ep.final_answer is not None:
        badge = f'<span class="badge">final answer {escape(ep.final_answer)}</span>'
    timing = f"{turn.ended_at - turn.started_at:.2f}s"
    if len(turn.attempts) > 1:
        timing += f", {len(turn.attempts)} attempts"
    return (
        f'<div class="turn {role}"><div class="who">{role} {badge}'
        f'<span class="timing">{timing}</span></div>'
        f'<div class="text">{escape(turn.text)}</div></div>'
    )


def _episode_html(ep: EpisodeRecord, question: Question | None, expanded: bool = False) -> str:
    outcome = _outcome(ep)
    mark = {"correct": "✓", "wrong": "✗", "error": "!"}[outcome]
    answer = ep.final_answer or "none"
    summary = (
        f'<span class="mark {outcome}">{mark}</span> {escape(ep.model)} · '
        f"{escape(ep.question_id)} · repeat {ep.repeat} · answer {escape(answer)} "
        f"(gold {escape(ep.gold)}) · {escape(ep.termination.value)} · "
        f"user messages: {ep.user_messages}"
    )
    last_user = max((t.index for t in ep.turns if t.role.value == "user"), default=-1)
    turns = "".join(_turn_html(t, t.index == last_user, ep) for t in ep.turns)
    error = f'<div class="error">{escape(ep.error)}</div>' if ep.error else ""
    return (
        f'<details class="episode" data-model="{escape(ep.model)}" data-outcome="{outcome}"'
        f"{' open' if expanded else ''}>"
        f"<summary>{summary}</summary>{_question_html(question, ep.gold)}{turns}{error}</details>"
    )


def conversation_viewer(
    episodes: Sequence[EpisodeRecord], questions: Mapping[str, Question], limit: int = 200
) -> str:
    """HTML for up to ``limit`` episodes (evenly sampled), with model and outcome filters."""
    from chatsim.report._figures import sample_episodes

    sample = sample_episodes(episodes, limit)
    models = "".join(
        f'<option value="{escape(m)}">{escape(m)}</option>'
        for m in dict.fromkeys(ep.model for ep in sample)
    )
    outcomes = "".join(f'<option value="{o}">{o}</option>' for o in ("correct", "wrong", "error"))
    shown = f"{len(sample)} of {len(episodes)} episodes" if episodes else "no episodes"
    controls = (
        f'<div class="controls">{shown}. Model <select id="cv-model" onchange="chatsimFilter()">'
        f'<option value="">all</option>{models}</select> Outcome '
        f'<select id="cv-outcome" onchange="chatsimFilter()"><option value="">all</option>'
        f"{outcomes}</select></div>"
    )
    # The first two are open, so the page shows what a transcript looks like.
    body = "".join(
        _episode_html(ep, questions.get(ep.question_id), expanded=i < 2)
        for i, ep in enumerate(sample)
    )
    return f"<script>{_FILTER_JS}</script>{controls}{body}"
