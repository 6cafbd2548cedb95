"""One execution's Python at a time in a worker; its waits on LMs and tools overlap with the others.

A worker runs several requests on threads so that one waiting on an LM does not hold the others up. While
they all compute, though, the threads only take turns on the GIL, and every frame write or contended lock
hands it over and back: measured on the CPU-bound test LM (bench_process.py), 2 requests at once cost the
worker 0.7 ms more CPU per execution than one at a time, 4 at once 1.1 ms. So an execution holds this lock
while it runs Python and lets it go around what waits (an LM call, a tool, a retrieval: the tracer's hooks
`pause` and `resume` it), and the threads overlap only there.

Every wait for the lock is bounded (WAIT): a request stuck in user code that never reaches a hook, or a
call that computes rather than waits, costs the others contention, as before this lock, never a hang.
Pauses nest (a tool that calls an LM); the thread-local state is reset when the execution ends.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

WAIT = 0.05  # seconds a thread waits for the lock before it runs without it

_lock = threading.Lock()
_local = threading.local()


def _state() -> threading.local:
    if not hasattr(_local, "held"):
        _local.held, _local.paused, _local.depth = False, 0, 0
    return _local


@contextlib.contextmanager
def running() -> Iterator[None]:
    """Hold the lock for an execution (nested calls on the same thread share it)."""
    st = _state()
    st.depth += 1
    if st.depth == 1:
        st.held = _lock.acquire(timeout=WAIT)
    try:
        yield
    finally:
        st.depth -= 1
        if st.depth == 0:
            if st.held:
                _lock.release()
            st.held, st.paused = False, 0


def pause() -> None:
    """Let the lock go while this thread waits (an LM call, a tool); `resume` takes it back."""
    st = _state()
    if st.depth == 0:
        return  # not an execution's thread (an optimizer's, a module's own pool)
    if st.paused == 0 and st.held:
        _lock.release()
        st.held = False
    st.paused += 1


def resume() -> None:
    st = _state()
    if st.depth == 0 or st.paused == 0:
        return
    st.paused -= 1
    if st.paused == 0:
        st.held = _lock.acquire(timeout=WAIT)
