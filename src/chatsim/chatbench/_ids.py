"""ChatBench question ids onto chatsim's bundled questions.

The release names questions ``<subject>-redux-<i>`` (row ``i``, 0-based, of MMLU-Redux's 100
annotated questions of that subject) or ``<subject>-test-<i>`` (row ``i`` of the MMLU test
split). chatsim's bundled questions are ``<subject>-test-<row>`` with the same MMLU test rows,
so a ``test`` id maps to itself, and a ``redux`` id maps through the bundled Redux file, whose
row ``i`` is matched to its MMLU row by content (as ``chatsim.questions`` does for the labels).

Caveat: the bundled Redux files are the GitHub copies (``aryopg/mmlu-redux``); the release's
``redux`` rows index the Hugging Face ``edinburgh-dawg/mmlu-redux-2.0`` release, whose row
order is assumed to be the same (it is not verified here: that release is not bundled).
"""

from __future__ import annotations

import ast
import csv
import io
import re
from functools import cache

# chatsim.questions keeps the content key and the package-data reader private; the mapping
# must use the very same normalisation, so it imports them rather than copying them.
from chatsim.questions._bundled import _key, _read, load_bundled
from chatsim.questions._subjects import CHATBENCH_SUBJECTS

__all__ = ["IdMapping", "map_question_ids", "redux_rows"]

_ID = re.compile(r"^(?P<subject>[a-z_]+)-(?P<kind>redux|test)-(?P<row>\d+)$")


@cache
def redux_rows(subject: str) -> tuple[str | None, ...]:
    """The chatsim id of each row of the bundled Redux file of ``subject`` (None: no match)."""
    by_key: dict[tuple[str, ...], str] = {}
    for question in load_bundled(subject, "test"):
        by_key.setdefault(_key(question.stem, question.options), question.id)
    text = _read("mmlu_redux", f"mmlu_{subject}.csv")
    rows = csv.DictReader(io.StringIO(text, newline=""))
    return tuple(by_key.get(_key(r["question"], ast.literal_eval(r["choices"]))) for r in rows)


@cache
def _test_ids(subject: str) -> frozenset[str]:
    return frozenset(q.id for q in load_bundled(subject, "test"))


def _map_one(release_id: str) -> tuple[str | None, str]:
    """(chatsim id or None, why not) for one release id."""
    match = _ID.match(release_id)
    if match is None:
        return None, "not of the form <subject>-redux-<i> or <subject>-test-<i>"
    subject, kind, row = match["subject"], match["kind"], int(match["row"])
    if subject not in CHATBENCH_SUBJECTS:
        return None, f"subject {subject} is not bundled"
    if kind == "test":
        qid = f"{subject}-test-{row}"
        # Not bundled: beyond the file, or an exact duplicate row that the loader drops.
        return (
            (qid, "")
            if qid in _test_ids(subject)
            else (None, "no such MMLU test row (or a duplicate row)")
        )
    rows = redux_rows(subject)
    if row >= len(rows):
        return None, f"MMLU-Redux has {len(rows)} rows for {subject}"
    return (rows[row], "") if rows[row] else (None, "its Redux row matches no MMLU test row")


class IdMapping:
    """Release id → chatsim id, and the ids that did not map (with the reason)."""

    def __init__(self, release_ids: list[str] | tuple[str, ...] = ()) -> None:
        self.to_chatsim: dict[str, str] = {}
        """Each mapped release id and its chatsim id."""
        self.unmapped: dict[str, str] = {}
        """Each release id that did not map, and why."""
        for rid in release_ids:
            self.get(rid)

    def get(self, release_id: str) -> str | None:
        """The chatsim id of ``release_id`` (mapped on first sight), or None."""
        if release_id not in self.to_chatsim and release_id not in self.unmapped:
            qid, why = _map_one(release_id)
            if qid is None:
                self.unmapped[release_id] = why
            else:
                self.to_chatsim[release_id] = qid
        return self.to_chatsim.get(release_id)


def map_question_ids(release_ids: list[str] | tuple[str, ...]) -> IdMapping:
    """Map the release's question ids onto bundled chatsim ids (see the module docstring)."""
    return IdMapping(release_ids)
