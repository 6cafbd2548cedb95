"""Framing of the worker protocol: stdout isolation, frame writing, JSON safety.

Nothing here imports DSPy. `isolate_stdout` must run before anything that
might print: it keeps a private duplicate of the original fd 1 for frames and
points fd 1 (C level) and `sys.stdout` (Python level) at stderr.
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
import math
import os
import sys
import threading
import time
from typing import Any, BinaryIO

try:
    import orjson
except ImportError:  # pragma: no cover - DSPy requires it; json alone still writes every frame
    orjson = None  # type: ignore[assignment]

from . import redact
from .truncate import cut_span, span_payload_limit

MAX_FRAME = 64 << 20  # bytes, newline included (docs/protocol.md)


def isolate_stdout() -> int:
    """Return a private fd for the protocol; fd 1 and sys.stdout now go to stderr."""
    try:
        sys.stdout.flush()
    except Exception:
        pass
    proto_fd = os.dup(1)
    os.set_inheritable(proto_fd, False)  # child processes of user code must not get it
    os.dup2(2, 1)
    stream = redact.RedactingStream(sys.stderr)
    sys.stderr = stream  # type: ignore[assignment]
    sys.stdout = stream  # type: ignore[assignment]
    return proto_fd


def isolate_stdin() -> int:
    """Return a private fd for requests; fd 0 and sys.stdin now read /dev/null.

    User code that calls input() or reads fd 0 must not consume request bytes.
    """
    proto_fd = os.dup(0)
    os.set_inheritable(proto_fd, False)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdin = open(os.devnull, "r")  # noqa: SIM115 - lives as long as the process
    return proto_fd


def jsonable(value: Any, _depth: int = 0) -> Any:
    """A JSON-safe copy of value: pydantic models dumped, DSPy examples as dicts, else str()."""
    # Exact str, dict and list first, their values too: most of what spans carry (module inputs and
    # outputs), each walked without the chain of isinstance tests below; the result is the same.
    kind = type(value)
    if kind is str:
        return value
    if _depth < 40:
        if kind is dict:
            return {k if type(k) is str else str(k): v if type(v) is str else jsonable(v, _depth + 1)
                    for k, v in value.items()}
        if kind is list:
            return [v if type(v) is str else jsonable(v, _depth + 1) for v in value]
    if _depth > 40:
        return str(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, enum.Enum):
        return jsonable(value.value, _depth + 1)
    if isinstance(value, dict):
        return {str(k): jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v, _depth + 1) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        try:
            return jsonable(model_dump(mode="json"), _depth + 1)
        except Exception:
            try:
                return jsonable(model_dump(), _depth + 1)
            except Exception:
                pass
    to_dict = getattr(value, "toDict", None)  # dspy.Example / dspy.Prediction
    if callable(to_dict):
        try:
            return jsonable(to_dict(), _depth + 1)
        except Exception:
            pass
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__}>"


# Frames are encoded with orjson (a dependency of DSPy's), 8x faster than json on a spans frame.
# What it would write differently from json or not at all (dataclasses, datetimes, str and int
# subclasses; lone surrogates, ints over 64 bits, ...) raises, and goes through json as before.
_ORJSON_OPTIONS = (orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
                   | orjson.OPT_PASSTHROUGH_SUBCLASS) if orjson is not None else 0
# One encoder for the rest: json.dumps with options builds a new JSONEncoder on each call. ASCII: it
# escapes what is not valid Unicode (a lone surrogate) rather than fail.
_ENCODER = json.JSONEncoder(ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def _dumps(value: Any) -> bytes:
    """value as compact UTF-8 JSON: non-ASCII characters as themselves, NaN and infinities as null,
    what is not JSON as `jsonable` makes it. Bytes: the limits count bytes."""
    if orjson is not None:
        try:
            return orjson.dumps(value, option=_ORJSON_OPTIONS)
        except TypeError:
            pass
    try:
        return _ENCODER.encode(value).encode()
    except (TypeError, ValueError):
        return _ENCODER.encode(jsonable(value)).encode()


def encode(frame: dict) -> bytes:
    """One frame as a line: UTF-8 JSON, no NaN. Not redacted here: Go redacts every line a worker
    sends, with the same values and shapes, before it decodes it (docs/protocol.md)."""
    return _dumps(frame) + b"\n"


# How long span events (and other events) may wait in the writer before they are sent: FLUSH_EVERY
# while the request's thread writes more (it sends them itself), FLUSH_IDLE when it writes none (the
# flusher thread sends them). Each wake-up of the flusher cost its process a dozen context switches
# as the two threads passed the GIL back and forth: at 2 ms, 7 a traced execution of the benchmark.
FLUSH_EVERY = 0.002
FLUSH_IDLE = 0.05
_clock = time.monotonic
# A batch of span events goes out at once at this many spans; its frames hold about this many bytes.
BATCH_BYTES = 1 << 20
BATCH_SPANS = 64
# A span event larger than this is replaced by its skeleton and an error (a batch of one stays a frame).
MAX_SPAN = MAX_FRAME - (64 << 10)


def _urgent(frame: dict) -> bool:
    """Go waits for a `reserve` (the LM call waits for its answer) and for the `hello` (a worker is
    ready once Go has it): both are sent at once."""
    return frame.get("event") in ("reserve", "hello")


def _encode_span(data: dict, limit: int) -> bytes:
    """One span event as JSON; with a limit, its payload fields cut to it; over MAX_SPAN, its skeleton."""
    text = _dumps(data)
    if 0 < limit < len(text):
        # Only a span encoded longer than the limit can hold a field over it (a field's count of
        # bytes never exceeds its JSON): most are sent without walking their payloads.
        text = _dumps(cut_span(dict(data), limit))
    if len(text) > MAX_SPAN:
        text = _dumps(_skeleton(data, f"span event of {len(text)} bytes exceeds the 64 MiB frame limit"))
    return text


def _skeleton(data: dict, message: str) -> dict:
    small = {k: data[k] for k in ("id", "parent", "kind", "name", "module", "start", "end") if k in data}
    small["error"] = message
    return small


class FrameWriter:
    """Writes frames to the private protocol fd, one whole line at a time.

    Span events are batched: each request's SpanStream keeps its events waiting (`span`, under this
    writer's lock); the waiting events go out encoded in one go as one `spans` frame per request (one
    encoding, one write; a span that ends right after its start, with no event between, as one whole
    event) when the flusher wakes (see FLUSH_EVERY), when a request has BATCH_SPANS waiting, before
    any other frame (so a request's spans precede its result, and a `reserve` the span of its call),
    and at once with an urgent event: an LM call's that may cost (the tracer says which), whose end
    carries what the call cost and whose start says a call is in flight, so a worker killed right
    after either (kill -9, a crash in the next call) has still reported every charge, and every call
    whose cost nobody will know. A free LM's events (a local model) wait with the others.
    """

    def __init__(self, fd_or_file: int | BinaryIO):
        if isinstance(fd_or_file, int):
            self._out: BinaryIO = os.fdopen(fd_or_file, "wb", buffering=1 << 16)
        else:
            self._out = fd_or_file
        self._lock = threading.Lock()
        self.broken = False
        # The streams with span events waiting, in the order their first one came.
        self._waiting: list[SpanStream] = []
        # Flushing each frame costs a syscall and a wake-up of Go's reader: buffered events go out
        # after FLUSH_EVERY with the next one, or FLUSH_IDLE by a daemon; results flush at once.
        self._dirty = False
        self._oldest: float | None = None  # when the oldest event not yet flushed was buffered
        self._wake = threading.Event()
        threading.Thread(target=self._flusher, name="signet-flush", daemon=True).start()

    def write(self, frame: dict) -> None:
        try:
            line = encode(frame)
        except (TypeError, ValueError):
            line = encode(jsonable(frame))
        if len(line) > MAX_FRAME:
            line = encode(_too_large(frame, len(line)))
        with self._lock:
            if self.broken:
                return
            try:
                self._drain()
                self._out.write(line)
                self._buffered("event" not in frame or _urgent(frame))
            except (BrokenPipeError, OSError):
                # Go is gone; nobody reads frames any more. The parent-death
                # signal or EOF on stdin ends the process.
                self.broken = True

    def span(self, stream: SpanStream, data: dict, urgent: bool) -> None:
        """One span event (a start, or an end's delta) of stream's request, into its waiting events,
        kept as it is (the tracer never changes it again) and encoded when they go out."""
        with self._lock:
            if self.broken:
                return
            events = stream.events
            if not events:
                self._waiting.append(stream)
                events.append(data)
            elif "end" in data and events[-1]["id"] == data["id"] and "end" not in events[-1]:
                # An end whose start is the last event waiting (a span with no child: a format, a parse, a
                # retrieval, a free LM's call): one whole event, the start with the delta over it, as Go
                # merges them (a new dict: the tracer's own stay as they are). Checked here rather than at
                # the drain, where a walk of the batch cost 5 us an execution more.
                events[-1] = {**events[-1], **data}
            else:
                events.append(data)
            if not urgent and len(events) < BATCH_SPANS and self._dirty and self._oldest is not None \
                    and _clock() - self._oldest < FLUSH_EVERY:
                return  # waits with the others (the flusher was woken for the oldest)
            try:
                self._buffered(urgent or len(events) >= BATCH_SPANS)
            except (BrokenPipeError, OSError):
                self.broken = True

    def _buffered(self, urgent: bool) -> None:
        """After an event or frame is buffered (the lock held): everything goes out now if urgent or
        the oldest of it has waited FLUSH_EVERY, else the flusher is woken to send it in FLUSH_IDLE."""
        now = _clock()
        if self._oldest is None:
            self._oldest = now
        if urgent or now - self._oldest >= FLUSH_EVERY:
            self._drain()
            self._out.flush()
            self._dirty = False
            self._oldest = None
        else:
            self._dirty = True
            if not self._wake.is_set():  # set() takes a lock and notifies: once per wake-up
                self._wake.set()

    def _drain(self) -> None:
        """Write every stream's waiting events as `spans` frames (the lock held): a request's events
        encoded in one go, each alone (cut to the limit, bounded, in frames of about BATCH_BYTES) only
        when the whole is longer than the stream's payload limit or than BATCH_BYTES: no field of a
        shorter encoding can be over the limit."""
        if not self._waiting:
            return
        for stream in self._waiting:
            spans, req_id, limit = stream.events, stream.req_id, stream.limit
            text = _dumps(spans)
            size = len(text)
            if size <= (limit if limit > 0 else BATCH_BYTES) and size <= BATCH_BYTES and size <= MAX_SPAN:
                self._write_spans(req_id, text)
            else:
                parts: list[bytes] = []
                size = 0
                for data in spans:
                    part = _encode_span(data, limit)
                    if parts and size + len(part) > BATCH_BYTES:
                        self._write_spans(req_id, b"[" + b",".join(parts) + b"]")
                        parts, size = [], 0
                    parts.append(part)
                    size += len(part)
                self._write_spans(req_id, b"[" + b",".join(parts) + b"]")
            stream.events = []  # a new list: the drained one is not read again
        self._waiting.clear()
        self._dirty = True

    def _write_spans(self, req_id: int, array: bytes) -> None:
        # The frame in three writes into the buffer, not joined first.
        out = self._out
        out.write(b'{"id":%d,"event":"spans","data":{"spans":' % req_id)
        out.write(array)
        out.write(b"}}\n")

    def _flusher(self) -> None:
        while not self.broken:
            self._wake.wait()  # idle workers do not wake up
            self._wake.clear()
            time.sleep(FLUSH_IDLE)
            if not self._dirty:
                continue
            with self._lock:
                try:
                    self._drain()
                    self._out.flush()
                    self._dirty = False
                    self._oldest = None
                except (BrokenPipeError, OSError, ValueError):
                    self.broken = True

    def event(self, req_id: int, name: str, data: dict) -> None:
        self.write({"id": req_id, "event": name, "data": data})

    def result(self, req_id: int, result: dict) -> None:
        self.write({"id": req_id, "result": result})

    def error(self, req_id: int, error: dict) -> None:
        self.write({"id": req_id, "error": error})


def _too_large(frame: dict, size: int) -> dict:
    """Replace a frame that exceeds the limit with one that says so."""
    req_id = frame.get("id", 0)
    message = f"frame of {size} bytes exceeds the 64 MiB limit"
    if "event" in frame:
        return {"id": req_id, "event": frame["event"], "data": _skeleton(frame.get("data") or {}, message)}
    return {"id": req_id, "error": {"code": "internal", "message": message, "retryable": False}}


class SpanStream:
    """A request's tracing.SpanSink: its span events kept waiting for its writer to send them, an end
    as its delta alone, payloads cut to the span payload limit.

    A payload an ended span sent is not sent again by the start that carries the very same object:
    an LM span whose `messages` is the list its format span's end sent starts with `messages_of`, that
    span's id, instead; a parse span whose `completion` is the string an LM span's end sent, with
    `completion_of`. Go puts them back before anything sees the span (docs/protocol.md, "Spans").
    """

    # kind of a span -> (field its start may repeat, field naming the span that sent it), and
    # kind of a span -> the field its end sends that a start may repeat.
    _REPEATS = {"lm": ("messages", "messages_of"), "adapter": ("completion", "completion_of")}
    _SENDS = {"adapter": "messages", "lm": "completion"}

    def __init__(self, writer: FrameWriter, req_id: int, limit: int | None = None):
        self._writer = writer
        self.req_id = req_id
        self.limit = span_payload_limit() if limit is None else limit
        # The events waiting for the writer (its lock guards the list; it replaces it as it sends them).
        self.events: list[dict] = []
        # id(payload) -> (the payload, kept alive; the id of the span that sent it)
        self._sent: dict[tuple[str, int], tuple[Any, str]] = {}

    def start(self, span: dict, urgent: bool) -> None:
        repeats = self._REPEATS.get(span["kind"])
        if repeats is not None:
            field, ref = repeats
            value = span.get(field)
            if value is not None:
                sent = self._sent.pop((field, id(value)), None)
                if sent is not None and sent[0] is value:
                    span = {k: v for k, v in span.items() if k != field}
                    span[ref] = sent[1]
        self._writer.span(self, span, urgent)

    def end(self, span: dict, delta: dict, urgent: bool) -> None:
        field = self._SENDS.get(span["kind"])
        if field is not None:
            value = delta.get(field)
            if value is not None:
                self._sent[(field, id(value))] = (value, delta["id"])
        self._writer.span(self, delta, urgent)
