"""The worker's request loop: the reader thread, the thread pool, dispatch, cancel, shutdown.

The reader thread (the main thread) reads request lines from stdin. `ping` and
`cancel` are answered on it at once; `shutdown` stops intake and exits once the
running requests have ended; every other method runs on the thread pool, each
request in a fresh `contextvars.Context` so nothing DSPy keeps in context
variables leaks from one request to the next. An `execute` goes through the run
slot's queue (runlock.py): it may run on the thread of the execution before it.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import os
import platform
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO

import dspy
import orjson

from . import PROTOCOL_VERSION, budget, errors, export, importer, lmpool, lms, optimize, programs, runlock, runner
from .errors import BadInput, Cancelled
from .protocol import FrameWriter, SpanStream

log = logging.getLogger("signet.worker")

POOL_METHODS = ("execute", "render", "validate", "optimize", "export", "import_state", "index")


class Server:
    def __init__(self, writer: FrameWriter, threads: int):
        self.writer = writer
        self.threads = threads
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="signet-req")
        self.lm_cache = lms.LMCache()
        # Each thread may hold a build of the same program at once: keep that many idle per key.
        programs.SHARED.max_idle = max(threads, 1)
        self.reservations = budget.Reservations()
        self._lock = threading.Lock()
        self._inflight: dict[int, threading.Event] = {}
        self._served = 0
        self._stopping = False
        self._shutdown_thread: threading.Thread | None = None

    # -- frames ---------------------------------------------------------------------------------------

    def hello(self) -> None:
        self.writer.event(0, "hello", {
            "protocol": PROTOCOL_VERSION,
            "dspy": getattr(dspy, "__version__", "unknown"),
            "python": platform.python_version(),
            "pid": os.getpid(),
            "threads": self.threads,
        })

    def _error(self, req_id: int, exc: BaseException) -> None:
        body = errors.to_error(exc)
        if body["code"] == "internal":
            log.error("request %s failed: %s", req_id, body.get("detail", {}).get("traceback", body["message"]))
        self.writer.error(req_id, body)

    # -- reading --------------------------------------------------------------------------------------

    def serve(self, stdin: BinaryIO) -> int:
        """Read requests until EOF; then let running requests finish. Returns the exit status."""
        while True:
            raw = stdin.readline()
            if not raw:
                break
            self.handle_line(raw)
        with self._lock:
            self._stopping = True
            shutdown_thread = self._shutdown_thread
        if shutdown_thread is not None:
            shutdown_thread.join()
        self._finish_requests()
        return 0

    def _finish_requests(self) -> None:
        """Wait for every request taken (intake stopped): the queued executions reach the pool first."""
        runlock.drain()
        self.pool.shutdown(wait=True)

    def handle_line(self, raw: bytes) -> None:
        line = raw.strip()
        if not line:
            return
        try:
            request = _loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            # No id to answer to: Go's decoder refuses error frames with id 0.
            log.error("ignoring a request line that is not JSON (%s): %.200r", exc, line)
            return
        req_id = request.get("id") if isinstance(request, dict) else None
        if isinstance(req_id, bool) or not isinstance(req_id, int) or req_id <= 0:
            log.error("ignoring a request without a positive integer id: %.200r", line)
            return
        method = request.get("method")
        params = request.get("params")
        if params is None:
            params = {}
        if not isinstance(method, str) or not method:
            self._error(req_id, BadInput("request without a method", field="method"))
            return
        if not isinstance(params, dict):
            self._error(req_id, BadInput("params must be an object", field="params"))
            return
        try:
            self.dispatch(req_id, method, params)
        except Exception as exc:  # never let one request take the reader down
            self._error(req_id, exc)

    def dispatch(self, req_id: int, method: str, params: dict[str, Any]) -> None:
        if method == "ping":
            with self._lock:
                result = {"pid": os.getpid(), "served": self._served, "inflight": len(self._inflight)}
            pools = lmpool.report()
            if pools:
                result["lm_pools"] = pools
            self.writer.result(req_id, result)
        elif method == "cancel":
            target = params.get("target")
            with self._lock:
                event = self._inflight.get(target) if isinstance(target, int) else None
            if event is not None:
                event.set()
                self.reservations.cancel(target)
            self.writer.result(req_id, {"cancelled": event is not None})
        elif method == "admit":
            self.writer.result(req_id, {"waiting": self._admit(params)})
        elif method == "shutdown":
            self._begin_shutdown(req_id)
        elif method in POOL_METHODS:
            with self._lock:
                if self._stopping:
                    raise errors.WorkerError("the worker is shutting down", retryable=True, reason="shutting_down")
                if req_id in self._inflight:
                    raise BadInput(f"request id {req_id} is already running", field="id")
                cancel = threading.Event()
                self._inflight[req_id] = cancel
            job = functools.partial(self._run, req_id, method, params, cancel)
            try:
                if method == "execute":
                    runlock.submit(job, self.pool.submit)
                else:
                    self.pool.submit(job)
            except RuntimeError as exc:  # the pool is shut down
                with self._lock:
                    self._inflight.pop(req_id, None)
                raise errors.WorkerError("the worker is shutting down", retryable=True,
                                         reason="shutting_down") from exc
        else:
            raise BadInput(f"unknown method {method!r}", field="method")

    def _admit(self, params: dict[str, Any]) -> bool:
        """Go's answer to a `reserve` event (budget.py); answered on the reader thread, like cancel."""
        target, call, admit = params.get("target"), params.get("call"), params.get("admit")
        if isinstance(target, bool) or not isinstance(target, int) or not isinstance(call, str) or not isinstance(admit, bool):
            raise BadInput("admit needs target (a request id), call (a string) and admit (true or false)", field="params")
        message = params.get("message")
        return self.reservations.answer(target, call, admit, message if isinstance(message, str) else "")

    def _gate(self, req_id: int, params: dict, cancel: threading.Event) -> budget.CallGate | None:
        """The request's budget gate when Go asks for reservations (`"reserve": true`)."""
        if params.get("reserve") is not True:
            return None
        return budget.CallGate(self.reservations, req_id, lambda name, data: self.writer.event(req_id, name, data),
                               cancel)

    # -- running --------------------------------------------------------------------------------------

    def _run(self, req_id: int, method: str, params: dict, cancel: threading.Event) -> None:
        contextvars.Context().run(self._run_in_context, req_id, method, params, cancel)

    def _run_in_context(self, req_id: int, method: str, params: dict, cancel: threading.Event) -> None:
        result: dict | None = None
        failure: BaseException | None = None
        try:
            # A cancelled optimize still ends with a result (the base program, stopped "cancelled").
            if cancel.is_set() and method != "optimize":
                raise Cancelled()
            if method == "execute":
                result = runner.execute(
                    params, emit=SpanStream(self.writer, req_id), cancel=cancel,
                    lm_cache=self.lm_cache, gate=self._gate(req_id, params, cancel),
                )
            elif method == "optimize":
                result = optimize.optimize(
                    params, emit=lambda name, data: self.writer.event(req_id, name, data), cancel=cancel,
                    lm_cache=self.lm_cache, gate=self._gate(req_id, params, cancel),
                )
            elif method == "export":
                result = export.export(params)
            elif method == "index":
                from .retrieval import index as retrieval_index  # bm25s, onnxruntime: only when indexing

                result = retrieval_index.build(
                    params, emit=lambda name, data: self.writer.event(req_id, name, data), cancel=cancel)
            elif method == "import_state":
                result = importer.import_state(params)
            elif method == "render":
                result = runner.render(params)
            else:
                result = runner.validate(params)
        except BaseException as exc:  # noqa: BLE001 - user code may raise SystemExit too
            failure = exc
        finally:
            with self._lock:
                self._inflight.pop(req_id, None)
                self._served += 1
        if failure is not None:
            try:
                self._error(req_id, failure)
            except BaseException as exc:  # noqa: BLE001
                self.writer.error(req_id, {"code": "internal", "message": f"reporting an error failed: {exc!r}",
                                           "retryable": False})
        else:
            self.writer.result(req_id, result or {})

    # -- stopping -------------------------------------------------------------------------------------

    def _begin_shutdown(self, req_id: int) -> None:
        with self._lock:
            self._stopping = True
            if self._shutdown_thread is not None:
                self.writer.result(req_id, {})
                return

            def finish() -> None:
                self._finish_requests()
                self.writer.result(req_id, {})
                _exit(0)

            self._shutdown_thread = threading.Thread(target=finish, name="signet-shutdown", daemon=True)
            self._shutdown_thread.start()


