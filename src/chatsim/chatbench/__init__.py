"""ChatBench human data and calibration: how well a simulator predicts real users.

- ``load_release``: the ``microsoft/ChatBench`` release (CC BY 4.0) from a folder or the hub;
  its column names live in one table, ``ReleaseColumns``.
- ``map_question_ids``: release ids (``<subject>-redux-<i>``, ``<subject>-test-<i>``) onto the
  bundled questions, with the ids that do not map.
- ``load_human_conversations`` / ``read_conversations``: the release's user–AI conversations
  (``conversations.json``) as ``chatsim.training.UserConversation``s, with model, condition and
  worker kept for filtering; what could not be mapped is counted.
- ``calibrate``: per question, simulated against human user–AI accuracy (Pearson r and MAE
  with bootstrap intervals over questions), beside the AI-alone and user-alone baselines.
"""

from chatsim.chatbench._agreement import Agreement, agreement
from chatsim.chatbench._calibrate import calibrate
from chatsim.chatbench._columns import (
    AI_ALONE_METHODS,
    DEFAULT_COLUMNS,
    ReleaseColumns,
    parse_column_overrides,
)
from chatsim.chatbench._conversations import (
    HumanConversation,
    HumanConversations,
    load_human_conversations,
    read_conversations,
)
from chatsim.chatbench._figure import scatter_figure, write_calibration_html
from chatsim.chatbench._ids import IdMapping, map_question_ids
from chatsim.chatbench._models import KNOWN_MODELS, parse_model_map, resolve_human_model
from chatsim.chatbench._release import (
    HUB_REPO,
    AiAloneAccuracy,
    ChatBenchRelease,
    HumanAnswer,
    load_release,
)
from chatsim.chatbench._result import Calibration, CalibrationResult, QuestionPoint
from chatsim.chatbench._split import read_heldout

__all__ = [
    "AI_ALONE_METHODS",
    "DEFAULT_COLUMNS",
    "HUB_REPO",
    "KNOWN_MODELS",
    "Agreement",
    "AiAloneAccuracy",
    "Calibration",
    "CalibrationResult",
    "ChatBenchRelease",
    "HumanAnswer",
    "HumanConversation",
    "HumanConversations",
    "IdMapping",
    "QuestionPoint",
    "ReleaseColumns",
    "agreement",
    "calibrate",
    "load_human_conversations",
    "load_release",
    "map_question_ids",
    "parse_column_overrides",
    "parse_model_map",
    "read_conversations",
    "read_heldout",
    "resolve_human_model",
    "scatter_figure",
    "write_calibration_html",
]
