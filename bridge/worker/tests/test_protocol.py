"""The worker as Go sees it: a subprocess speaking docs/protocol.md on stdin/stdout."""

from __future__ import annotations

import json
import textwrap
import time

from conftest import FACTS, THREE, lm_profile, span_events

from signet_worker import PROTOCOL_VERSION

FRAME_KEYS = ({"id", "event", "data"}, {"id", "result"}, {"id", "error"})


def assert_all_frames(worker):
    """Every line the worker wrote on stdout is a valid frame (as Go's strict decoder wants it)."""
    assert worker.raw_lines, "no output"
    for raw in worker.raw_lines:
        assert raw.endswith(b"\n")
        raw.decode("utf-8")  # strict: valid UTF-8, as Go reads it
        frame = json.loads(raw)
        assert set(frame) in FRAME_KEYS, frame
        assert isinstance(frame["id"], int) and frame["id"] >= 0
        if frame["id"] == 0:
            assert frame.get("event") == "hello"
        if "error" in frame:
            assert set(frame["error"]) <= {"code", "message", "retryable", "detail"} and frame["error"]["code"]
        if "event" in frame:
            assert isinstance(frame["data"], dict)


def test_hello_ping_validate_render(worker):
    hello = worker.hello
    assert hello["id"] == 0 and hello["event"] == "hello"
    data = hello["data"]
    assert data["protocol"] == PROTOCOL_VERSION and data["dspy"] == "3.4.1" and data["threads"] == 4
    assert data["pid"] == worker.proc.pid and data["python"].count(".") == 2
    final, _ = worker.call(1, "ping")
    assert final["result"] == {"pid": worker.proc.pid, "served": 0, "inflight": 0}
    final, _ = worker.call(2, "validate", {"program": FACTS})
    assert [m["name"] for m in final["result"]["modules"]] == ["recall", "answer"]
    final, _ = worker.call(3, "render", {"program": FACTS, "inputs": {"question": "Where?"}, "lm": lm_profile()})
    assert [m["module"] for m in final["result"]["modules"]] == ["recall", "answer"]
    final, _ = worker.call(4, "ping")
    assert final["result"]["served"] == 2
    assert worker.close() == 0  # EOF on stdin: exit 0
    assert_all_frames(worker)


def test_execute_streams_spans_then_result(worker):
    final, events = worker.call(7, "execute", {"program": FACTS, "inputs": {"question": "What is the capital of France?"},
                                               "lm": lm_profile()})
    assert final["result"]["outputs"]["answer"] == "France"
    assert events and all(e["event"] == "spans" for e in events)
    spans = span_events(events, whole=False)
    assert len(events) < len(spans), "span events go out in batches"
    # Each span goes out either as a start and then an end, or, when it ended before its start went
    # out, as one whole event (a start's fields and an end's).
    seen: dict[str, list[dict]] = {}
    for s in spans:
        seen.setdefault(s["id"], []).append(s)
    whole = {i: evs[0] for i, evs in seen.items() if len(evs) == 1}
    pairs = {i: evs for i, evs in seen.items() if len(evs) == 2}
    assert len(whole) + len(pairs) == len(seen), seen
    for w in whole.values():
        assert {"kind", "name", "start", "end"} <= set(w), w
    for start, end in pairs.values():
        # An end carries only what is new since its start: the start's payload is not sent twice.
        assert "end" not in start and "end" in end
        assert not (set(end) - {"id"}) & set(start), (start, end)
        assert "kind" in start and "kind" not in end
    assert whole and pairs
    # The adapter's format span ends before anything flushes its start: one whole event, its inputs
    # and the messages it rendered.
    fmt = [w for w in whole.values() if w["name"].endswith(".format")]
    assert fmt and all("inputs" in w and "messages" in w for w in fmt)
    # An LM span's start and end each go out at once, in frames of their own: never one whole event.
    frame_of = {}
    for n, e in enumerate(events):
        for s in e["data"]["spans"]:
            frame_of.setdefault(s["id"], []).append(n)
    lms = [evs for evs in pairs.values() if evs[0]["kind"] == "lm"]
    assert lms and not any(w["kind"] == "lm" for w in whole.values())
    for start, end in lms:
        first, second = frame_of[start["id"]]
        assert first < second
        # Nothing follows either in its frame: each was flushed as it came.
        assert events[first]["data"]["spans"][-1]["id"] == start["id"] == events[second]["data"]["spans"][-1]["id"]
        assert end["usage"]["calls"] == 1 and "completion" in end and "messages" in start
    assert worker.close() == 0
    assert_all_frames(worker)


