"""Resume's view of ``episodes.jsonl``: which episodes are recorded and how each ended, read
from the bytes without building an ``EpisodeRecord`` per line.

Why not validate: resume needs two fields of a record, and ``read_run`` (every turn and
attempt validated and kept) cost 450-640 us and 34 kB per 9 kB episode, which is over an hour
and 300 GB at 10 million episodes. Why not parse the JSON either: ``orjson`` on every line
still builds every turn as objects (26-28 us per episode); finding two keys in the bytes took
14-16 us, about what reading the lines costs, in 0.15 kB per episode: the id set itself
(``benchmarks/bench_records.py``, 10,000 and 100,000 episodes).

Why the bytes can be trusted: ``JsonlWriter`` writes ``model_dump_json()`` of an
``EpisodeRecord``, whose fields come in declaration order, so every line the writer produced
has a fixed *frame*:

- it starts ``{"schema_version":N,"run_id":"...","episode_id":"...",``;
- ``termination`` is the first key of that name and sits between ``correct`` and
  ``user_messages`` (nothing before it can hold a raw ``"``: every string value escapes it, and
  the only free-form keys before it are rate-limit header names);
- it ends with ``"extra":{...}}`` and its newline.

A line whose frame reads cleanly is taken at its word. Any line that does not (another
writer's key order, an id with escapes we cannot read, a cut that lost the end of a record) is
validated in full, exactly as ``read_jsonl`` would: it is either a record after all, or damage
that refuses the run with the reader's message. The last line is always validated in full, so a
torn tail is decided by the reader's own rule and cut away on resume. What the frame cannot see
is damage inside a record's body (a flipped byte in a turn); that is still found by every full
reader (``read_run``, ``chatsim report``) and moved aside by ``chatsim repair``, after which a
resume re-runs the episode.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from chatsim._exceptions import RunDirectoryError
from chatsim.protocol._types import TerminationReason
from chatsim.recording._files import EPISODE_RECORDS
from chatsim.recording._jsonl import JsonLine, TornTail, damage_message, iter_lines, line_problem
from chatsim.recording._records import EpisodeRecord

__all__ = ["RecordedEpisodes", "ScannedEpisode", "scan_episode_lines", "scan_recorded"]

_STRING = rb'[^"\\]*(?:\\.[^"\\]*)*'  # a JSON string's body, escapes included
_HEAD = re.compile(
    rb'\{"schema_version":\d+,"run_id":"' + _STRING + rb'","episode_id":"(' + _STRING + rb')",'
)
_TERMINATION_KEY = b',"termination":"'
_AFTER_TERMINATION = b'","user_messages":'
_CORRECT = (b'"correct":true', b'"correct":false')
_EXTRA_KEY = b',"extra":{'
_REASONS = {reason.value.encode(): reason for reason in TerminationReason}


@dataclass(frozen=True, slots=True)
class ScannedEpisode:
    """One recorded line of ``episodes.jsonl``, as resume sees it."""

    number: int
    """1-based line number."""
    episode_id: str
    termination: TerminationReason
    validated: bool
    """The line did not read as the writer's frame, so it was validated in full."""


def _read_frame(data: bytes) -> tuple[str, TerminationReason] | None:
    """(episode id, termination) from a complete line in the writer's frame, or None."""
    head = _HEAD.match(data)
    if head is None or not data.endswith(b"}}\n"):
        return None
    key = data.find(_TERMINATION_KEY, head.end())
    if key < 0 or data.rfind(_EXTRA_KEY) < key:
        return None
    if not (data.endswith(_CORRECT[0], 0, key) or data.endswith(_CORRECT[1], 0, key)):
        return None  # not the top-level field the writer puts after "correct"
    start = key + len(_TERMINATION_KEY)
    end = data.find(b'"', start)
    reason = _REASONS.get(data[start:end])
    if reason is None or not data.startswith(_AFTER_TERMINATION, end):
        return None
    raw = head.group(1)
    try:
        episode_id = json.loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode()
    except ValueError:  # bad escape or UTF-8: let the full check say what is wrong
        return None
    return episode_id, reason


def _validate(line: JsonLine) -> EpisodeRecord | str:
    """The line's record, or why it is not one (the reader's rule, torn tail included)."""
    try:
        record = EpisodeRecord.model_validate_json(line.data)
    except ValidationError as exc:
        return line_problem(line, exc)
    return record if line.complete else line_problem(line, None)


def scan_episode_lines(path: Path) -> Iterator[ScannedEpisode | TornTail]:
    """Every record line of the episodes file ``path`` (blank lines skipped), then the torn
    tail if there is one. A damaged line before the last raises ``RunDirectoryError``."""
    if not path.is_file():
        return
    for line in iter_lines(path):
        if not line.data.strip():
            continue
        frame = None if line.last else _read_frame(line.data)
        if frame is not None:
            yield ScannedEpisode(line.number, frame[0], frame[1], validated=False)
            continue
        checked = _validate(line)
        if isinstance(checked, EpisodeRecord):
            yield ScannedEpisode(line.number, checked.episode_id, checked.termination, True)
        elif line.last:
            yield TornTail(line.number, line.offset)
        else:
            raise RunDirectoryError(damage_message(path, line.number, "episode", checked))


@dataclass
class RecordedEpisodes:
    """What resume needs of a run's records: how each recorded episode ended (its latest
    record: a ``--retry-errors`` re-run supersedes the record it re-ran), without the records."""

    terminations: dict[str, TerminationReason]
    """The latest termination per episode id, in the order the ids were first recorded."""
    records: int = 0
    """Record lines read (superseded ones included)."""
    validated: int = 0
    """Lines that were validated in full (the last line, and any not in the writer's frame)."""
    torn_tail: TornTail | None = None
    """A torn last line that was skipped (and, on resume, cut away)."""

    @property
    def duplicates(self) -> int:
        """Records superseded by a later record of the same episode."""
        return self.records - len(self.terminations)

    def done(self, *, retry_errors: bool = False) -> set[str]:
        """The episode ids a resume skips: all recorded ones, or with ``retry_errors`` those
        whose latest record did not end in an error."""
        if not retry_errors:
            return set(self.terminations)
        return {eid for eid, reason in self.terminations.items() if not reason.is_error}


def scan_recorded(run_dir: Path | str) -> RecordedEpisodes:
    """How every recorded episode of ``run_dir`` ended, in one pass that changes nothing."""
    recorded = RecordedEpisodes({})
    for item in scan_episode_lines(Path(run_dir) / EPISODE_RECORDS.name):
        if isinstance(item, TornTail):
            recorded.torn_tail = item
            continue
        recorded.records += 1
        recorded.validated += item.validated
        recorded.terminations[item.episode_id] = item.termination
    return recorded
