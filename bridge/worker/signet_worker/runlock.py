"""One execution's Python at a time in a worker; its waits on LMs and tools overlap with the others.

A worker runs several requests on threads so that one waiting on an LM does not hold the others up. While
they all compute, though, the threads only take turns on the GIL, and every frame write or contended lock
hands it over and back: measured on the CPU-bound test LM (bench_process.py), 2 requests at once cost the
worker 0.7 ms more CPU per execution than one at a time, 4 at once 1.1 ms. So an execution holds the run
slot while it runs Python and lets it go around what waits (an LM call, a tool, a retrieval: the tracer's
hooks `pause` and `resume` it), and the executions overlap only there.

The server's executions are queued here (`submit`) rather than each given a thread that waits for the slot:
the thread that holds the slot when its execution ends (its result written) runs the next queued one itself,
and one that lets the slot go for a wait starts the next queued one on a pool thread. A run of CPU-bound
executions thus goes through one thread with no hand-off at all: a thread parked on the slot for each
request cost its wake-up, and another at the slot's release (bench_process.py: 4 in flight cost 0.3–0.4 ms
more CPU per execution than 1 thread serving the same 4). A thread waiting to resume after its wait is
handed the slot before a queued execution starts (it has work under way).

Every wait is bounded (WAIT): a request stuck in user code that never reaches a hook, or a call that
computes rather than waits, costs the others contention, never a hang. A thread that waited WAIT to resume
runs without the slot; an execution queued WAIT is started without it (the watchdog thread, awake only
while executions are queued, once per WAIT). Pauses nest (a tool that calls an LM); the thread-local state
is reset when the execution ends.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from typing import Any, Callable, Iterator

WAIT = 0.05  # seconds a thread waits for the slot (or an execution in the queue) before it runs without it

Job = Callable[[], None]
# Runs a callable on a pool thread (ThreadPoolExecutor.submit); raises RuntimeError once the pool is shut down.
Start = Callable[[Job], Any]

log = logging.getLogger("signet.worker")
_clock = time.monotonic
_local = threading.local()


def _state() -> threading.local:
    if not hasattr(_local, "held"):
        _local.held, _local.paused, _local.depth = False, 0, 0
    return _local


class Slot:
    """The run slot, its queue of executions, and the threads waiting to take it back."""

    def __init__(self) -> None:
        self._mu = threading.Lock()
        self._turn = threading.Condition(self._mu)  # threads waiting in take()
        self._empty = threading.Condition(self._mu)  # drain()
        self._free = threading.Condition(self._mu)  # wait_free()
        self.busy = False
        self._waiting = 0  # threads in take()
        self._handed = 0  # turns handed to them, not yet taken
        self._queue: deque[tuple[Job, Start, float]] = deque()
        self._queued = threading.Event()  # the watchdog sleeps on it while nothing is queued
        self._watchdog: threading.Thread | None = None

    def take(self, timeout: float) -> bool:
        """The slot for this thread: at once if free, else when handed over within timeout (False: not)."""
        with self._mu:
            if not self.busy:
                self.busy = True
                return True
            self._waiting += 1
            try:
                self._turn.wait_for(lambda: self._handed > 0, timeout)
                if self._handed > 0:  # also a turn handed as the wait timed out: it is this thread's
                    self._handed -= 1
                    return True
                return False
            finally:
                self._waiting -= 1

    def give(self) -> None:
        """The slot leaves this thread: to a thread waiting to resume, else to the next queued execution
        (started on a pool thread), else free."""
        with self._mu:
            job = self._pass()
            if job is not None:
                self._start(job[0], job[1], True)

    def next(self) -> Job | None:
        """At the end of an execution that holds the slot: the next queued execution, to run on this thread
        with the slot; None when the slot went to a waiting thread or is free."""
        with self._mu:
            job = self._pass()
            return None if job is None else job[0]

    def _pass(self) -> tuple[Job, Start] | None:
        """(Lock held.) Hand the slot on: a waiting thread first; else pop the queue's head (the slot
        stays busy, now the head's); else free it."""
        if self._waiting > self._handed:
            self._handed += 1
            self._turn.notify()
            return None
        if self._queue:
            job, start, _ = self._queue.popleft()
            if not self._queue:
                self._empty.notify_all()
            return job, start
        self.busy = False
        self._free.notify_all()
        return None

    def wait_free(self, timeout: float) -> bool:
        """True once the slot is free (nothing holds it), False if it is still held after timeout: an
        execution's result is out before its thread hands the slot on."""
        with self._mu:
            return self._free.wait_for(lambda: not self.busy, timeout)

    def submit(self, job: Job, start: Start) -> None:
        """Run job as an execution: now on a pool thread with the slot if it is free, else queued for it.
        Raises what start raises (RuntimeError: the pool is shut down)."""
        with self._mu:
            if not self.busy:
                self._start(job, start, True)
                self.busy = True
                return
            self._queue.append((job, start, _clock()))
            if self._watchdog is None or not self._watchdog.is_alive():
                self._watchdog = threading.Thread(target=self._watch, name="signet-runqueue", daemon=True)
                self._watchdog.start()
            if not self._queued.is_set():
                self._queued.set()

    def drain(self) -> None:
        """Return once no execution is queued (every one runs or ran on a pool thread)."""
        with self._mu:
            self._empty.wait_for(lambda: not self._queue)

    def _start(self, job: Job, start: Start, held: bool) -> None:
        # Under the lock: once drain() has seen the queue empty, every popped execution is in the pool.
        start(lambda: self._drive(job, held))

    def _drive(self, job: Job, held: bool) -> None:
        """A pool thread's run of executions: job, then while this thread holds the slot at an execution's
        end, the next queued one."""
        st = _state()
        st.depth, st.held, st.paused = 1, held, 0
        try:
            while True:
                try:
                    job()
                except BaseException:  # noqa: BLE001 - the server's job reports its own errors; never strand the slot
                    log.exception("an execution's job failed")
                st.paused = 0
                if not st.held:
                    return
                nxt = self.next()
                if nxt is None:
                    st.held = False
                    return
                job = nxt
        finally:
            st.depth, st.held, st.paused = 0, False, 0

    def _watch(self) -> None:
        """Start an execution queued WAIT without the slot (its holder is stuck in code that reaches no hook)."""
        while True:
            self._queued.wait()
            with self._mu:
                if not self._queue:
                    self._queued.clear()
                    continue
                job, start, since = self._queue[0]
                late = _clock() - since
                if late >= WAIT:
                    self._queue.popleft()
                    if not self._queue:
                        self._empty.notify_all()
                    try:
                        self._start(job, start, False)
                    except RuntimeError:  # pragma: no cover - the pool is shut down only once drained
                        log.exception("could not start a queued execution")
                    continue
            time.sleep(WAIT - late)


SLOT = Slot()


def submit(job: Job, start: Start) -> None:
    """Run job (a request that executes a program, its result written at its end) under the slot."""
    SLOT.submit(job, start)


def drain() -> None:
    SLOT.drain()


@contextlib.contextmanager
def running() -> Iterator[None]:
    """Hold the slot for an execution (nested calls on the same thread, and a queued execution's own
    `runner.execute`, share it)."""
    st = _state()
    st.depth += 1
    if st.depth == 1:
        st.held = SLOT.take(WAIT)
    try:
        yield
    finally:
        st.depth -= 1
        if st.depth == 0:
            if st.held:
                SLOT.give()
            st.held, st.paused = False, 0


def pause() -> None:
    """Let the slot go while this thread waits (an LM call, a tool); `resume` takes it back."""
    st = _state()
    if st.depth == 0:
        return  # not an execution's thread (an optimizer's, a module's own pool)
    if st.paused == 0 and st.held:
        st.held = False
        SLOT.give()
    st.paused += 1


def resume() -> None:
    st = _state()
    if st.depth == 0 or st.paused == 0:
        return
    st.paused -= 1
    if st.paused == 0:
        st.held = SLOT.take(WAIT)