def test_non_ascii_text_goes_out_as_itself_in_valid_utf8(worker):
    question = "Où est Zürich — 東京? 🙂"
    final, events = worker.call(7, "execute", {"program": FACTS, "inputs": {"question": question},
                                               "lm": lm_profile()})
    assert "result" in final
    spans = span_events(events, whole=False)
    assert any(s.get("inputs", {}).get("question") == question for s in spans)
    assert any(question.encode() in raw for raw in worker.raw_lines), "UTF-8, not \\u escapes"
    assert worker.close() == 0
    assert_all_frames(worker)


def test_concurrent_requests_interleave_and_ping_answers_at_once(worker):
    slow = lm_profile(sleep_ms=300)
    for i in range(1, 5):
        worker.send(i, "execute", {"program": THREE, "inputs": {"question": f"Where is City{i}?"}, "lm": slow})
    time.sleep(0.2)
    t = time.monotonic()
    final, _ = worker.call(10, "ping")
    assert time.monotonic() - t < 0.5, "ping waits for nothing"
    assert final["result"]["inflight"] == 4
    order, results = [], {}
    deadline = time.monotonic() + 30
    while len(results) < 4 and time.monotonic() < deadline:
        frame = worker.others.pop(0) if worker.others else worker.next(timeout=30)
        order.append(frame)
        if "result" in frame:
            results[frame["id"]] = frame["result"]
    elapsed = time.monotonic() - t
    assert {i: r["outputs"]["final_answer"] for i, r in results.items()} == {i: f"City{i}" for i in range(1, 5)}
    # Span events of all four requests arrive before the first result: they ran at the same time.
    first_result = next(n for n, f in enumerate(order) if "result" in f)
    assert {f["id"] for f in order[:first_result]} == {1, 2, 3, 4}
    # Three 300 ms LM calls per request, four requests on four threads: about 1 s, not 3.6 s.
    assert elapsed < 3.0
    assert worker.close() == 0
    assert_all_frames(worker)


def test_cancel(worker):
    worker.send(1, "execute", {"program": THREE, "inputs": {"question": "q"}, "lm": lm_profile(sleep_ms=300)})
    time.sleep(0.45)
    final, _ = worker.call(2, "cancel", {"target": 1})
    assert final["result"] == {"cancelled": True}
    final, events = worker.until_done(1)
    assert final["error"]["code"] == "cancelled" and final["error"]["retryable"] is False
    lm_ends = [s for s in span_events(events) if s["kind"] == "lm" and "end" in s]
    assert len(lm_ends) < 3
    final, _ = worker.call(3, "cancel", {"target": 1})
    assert final["result"] == {"cancelled": False}
    assert worker.close() == 0


def test_cancel_a_queued_request(make_worker):
    worker = make_worker(threads=1)
    worker.send(1, "execute", {"program": FACTS, "inputs": {"question": "Where is Rome?"}, "lm": lm_profile(sleep_ms=300)})
    worker.send(2, "execute", {"program": FACTS, "inputs": {"question": "Where is Oslo?"}, "lm": lm_profile()})
    final, _ = worker.call(3, "cancel", {"target": 2})
    assert final["result"] == {"cancelled": True}
    final, events = worker.until_done(2)
    assert final["error"]["code"] == "cancelled" and events == []
    final, _ = worker.until_done(1)
    assert final["result"]["outputs"]["answer"] == "Rome"
    assert worker.close() == 0


