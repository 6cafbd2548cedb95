"""FrameWriter's span batches: one frame per batch, in order, bounded, drained before any other frame."""

from __future__ import annotations

import io
import json

import pytest

from signet_worker import protocol


class Out(io.BytesIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1

    def frames(self) -> list[dict]:
        return [json.loads(line) for line in self.getvalue().splitlines()]


@pytest.fixture
def writer(monkeypatch):
    # Events wait an hour, the flusher sleeps an hour: what is written below is what the triggers
    # under test wrote.
    monkeypatch.setattr(protocol, "FLUSH_EVERY", 3600)
    monkeypatch.setattr(protocol, "FLUSH_IDLE", 3600)
    out = Out()
    return protocol.FrameWriter(out), out


def stream(w: protocol.FrameWriter, req_id: int = 7, limit: int = 0) -> protocol.SpanStream:
    """A request's stream over w; limit 0: no payload limit."""
    return protocol.SpanStream(w, req_id, limit=limit)


def span(i: int, kind: str = "module") -> dict:
    return {"id": f"s{i}", "kind": kind, "name": "Predict", "start": "2026-12-03T14:00:00.000000000Z"}


def test_spans_wait_in_their_batch_and_go_out_before_the_result(writer):
    w, out = writer
    s7 = stream(w)
    s8 = stream(w, 8)
    for i in range(3):
        w.span(s7, span(i), False)
    w.span(s8, span(9), False)
    assert out.getvalue() == b"", "no frame yet: the batch waits for a trigger"
    w.result(7, {"outputs": {}})
    frames = out.frames()
    assert [f.get("event") or "result" for f in frames] == ["spans", "spans", "result"]
    assert frames[0] == {"id": 7, "event": "spans", "data": {"spans": [span(0), span(1), span(2)]}}
    assert frames[1] == {"id": 8, "event": "spans", "data": {"spans": [span(9)]}}
    assert out.flushes == 1


def test_an_lm_span_goes_out_at_once_with_the_batch_before_it(writer):
    w, out = writer
    s7 = stream(w)
    w.span(s7, span(0), False)
    w.span(s7, span(1, "lm"), True)
    assert out.frames() == [{"id": 7, "event": "spans", "data": {"spans": [span(0), span(1, "lm")]}}]
    assert out.flushes == 1


def test_a_batch_goes_out_at_its_bound(writer):
    w, out = writer
    s7 = stream(w)
    for i in range(protocol.BATCH_SPANS):
        w.span(s7, span(i), False)
    (frame,) = out.frames()
    assert [s["id"] for s in frame["data"]["spans"]] == [f"s{i}" for i in range(protocol.BATCH_SPANS)]


def test_a_span_over_the_frame_limit_keeps_its_skeleton(writer, monkeypatch):
    monkeypatch.setattr(protocol, "MAX_SPAN", 1000)
    w, out = writer
    s7 = stream(w)
    big = dict(span(0), inputs={"text": "x" * 5000})
    w.span(s7, big, True)
    (frame,) = out.frames()
    (sent,) = frame["data"]["spans"]
    assert sent["id"] == "s0" and sent["kind"] == "module" and "inputs" not in sent
    assert "exceeds the 64 MiB frame limit" in sent["error"]


def test_span_stream_sends_an_end_as_its_delta(writer):
    w, out = writer
    stream = protocol.SpanStream(w, 7)
    whole = dict(span(0, "lm"), messages=[{"role": "user", "content": "hi"}])
    stream.start(whole, True)
    stream.end(dict(whole, end="2026-12-03T14:00:01.000000000Z", completion="yo"),
               {"id": "s0", "end": "2026-12-03T14:00:01.000000000Z", "completion": "yo"}, True)
    sent = [s for f in out.frames() for s in f["data"]["spans"]]
    assert sent == [whole, {"id": "s0", "end": "2026-12-03T14:00:01.000000000Z", "completion": "yo"}]
    assert out.flushes == 2, "an LM span's start and end each go out at once"


def test_span_stream_sends_a_prompt_and_a_completion_once(writer):
    """A real run: each LM span's start names its format span instead of repeating its messages, each
    parse span's start the LM span whose completion it parses."""
    from conftest import THREE, lm_profile, span_events

    from signet_worker import lms, runner

    w, out = writer
    whole: list[dict] = []
    for emit in (protocol.SpanStream(w, 7), whole.append):
        runner.execute({"program": THREE, "inputs": {"question": "What is the capital of France?"},
                        "lm": lm_profile()}, emit=emit, cancel=None, lm_cache=lms.LMCache())
    w.result(7, {})
    sent = [s for f in out.frames() if f.get("event") == "spans" for s in f["data"]["spans"]]
    lm_starts = [s for s in sent if s.get("kind") == "lm"]
    format_ends = {s["id"]: s for s in sent if "end" in s and "messages" in s}
    assert len(lm_starts) == 3 and len(format_ends) == 3
    for start in lm_starts:
        assert "messages" not in start and start["messages_of"] in format_ends
    lm_ends = {s["id"]: s for s in sent if "end" in s and "completion" in s}
    parse_starts = [s for s in sent if s.get("name") == "ChatAdapter.parse"]
    assert len(parse_starts) == 3
    for start in parse_starts:
        assert "completion" not in start and start["completion_of"] in lm_ends
    # Resolved as Go resolves them, the spans carry what a run without the stream gives them.
    assembled = [s for s in span_events(out.frames()) if s["kind"] in ("lm", "adapter") and "end" in s]
    expected = [s for s in whole if s["kind"] in ("lm", "adapter") and "end" in s]
    assert [(s["name"], s.get("messages"), s.get("completion")) for s in assembled] == \
        [(s["name"], s.get("messages"), s.get("completion")) for s in expected]
    assert all(s.get("messages") for s in assembled if s["kind"] == "lm")
    assert all(s.get("completion") for s in assembled if s["name"] == "ChatAdapter.parse")


def test_span_stream_cuts_payloads_over_its_limit(writer):
    w, out = writer
    stream = protocol.SpanStream(w, 7, limit=100)
    small = dict(span(0), inputs={"q": "x" * 20})
    big = dict(span(1), inputs={"q": "y" * 500, "k": 3})
    stream.start(small, False)
    stream.start(big, False)
    w.result(7, {})
    sent = out.frames()[0]["data"]["spans"]
    assert sent[0] == small
    assert sent[1]["inputs"]["k"] == 3 and sent[1]["inputs"]["q"].endswith("…[truncated 400 bytes]")
    assert big["inputs"]["q"] == "y" * 500, "the tracer's span is not changed"


def test_a_batch_longer_than_the_limit_cuts_only_the_event_over_it(writer):
    w, out = writer
    s7_300 = stream(w, limit=300)
    small = [dict(span(i), inputs={"text": "s" * 60}) for i in range(3)]
    big = dict(span(3), inputs={"text": "b" * 500})
    for s in small + [big]:
        w.span(s7_300, s, False)
    w.result(7, {})
    sent = out.frames()[0]["data"]["spans"]
    assert sent[:3] == small, "each small event is whole, though the batch is over the limit"
    assert sent[3]["inputs"]["text"].startswith("b" * 100) and "truncated" in sent[3]["inputs"]["text"]


def test_a_batch_over_its_bytes_goes_out_as_several_frames_in_order(writer, monkeypatch):
    monkeypatch.setattr(protocol, "BATCH_BYTES", 2000)
    w, out = writer
    s7 = stream(w)
    events = [dict(span(i), inputs={"text": "x" * 400}) for i in range(10)]
    for s in events:
        w.span(s7, s, False)
    w.result(7, {})
    frames = [f for f in out.frames() if f.get("event") == "spans"]
    assert len(frames) > 1 and all(len(json.dumps(f)) < 2000 + 600 for f in frames)
    assert [s for f in frames for s in f["data"]["spans"]] == events


def test_a_value_that_is_not_json_is_sent_as_the_worker_sends_any(writer):
    w, out = writer
    s7 = stream(w)
    w.span(s7, dict(span(0), outputs={"when": object, "ratio": float("nan")}), True)
    (sent,) = out.frames()[0]["data"]["spans"]
    assert sent["outputs"] == {"when": str(object), "ratio": None}


def test_frames_are_utf8_and_limits_count_bytes(writer):
    """Non-ASCII text goes as itself; a field of 200 characters but 400 bytes is over a 300-byte limit."""
    w, out = writer
    s7_300 = stream(w, limit=300)
    w.span(s7_300, dict(span(0), inputs={"text": "é" * 200}), True)
    raw = out.getvalue()
    assert "é".encode() in raw and b"\\u00e9" not in raw
    (sent,) = out.frames()[0]["data"]["spans"]
    assert "truncated" in sent["inputs"]["text"] and len(sent["inputs"]["text"].encode()) < 400


def test_a_span_that_ended_right_after_its_start_is_one_whole_event(writer):
    """An end whose start is the last event waiting goes out as one event, the start with the end's
    delta over it, in the start's place; a start already sent, or with other events after it, keeps
    its end a delta. The dicts the tracer handed over are not changed."""
    w, out = writer
    s7 = stream(w)
    parent, child = span(0), dict(span(1, "adapter"), parent="s0", inputs={"q": "x"})
    child_end = {"id": "s1", "end": "2026-12-03T14:00:00.000000002Z", "messages": [{"role": "user", "content": "x"}]}
    module = dict(span(3), parent="s0")
    module_end = {"id": "s3", "end": "2026-12-03T14:00:00.000000003Z", "outputs": {"a": "z"}}
    kept = [dict(parent), dict(child), dict(child_end), dict(module), dict(module_end)]
    for data in (parent, child, child_end, module, dict(span(4), parent="s3")):
        w.span(s7, data, False)
    w.span(s7, {"id": "s4", "end": "2026-12-03T14:00:00.000000003Z"}, False)
    w.span(s7, module_end, False)  # its child's events came between: a delta
    w.span(s7, dict(span(2, "lm"), parent="s0"), True)  # an LM start: everything goes out at once
    lm_end = {"id": "s2", "end": "2026-12-03T14:00:00.000000004Z", "completion": "y"}
    parent_end = {"id": "s0", "end": "2026-12-03T14:00:00.000000005Z", "outputs": {"a": "y"}}
    w.span(s7, lm_end, True)
    w.span(s7, parent_end, False)
    w.result(7, {"outputs": {}})
    frames = out.frames()
    assert [f["data"]["spans"] for f in frames[:-1]] == [
        [parent, {**child, **child_end}, module, dict(span(4), parent="s3", end="2026-12-03T14:00:00.000000003Z"),
         module_end, dict(span(2, "lm"), parent="s0")],
        [lm_end],
        [parent_end],
    ]
    assert [parent, child, child_end, module, module_end] == kept


def test_events_go_out_with_the_next_one_once_the_oldest_waited_flush_every(writer, monkeypatch):
    """The request's own thread sends what waited FLUSH_EVERY (the flusher thread is not woken for it)."""
    now = [100.0]
    monkeypatch.setattr(protocol, "_clock", lambda: now[0])
    monkeypatch.setattr(protocol, "FLUSH_EVERY", 0.002)
    w, out = writer
    s7 = stream(w)
    w.span(s7, span(0), False)
    now[0] += 0.001
    w.span(s7, span(1), False)
    w.event(7, "progress", {"done": 1})
    assert out.flushes == 0, "nothing waited FLUSH_EVERY yet"
    now[0] += 0.001
    w.span(s7, span(2), False)
    assert [f.get("event") for f in out.frames()] == ["spans", "progress", "spans"] and out.flushes == 1
    w.span(s7, span(3), False)
    assert out.flushes == 1, "a new wait starts with the next event"


def test_the_hello_and_a_reserve_go_out_at_once(writer):
    """Go waits for both: the pool counts a worker ready at its hello (it waited for the flusher, up
    to FLUSH_IDLE, 50 ms of every worker's start), and an LM call for its reserve's answer."""
    w, out = writer
    w.event(0, "hello", {"protocol": 2})
    assert out.frames() == [{"id": 0, "event": "hello", "data": {"protocol": 2}}] and out.flushes == 1
    w.event(7, "reserve", {"call": "c1"})
    assert out.frames()[-1]["event"] == "reserve" and out.flushes == 2


@pytest.mark.parametrize("lm, flushes", [
    ({"free": True}, 0),  # a local model: nothing to charge, its events wait with the others
    ({}, 6),  # no price known: the call's cost is unknown, still reported at once
    ({"price_in": 1.0, "price_out": 2.0}, 6),
])
def test_an_lm_calls_events_go_out_at_once_unless_its_profile_is_free(writer, lm, flushes):
    """A real run of three LM calls: a call that may cost has its start and its end each flushed as it
    happens (a worker killed right after has reported it); a free LM's wait in the batch like the
    other spans, until the result. Assembled as Go assembles them, the spans are the same either way."""
    from conftest import THREE, lm_profile, span_events

    from signet_worker import lms, runner

    w, out = writer
    params = {"program": THREE, "inputs": {"question": "What is the capital of France?"}, "lm": {**lm_profile(), **lm}}
    whole: list[dict] = []
    runner.execute(params, emit=whole.append, cancel=None, lm_cache=lms.LMCache())
    runner.execute(params, emit=protocol.SpanStream(w, 7), cancel=None, lm_cache=lms.LMCache())
    assert out.flushes == flushes
    assert len(out.frames()) == flushes, "one frame per flush: a free LM's spans wait for the result"
    w.result(7, {})
    assert out.flushes == flushes + 1

    def shown(spans: list[dict]) -> list[tuple]:
        return [tuple(s.get(k) for k in ("kind", "name", "messages", "completion", "usage", "cost", "cost_unknown"))
                for s in spans if "end" in s]
    assert shown(span_events(out.frames())) == shown(whole)


def test_a_reserve_follows_the_spans_before_it_and_goes_out_at_once(writer):
    """Go answers a reserve before the LM call starts: the spans of its request that came first are
    in frames before it, and the whole goes out at once."""
    w, out = writer
    s7 = stream(w)
    s7.start(span(0), False)
    s7.start(dict(span(1, "adapter"), parent="s0"), False)
    w.event(7, "reserve", {"call": "c1"})
    assert [f.get("event") for f in out.frames()] == ["spans", "reserve"] and out.flushes == 1
    assert [s["id"] for s in out.frames()[0]["data"]["spans"]] == ["s0", "s1"]


def test_the_flusher_sends_what_waits_when_nothing_follows(monkeypatch):
    """A span event that no other event follows goes out within FLUSH_IDLE, by the flusher thread."""
    import threading

    monkeypatch.setattr(protocol, "FLUSH_EVERY", 3600)
    monkeypatch.setattr(protocol, "FLUSH_IDLE", 0.001)
    flushed = threading.Event()

    class Flushed(Out):
        def flush(self) -> None:
            super().flush()
            flushed.set()

    out = Flushed()
    w = protocol.FrameWriter(out)
    stream(w).start(span(0), False)
    assert flushed.wait(30), "the waiting event was never sent"
    assert out.frames() == [{"id": 7, "event": "spans", "data": {"spans": [span(0)]}}]
