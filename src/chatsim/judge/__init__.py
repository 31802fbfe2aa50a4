"""LLM-judge scores of conversations: coherence and user satisfaction, 1–5.

A judge model reads each transcript with ``RUBRIC`` and returns JSON scores. Scores go to
``judge.jsonl`` (one ``JudgeRecord`` per episode and judge) and are reported on their own: they
never enter accuracy. LLM judges are biased (towards long, confident replies, and towards their
own family of models), so treat them as a second opinion, and say which judge scored.

``judge_run(run_dir, episodes, judge)`` scores what is not scored yet (``chatsim report
--judge``); ``read_judge`` and ``current_judgements`` read the scores back, ``judge_summary``
averages them. The judge calls a model; ``chatsim.report`` only renders its records.
``JudgeRecord`` and ``JUDGE_FILE`` belong to ``chatsim.recording`` (the owner of the run
directory, which repairs ``judge.jsonl`` too); they are re-exported here for convenience.
"""

from chatsim.judge._read import current_judgements, read_judge, scored_by
from chatsim.judge._rubric import RUBRIC, RUBRIC_VERSION, judge_messages, parse_scores
from chatsim.judge._run import judge_episodes, judge_run
from chatsim.judge._summary import JudgeSummary, judge_summary
from chatsim.recording import JUDGE_FILE, JudgeRecord

__all__ = [
    "JUDGE_FILE",
    "RUBRIC",
    "RUBRIC_VERSION",
    "JudgeRecord",
    "JudgeSummary",
    "current_judgements",
    "judge_episodes",
    "judge_messages",
    "judge_run",
    "judge_summary",
    "parse_scores",
    "read_judge",
    "scored_by",
]
