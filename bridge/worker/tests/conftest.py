"""Shared fixtures: environment before DSPy is imported, a worker subprocess, a fake OpenAI server."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

WORKER_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(WORKER_DIR))
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ.setdefault("DSPY_CACHEDIR", tempfile.mkdtemp(prefix="signet-dspy-cache-"))

import pytest  # noqa: E402

FACTS = {
    "name": "facts",
    "modules": [
        {"name": "recall", "type": "predict", "signature": "question -> facts: list[str]",
         "instructions": "List two or three short facts that help answer the question."},
        {"name": "answer", "type": "chain_of_thought", "signature": "question, facts: list[str] -> answer",
         "instructions": "Using the facts, answer the question in a few words."},
    ],
}

THREE = {
    "name": "three",
    "modules": FACTS["modules"] + [
        {"name": "polish", "type": "predict", "signature": "question, answer -> final_answer",
         "instructions": "Restate the answer."},
    ],
}

TEST_LM = {"model": "signet/test", "cache": False}


def span_events(frames: list[dict], whole: bool = True) -> list[dict]:
    """The span events of a worker's `spans` frames, in order, an LM span's `messages_of` replaced by
    the messages of the format span it names and a parse span's `completion_of` by the completion of
    the LM span it names; with `whole`, each end merged over its start (its delta carries only what
    is new), as Go assembles them (bridge/api.go, spanAssembler)."""
    starts: dict[str, dict] = {}
    sent: dict[tuple[str, str], Any] = {}  # (field, id of the ended span that sent it) -> its value
    out = []
    for frame in frames:
        if frame.get("event") != "spans":
            continue
        for span in frame["data"]["spans"]:
            for ref, field in (("messages_of", "messages"), ("completion_of", "completion")):
                if ref in span:
                    named = span[ref]
                    span = {k: v for k, v in span.items() if k != ref}
                    span[field] = sent.pop((field, named))  # naming no ended span's payload is a bug: KeyError
            if "end" not in span:
                starts[span["id"]] = span
            elif whole and span["id"] in starts:
                span = {**starts.pop(span["id"]), **span}
            if "end" in span:
                for field in ("messages", "completion"):
                    if field in span:
                        sent[(field, span["id"])] = span[field]
            out.append(span)
    return out


def lm_profile(**kwargs) -> dict:
    lm = dict(TEST_LM)
    if kwargs:
        lm["kwargs"] = kwargs
    return lm


class Worker:
    """A `python -m signet_worker` subprocess speaking the protocol."""

    def __init__(self, env: dict | None = None, threads: int = 4):
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNET_")}
        full_env.update({"PYTHONPATH": str(WORKER_DIR), "SIGNET_WORKER_THREADS": str(threads),
                         "SIGNET_DSPY_CACHEDIR": tempfile.mkdtemp(prefix="signet-worker-cache-")})
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "signet_worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=full_env, cwd=str(WORKER_DIR),
        )
        self.raw_lines: list[bytes] = []
        self.frames: "queue.Queue[dict | None]" = queue.Queue()
        self.stderr_lines: list[bytes] = []
        self.others: list[dict] = []
        self._threads = [threading.Thread(target=self._read_out, daemon=True),
                         threading.Thread(target=self._read_err, daemon=True)]
        for t in self._threads:
            t.start()
        self.hello = self.next(timeout=60)

    def _read_out(self) -> None:
        for line in self.proc.stdout:
            self.raw_lines.append(line)
            try:
                self.frames.put(json.loads(line))
            except ValueError:
                self.frames.put({"_invalid": line.decode("utf-8", "replace")})
        self.frames.put(None)

    def _read_err(self) -> None:
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    def send(self, req_id: int, method: str, params: dict | None = None) -> None:
        self.send_raw(json.dumps({"id": req_id, "method": method, "params": params or {}}).encode() + b"\n")

    def send_raw(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def next(self, timeout: float = 30) -> dict | None:
        return self.frames.get(timeout=timeout)

    def until_done(self, req_id: int, timeout: float = 30) -> tuple[dict, list[dict]]:
        """Frames until request req_id ends: (final frame, its span events). Other frames are kept aside."""
        deadline = time.monotonic() + timeout
        events: list[dict] = []
        kept = [f for f in self.others if f.get("id") == req_id]
        self.others = [f for f in self.others if f.get("id") != req_id]
        while True:
            frame = kept.pop(0) if kept else self.next(timeout=max(0.1, deadline - time.monotonic()))
            if frame is None:
                raise AssertionError(f"worker exited before request {req_id} ended; stderr:\n{self.stderr()}")
            if frame.get("id") != req_id:
                self.others.append(frame)
                continue
            if "event" in frame:
                events.append(frame)
                continue
            return frame, events

    def call(self, req_id: int, method: str, params: dict | None = None, timeout: float = 30):
        self.send(req_id, method, params)
        return self.until_done(req_id, timeout)

    def stderr(self) -> str:
        return b"".join(self.stderr_lines).decode("utf-8", "replace")

    def close(self, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            for t in self._threads:
                t.join(timeout=5)


@pytest.fixture
def worker():
    w = Worker()
    yield w
    w.close()


@pytest.fixture
def make_worker():
    made = []

    def make(**kwargs):
        w = Worker(**kwargs)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


class FakeOpenAI:
    """An OpenAI-compatible /v1/chat/completions on 127.0.0.1 answering as `mode` says."""

    def __init__(self):
        self.mode: object = 200
        self.reply = "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]"
        self.error_message = "nope"
        self.retry_after: str | None = None  # a Retry-After header on error replies
        self.requests = 0
        self.bodies: list[dict] = []  # every request's JSON body, in order
        self.headers: list[dict] = []  # and its headers (lower-case names)
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    fake.bodies.append(json.loads(raw))
                except ValueError:
                    fake.bodies.append({"_raw": raw.decode("utf-8", "replace")})
                fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                fake.requests += 1
                mode = fake.mode
                if mode == "hang":
                    fake.release.wait(10)
                    return
                if mode == 200 and self.path.endswith("/embeddings"):
                    body = fake.embeddings(fake.bodies[-1].get("input") or [])
                elif mode == 200:
                    body = {"id": "cmpl-1", "object": "chat.completion", "created": 1, "model": "x",
                            "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": fake.reply}}],
                            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}}
                else:
                    body = {"error": {"message": fake.error_message, "type": "error", "code": str(mode)}}
                data = json.dumps(body).encode()
                self.send_response(int(mode))
                self.send_header("content-type", "application/json")
                if mode != 200 and fake.retry_after is not None:
                    self.send_header("retry-after", fake.retry_after)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @staticmethod
    def embeddings(texts: list[str]) -> dict:
        """/v1/embeddings: a bag of words hashed into 16 dimensions; one prompt token per word."""
        import zlib

        data, tokens = [], 0
        for i, text in enumerate(texts):
            vector = [0.0] * 16
            for word in text.lower().split():
                vector[zlib.crc32(word.strip(".,?!").encode()) % 16] += 1.0
                tokens += 1
            data.append({"object": "embedding", "index": i, "embedding": vector})
        return {"object": "list", "model": "x", "data": data,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_openai():
    server = FakeOpenAI()
    yield server
    server.close()