def test_shutdown_finishes_running_requests(worker):
    worker.send(1, "execute", {"program": FACTS, "inputs": {"question": "Where is Rome?"}, "lm": lm_profile(sleep_ms=200)})
    time.sleep(0.1)
    worker.send(2, "shutdown")
    final, _ = worker.until_done(1)
    assert final["result"]["outputs"]["answer"] == "Rome"
    final, _ = worker.until_done(2)
    assert final == {"id": 2, "result": {}}
    assert worker.proc.wait(timeout=20) == 0
    assert_all_frames(worker)


def test_malformed_lines_never_crash(worker):
    worker.send_raw(b"this is not json\n")
    worker.send_raw(b"[1, 2, 3]\n")
    worker.send_raw(b'{"method": "ping"}\n')
    worker.send_raw(b"\n")
    worker.send_raw(b'{"id": 5, "method": 42}\n')
    final, _ = worker.until_done(5)
    assert final["error"]["code"] == "bad_input"
    worker.send_raw(b'{"id": 6, "method": "execute", "params": [1]}\n')
    final, _ = worker.until_done(6)
    assert final["error"]["code"] == "bad_input"
    final, _ = worker.call(7, "frobnicate")
    assert final["error"]["code"] == "bad_input" and "frobnicate" in final["error"]["message"]
    final, _ = worker.call(8, "execute", {"program": {"modules": []}, "lm": lm_profile()})
    assert final["error"]["code"] == "bad_program"
    final, _ = worker.call(9, "ping")
    assert final["result"]["pid"] == worker.proc.pid
    assert worker.close() == 0
    assert_all_frames(worker)
    assert "not JSON" in worker.stderr()


def test_crash_on_exits_with_status_3(worker):
    worker.send(1, "execute", {"program": FACTS, "inputs": {"question": "please CRASH now"},
                               "lm": lm_profile(crash_on="CRASH")})
    assert worker.proc.wait(timeout=30) == 3
    assert_all_frames(worker)


def test_a_crash_keeps_what_lm_calls_reported(worker):
    """Each LM span event is sent at once: a worker that dies mid-call has reported the calls it ended,
    with their cost, and the call it began (so Go knows that call's cost is unknown)."""
    program = {"name": "two", "modules": [
        {"name": "first", "type": "predict", "signature": "question -> answer"},
        {"name": "second", "type": "predict", "signature": "answer -> final", "instructions": "Say CRASH."},
    ]}
    lm = dict(lm_profile(crash_on="CRASH"), price_in=3, price_out=15)
    worker.send(1, "execute", {"program": program, "inputs": {"question": "What is the capital of France?"}, "lm": lm})
    assert worker.proc.wait(timeout=30) == 3
    frames = []
    while (frame := worker.next(timeout=10)) is not None:
        frames.append(frame)
    lm_events = [s for s in span_events(frames) if s["kind"] == "lm"]
    assert [("end" in d, d["module"]) for d in lm_events] == [(False, "first"), (True, "first"), (False, "second")]
    assert lm_events[1]["cost"] > 0 and lm_events[1]["usage"]["calls"] == 1


NOISY = '''
import ctypes, os, sys
import dspy

class Noisy(dspy.Module):
    def __init__(self):
        super().__init__()
        self.inner = dspy.Predict("question -> answer")

    def forward(self, question):
        print("print() from user code")
        sys.stdout.write("sys.stdout.write from user code\\n")
        from tqdm import tqdm
        for _ in tqdm(range(3), disable=False):
            pass
        os.write(1, b"os.write(1) from user code\\n")
        libc = ctypes.CDLL(None)
        libc.printf(b"printf from C\\n")
        libc.puts(b"puts from C")
        libc.fflush(None)
        print(os.environ.get("SIGNET_FAKE_KEY"))  # a careless user prints the key
        assert sys.stdin.read() == "" and os.read(0, 100) == b""  # requests are not on fd 0
        return self.inner(question=question)
'''