def _loads(line: bytes) -> Any:
    """A request line as json reads it. orjson (DSPy's dependency) first: 3x faster on an execute's line (5-8 us
    of json per request); what it refuses that json reads (NaN, a lone surrogate, an int past 64 bits) or
    does not read at all goes through json, which raises for the caller."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


def _exit(status: int) -> None:
    try:
        sys.stderr.flush()
    finally:
        os._exit(status)


def _threads() -> int:
    raw = os.environ.get("SIGNET_WORKER_THREADS", "")
    try:
        value = int(raw) if raw.strip() else 8
    except ValueError:
        value = 8
    return max(1, value)


def main(in_fd: int, out_fd: int) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    memory_entries = int(os.environ.get("SIGNET_MEMORY_CACHE_ENTRIES", "2000") or 2000)
    disk_limit = int(os.environ.get("SIGNET_DSPY_CACHE_LIMIT", "0") or 0) or runner.DEFAULT_DISK_CACHE_LIMIT
    runner.configure_dspy(os.environ.get("DSPY_CACHEDIR"), memory_entries, disk_limit)
    writer = FrameWriter(out_fd)
    server = Server(writer, _threads())
    server.hello()
    status = server.serve(os.fdopen(in_fd, "rb", buffering=1 << 16))
    _exit(status)
    return status
