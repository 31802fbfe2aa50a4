"""Reply scripting: chunking, stop/max_tokens shaping, latency, queues."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatsim.testing._server_script import (
    Latency,
    ReplyContext,
    ReplyScript,
    ScriptExhaustedError,
    shape_reply,
    split_chunks,
)


@given(st.text(), st.one_of(st.none(), st.integers(1, 50)))
def test_chunks_concatenate_back(text: str, n: int | None) -> None:
    pieces = split_chunks(text, n)
    assert "".join(pieces) == text
    if n is not None and text:
        assert len(pieces) == min(n, len(text))


def test_word_chunks_carry_their_leading_space() -> None:
    assert split_chunks(" a bb  c ", None) == (" a", " bb", "  c ")


def test_shape_reply_stop_and_length() -> None:
    latency = Latency()
    cut = shape_reply("Hi there [END] more", stop=["[END]", "zz"], max_tokens=None,
                      finish_reason="stop", latency=latency)  # fmt: skip
    assert (cut.text, cut.finish_reason, cut.completion_tokens) == ("Hi there ", "stop", 2)
    long = shape_reply("a b c d", stop=None, max_tokens=2, finish_reason="stop", latency=latency)
    assert (long.text, long.finish_reason, long.chunks) == ("a b", "length", ("a", " b"))
    first = shape_reply("x STOP y END", stop=["END", "STOP"], max_tokens=None,
                        finish_reason="stop", latency=latency)  # fmt: skip
    assert first.text == "x "


def test_latency() -> None:
    assert Latency.ms(10, 2).total(5) == pytest.approx(0.018)
    with pytest.raises(ValueError, match=">= 0"):
        Latency(first_token=-1)
    with pytest.raises(ValueError, match=">= 1"):
        Latency(chunks=0)


def test_script_kinds() -> None:
    ctx = ReplyContext("chat", "m", {}, messages=({"role": "user", "content": "q"},))
    assert ReplyScript("c").text_for(ctx) == "c"
    assert ReplyScript(lambda c: c.last_user_message * 2).text_for(ctx) == "qq"
    queue = ReplyScript(iter(["a"]))
    assert queue.remaining == 1 and queue.text_for(ctx) == "a"
    with pytest.raises(ScriptExhaustedError):
        queue.text_for(ctx)
    other = ReplyScript("o")
    script = ReplyScript("d", models={"x": other})
    assert script.for_model("x") is other and script.for_model("y") is script
    assert ReplyContext("completions", "m", {}, prompt="p").last_user_message == "p"
    assert ReplyContext("chat", "m", {}).last_user_message == ""