def test_stdout_isolation(make_worker, tmp_path):
    (tmp_path / "noisy.py").write_text(textwrap.dedent(NOISY))
    worker = make_worker(env={"SIGNET_FAKE_KEY": "sk-isolation-secret-0001"})
    spec = {"name": "noisy", "modules": [{"name": "noisy", "type": "custom", "source": "noisy.py:Noisy",
                                          "signature": "question -> answer"}]}
    params = {"program": spec, "inputs": {"question": "Where is Paris?"}, "base_dir": str(tmp_path),
              "lm": dict(lm_profile(), api_key_env="SIGNET_FAKE_KEY")}
    worker.send(1, "execute", params)
    worker.send(2, "ping")  # queued behind the execute on stdin while user code runs
    final, _ = worker.until_done(1)
    assert final["result"]["outputs"] == {"answer": "Paris"}, final
    final, _ = worker.until_done(2)
    assert final["result"]["pid"] == worker.proc.pid
    assert worker.close() == 0
    assert_all_frames(worker)
    err = worker.stderr()
    assert "3/3" in err  # tqdm's bar went to stderr
    for text in ("print() from user code", "sys.stdout.write from user code", "os.write(1) from user code",
                 "printf from C", "puts from C"):
        assert text in err, f"{text!r} should have gone to stderr"
    assert "sk-isolation-secret-0001" not in err and "[redacted]" in err


def test_key_never_leaks(make_worker, fake_openai):
    secret = "sk-signet-leak-test-7f3a9c2e"
    fake_openai.mode = 401
    fake_openai.error_message = f"Incorrect API key provided: {secret}. You can find your key somewhere."
    worker = make_worker(env={"SIGNET_FAKE_KEY": secret})
    lm_test = dict(lm_profile(), api_key_env="SIGNET_FAKE_KEY")
    lm_refused = {"model": "openai/gpt-4o-mini", "api_base": "http://127.0.0.1:1/v1", "api_key_env": "SIGNET_FAKE_KEY",
                  "cache": False, "kwargs": {"num_retries": 0, "timeout": 1}}
    lm_echo = dict(lm_refused, api_base=fake_openai.api_base)
    final, events = worker.call(1, "execute", {"program": FACTS, "inputs": {"question": "Where is Rome?"}, "lm": lm_test})
    assert "result" in final and events
    final, _ = worker.call(2, "execute", {"program": FACTS, "inputs": {"question": "Where is Rome?"}, "lm": lm_refused})
    assert final["error"]["code"] == "lm_unavailable"
    final, _ = worker.call(3, "execute", {"program": FACTS, "inputs": {"question": "Where is Rome?"}, "lm": lm_echo})
    assert final["error"]["code"] == "lm_auth"
    assert "[redacted]" in final["error"]["message"]  # the provider echoed the key; it was removed
    final, _ = worker.call(4, "render", {"program": FACTS, "inputs": {"question": "x"}, "lm": lm_echo})
    assert "result" in final
    assert worker.close() == 0
    assert_all_frames(worker)
    # The worker's own output is clean; its frames (the spans' errors quote the provider too) Go redacts
    # as it reads them (bridge's TestFramesAreRedactedByGo, the binary's TestBinarySecretsNeverWritten).
    assert secret not in worker.stderr()


def test_request_lines_read_as_json_reads_them():
    """orjson reads a request line first; what it refuses and json reads still reads the same."""
    import math

    from signet_worker.server import _loads

    lines = [
        b'{"id":1,"method":"execute","params":{"inputs":{"q":"caf\\u00e9 \xe2\x9c\x93"},"trace":true,"n":null}}',
        b'{"id":2,"params":{"x":1e400,"y":-0.0,"z":12345678901234567890123}}',  # past 64 bits: json
        b'{"id":3,"params":{"s":"\\ud800 lone surrogate"}}',  # json keeps it as the str json gives
        b'{"id":4,"params":{"a":1,"a":2}}',
    ]
    for line in lines:
        assert _loads(line) == json.loads(line), line
    nan = _loads(b'{"id":5,"params":{"x":NaN}}')["params"]["x"]
    assert math.isnan(nan)
    for bad in (b"this is not json", b"{\"id\": 1", b"\xff\xfe"):
        try:
            _loads(bad)
        except (ValueError, UnicodeDecodeError):
            continue
        raise AssertionError(f"{bad!r} read as JSON")
