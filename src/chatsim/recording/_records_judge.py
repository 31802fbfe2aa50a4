"""The schema of ``judge.jsonl``: one ``JudgeRecord`` per judgement of an episode.

Written by ``chatsim.judge``; kept here, beside the episode schema, so that the owner of the
run directory (its reader and ``chatsim repair``) knows every record it holds without importing
the judge (which calls models).
"""

from __future__ import annotations

from chatsim.recording._records import _Record

__all__ = ["JudgeRecord"]


class JudgeRecord(_Record):
    """One judge's scores for one episode. One line of ``judge.jsonl``."""

    episode_id: str
    """The judged episode."""
    model: str
    """The target model of the judged episode."""
    question_id: str
    """The judged episode's question."""
    judge: str
    """The judge's model spec."""
    rubric_version: str = "chatsim-judge-v1"
    """The rubric the judge scored with (``chatsim.judge.RUBRIC_VERSION``, which the judge
    always writes); the default is the first rubric's."""
    coherence: int | None
    """1–5; None when there are no scores."""
    satisfaction: int | None
    """1–5; None when there are no scores."""
    rationale: str = ""
    """The judge's reasons, in its words."""
    raw: str = ""
    """The judge's reply as received."""
    error: str | None = None
    """Why there are no scores (call failed, reply not parseable)."""
    episode_ended_at: float | None = None
    """When the judged episode ended: tells a judgement of an episode since re-run
    (``--retry-errors``) from one of its current record. None in older files."""
