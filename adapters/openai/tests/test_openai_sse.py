"""The fast transport's SSE reader."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatsim_openai._sse import ChatStream, MalformedReply, parse_chat_body


def event(content: str | None = None, finish: str | None = None, **extra: object) -> bytes:
    delta = {} if content is None else {"content": content}
    chunk = {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


STREAM = (
    event("") + event("Hel") + b": keep-alive comment\n\n" + event("lo") + event(None, "stop")
    + b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\n'
    + b"data: [DONE]\n\n"
)  # fmt: skip


def clock() -> float:
    clock.ticks += 1.0  # type: ignore[attr-defined]
    return clock.ticks  # type: ignore[attr-defined,no-any-return]


clock.ticks = 0.0  # type: ignore[attr-defined]


def read(*parts: bytes) -> ChatStream:
    stream = ChatStream(clock)
    for part in parts:
        stream.feed(part)
    return stream


@given(st.lists(st.integers(0, len(STREAM)), max_size=12))
def test_any_split_of_the_bytes_reads_the_same(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(STREAM)]
    stream = read(*(STREAM[a:b] for a, b in itertools.pairwise(bounds)))
    assert stream.result() == "Hello"
    assert stream.finish_reason == "stop" and stream.done
    assert stream.usage is not None and stream.usage.completion_tokens == 2


def test_first_token_is_the_first_non_empty_content() -> None:
    clock.ticks = 0.0  # type: ignore[attr-defined]
    stream = read(event(""), event("a"), event("b"), event(None, "stop"))
    assert stream.first_token_at == 1.0 and stream.result() == "ab"


def test_the_first_token_is_dated_by_the_arrival_of_the_bytes_that_complete_it() -> None:
    clock.ticks = 0.0  # type: ignore[attr-defined]
    token = event("a")
    stream = ChatStream(clock)
    stream.feed(event(""), 10.0)  # no content yet: the arrival dates nothing
    stream.feed(token[:12], 20.0)  # half an event: not a token yet
    stream.feed(token[12:] + event("b"), 30.0)
    stream.feed(event(None, "stop"), 40.0)
    assert stream.first_token_at == 30.0 and stream.result() == "ab"
    assert clock.ticks == 0.0  # the clock is read only when no arrival time is given


def test_the_longest_pause_between_arrivals_of_content() -> None:
    stream = ChatStream(clock)
    stream.feed(event(""), 9.0)  # the role chunk: no content, no gap from it
    stream.feed(event("a"), 10.0)
    stream.feed(event("b"), 10.5)
    stream.feed(b": keep-alive\n\n", 11.0)  # not content
    stream.feed(event("c") + event("d"), 12.0)  # one arrival: no gap between c and d
    stream.feed(event(None, "stop"), 15.0)  # not content either
    assert stream.max_token_gap == 1.5 and stream.result() == "abcd"
    whole = ChatStream(clock)
    whole.feed(event("a") + event("b") + event(None, "stop"), 3.0)
    assert whole.max_token_gap is None  # all content in one arrival


def test_a_last_event_without_its_blank_line_is_dated_by_its_arrival() -> None:
    stream = ChatStream(lambda: 100.0)  # "now" is much later than the bytes came
    stream.feed(event("a"), 1.0)
    stream.feed(event("b") + event(None, "stop").rstrip(b"\n"), 2.0)
    assert stream.result() == "ab" and stream.max_token_gap == 1.0


def test_crlf_multiline_data_and_no_trailing_blank_line() -> None:
    crlf = read(event("x").replace(b"\n", b"\r\n"), event(None, "stop").replace(b"\n", b"\r\n"))
    assert crlf.result() == "x"
    multi = read(
        b'data: {"choices": [{"delta": {"content": "y"},\ndata:  "finish_reason": "length"}]}\n\n'
    )
    assert multi.result() == "y" and multi.finish_reason == "length"
    unterminated = read(event("z"), event(None, "stop").rstrip(b"\n"))
    assert unterminated.result() == "z"


def test_done_without_finish_reason_is_complete() -> None:
    assert read(event("q"), b"data: [DONE]\n\n").result() == "q"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (event("a"), "ended before"),
        (event("a") + b"<html>502</html>\r\n", "ended before"),
        (b'data: {"choices": []}\n\ndata: [DONE]\n\n', "no choices"),
        (event("a") + b'data: {"choices": [{"delta": {"content": "b\n\n', "not JSON"),
        (event("a") + b'data: {"error": {"message": "overloaded"}}\n\n', "error event"),
        (b"data: [1, 2]\n\n", "not a JSON object"),
    ],
)
def test_broken_streams(data: bytes, match: str) -> None:
    with pytest.raises(MalformedReply, match=match):
        read(data).result()


def test_whole_bodies() -> None:
    good = {"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1}}  # fmt: skip
    text, reason, usage = parse_chat_body(json.dumps(good).encode())
    assert (text, reason, usage is not None) == ("hi", "stop", True)
    null_content = {"choices": [{"message": {"content": None}, "finish_reason": "stop"}]}
    assert parse_chat_body(json.dumps(null_content).encode())[0] == ""
    for bad, match in [(b"{trunc", "not JSON"), (b'{"choices": []}', "no choices"),
                       (b'{"choices": [{"nomessage": 1}]}', "unexpected reply shape")]:  # fmt: skip
        with pytest.raises(MalformedReply, match=match):
            parse_chat_body(bad)
