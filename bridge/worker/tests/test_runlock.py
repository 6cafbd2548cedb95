"""The worker's run lock: one execution's Python at a time, its LM and tool calls let the others run."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import lm_profile

from signet_worker import runlock, runner, testlm

QA = {"name": "qa", "modules": [{"name": "answer", "type": "predict", "signature": "question -> answer"}]}


def other_thread_can_take_it() -> bool:
    got: list[bool] = []
    t = threading.Thread(target=lambda: got.append(runlock.SLOT.take(0)))
    t.start()
    t.join()
    if got[0]:
        runlock.SLOT.give()
    return got[0]


def test_an_execution_holds_it_and_a_pause_lets_it_go():
    with runlock.running():
        assert not other_thread_can_take_it()
        runlock.pause()
        runlock.pause()  # a tool that calls an LM
        assert other_thread_can_take_it()
        runlock.resume()
        assert other_thread_can_take_it(), "the outer call still waits"
        runlock.resume()
        assert not other_thread_can_take_it()
    assert other_thread_can_take_it()


def test_a_wait_for_it_is_bounded(monkeypatch):
    """A holder stuck in user code costs the others contention, never a hang."""
    monkeypatch.setattr(runlock, "WAIT", 0.01)
    assert runlock.SLOT.take(0)
    try:
        with runlock.running():
            ran = True
    finally:
        runlock.SLOT.give()
    assert ran
    assert other_thread_can_take_it()


def test_outside_an_execution_pause_and_resume_do_nothing():
    runlock.pause()
    runlock.resume()
    assert other_thread_can_take_it()


def test_an_lm_that_waits_lets_it_go_and_the_test_lm_keeps_it(fake_openai, monkeypatch):
    seen: dict[str, bool] = {}
    handler_post = fake_openai.server.RequestHandlerClass.do_POST

    def post(handler):
        seen["http"] = other_thread_can_take_it()
        handler_post(handler)

    monkeypatch.setattr(fake_openai.server.RequestHandlerClass, "do_POST", post)
    lm = {"model": "openai/x", "api_base": fake_openai.api_base, "cache": False, "kwargs": {"num_retries": 0}}
    result = runner.execute({"program": QA, "inputs": {"question": "q"}, "lm": lm}, emit=None, cancel=None,
                            lm_cache=runner.lms.LMCache())
    assert result["outputs"] == {"answer": "Paris"}
    assert seen["http"] is True, "the run lock was held while the LM call waited on the network"

    reply = testlm.reply

    def computed(messages):
        seen["test"] = other_thread_can_take_it()
        return reply(messages)

    monkeypatch.setattr(testlm, "reply", computed)
    runner.execute({"program": QA, "inputs": {"question": "What is the capital of France?"},
                    "lm": lm_profile()}, emit=None, cancel=None, lm_cache=runner.lms.LMCache())
    assert seen["test"] is False, "the test LM computes here: its call keeps the run lock"
    assert other_thread_can_take_it(), "the execution left the lock held"


@pytest.mark.parametrize("exception", [False, True])
def test_a_tool_lets_it_go_while_it_runs(exception):
    import dspy

    seen: list[bool] = []

    def lookup(city: str) -> str:
        """Look a city up."""
        seen.append(other_thread_can_take_it())
        if exception:
            raise RuntimeError("down")
        return "sunny"

    tool = dspy.Tool(lookup)
    from signet_worker.tracing import Tracer

    tracer = Tracer(emit=None)
    with runlock.running(), dspy.context(callbacks=[tracer]):
        try:
            tool(city="Paris")
        except RuntimeError:
            pass
        assert not other_thread_can_take_it(), "the tool's end did not take the lock back"
    assert seen == [True]


# -- the queue of executions (Server.dispatch submits every execute through it) --------------------------


@pytest.fixture
def slot(monkeypatch):
    fresh = runlock.Slot()
    monkeypatch.setattr(runlock, "SLOT", fresh)
    # Past WAIT the watchdog starts a queued execution without the slot: on a loaded machine a test's holder can
    # take that long, and the queue would empty behind the test's back. Tests of the bound set it low themselves.
    monkeypatch.setattr(runlock, "WAIT", 60.0)
    pool = ThreadPoolExecutor(max_workers=4)
    yield fresh, pool.submit
    runlock.drain()
    pool.shutdown(wait=True)


def execution(log: list, name: str, *, before=None, inside=None, ended=None) -> runlock.Job:
    """A job as the server's: runner.execute's own running() inside, then its result (then `ended` is set)."""

    def job() -> None:
        if before is not None:
            before.wait(5)
        with runlock.running():
            log.append((name, threading.get_ident(), "start"))
            if inside is not None:
                inside()
        log.append((name, threading.get_ident(), "result"))
        if ended is not None:
            ended.set()

    return job


def test_a_queued_execution_runs_on_the_thread_of_the_one_before(slot):
    s, start = slot
    log: list = []
    go, done = threading.Event(), threading.Event()
    s.submit(execution(log, "a", before=go), start)
    s.submit(execution(log, "b"), start)
    s.submit(lambda: done.set(), start)
    assert s.busy and len(s._queue) == 2, "a holds the slot: b waits in the queue, not on a thread"
    go.set()
    assert done.wait(5)
    assert [(n, e) for n, _, e in log] == [("a", "start"), ("a", "result"), ("b", "start"), ("b", "result")]
    assert len({t for _, t, _ in log}) == 1, "b ran on a's thread, after a's result"
    runlock.drain()
    assert s.wait_free(5), "the slot is still held after every execution ended"


def test_a_pause_starts_the_next_queued_execution(slot):
    s, start = slot
    log: list = []
    b_started = threading.Event()

    def a_waits() -> None:  # an LM call: b starts while a waits
        runlock.pause()
        assert b_started.wait(5), "b did not start while a waited"
        runlock.resume()

    go, a_ended, b_ended = threading.Event(), threading.Event(), threading.Event()
    s.submit(execution(log, "a", before=go, inside=a_waits, ended=a_ended), start)
    s.submit(execution(log, "b", inside=b_started.set, ended=b_ended), start)
    go.set()
    assert a_ended.wait(5) and b_ended.wait(5)
    threads = {n: t for n, t, e in log if e == "start"}
    assert threads["a"] != threads["b"]
    assert s.wait_free(5), "the slot is still held after every execution ended"


class _Signalling(threading.Condition):
    """The slot's turn condition, telling when a thread starts waiting on it (its wait count already raised)."""

    def __init__(self, lock: threading.Lock, waiting: threading.Event):
        super().__init__(lock)
        self._signal = waiting

    def wait_for(self, predicate, timeout=None):  # type: ignore[override]
        self._signal.set()
        return super().wait_for(predicate, timeout)


def test_a_thread_resuming_gets_the_slot_before_a_queued_execution(slot):
    s, start = slot
    log: list = []
    a_paused, a_may_resume = threading.Event(), threading.Event()
    resumed = []

    def a_waits() -> None:
        runlock.pause()
        a_paused.set()
        a_may_resume.wait(5)
        runlock.resume()
        resumed.append(_local_held())

    a_waiting = threading.Event()
    s._turn = _Signalling(s._mu, a_waiting)  # set once a thread waits in take() for the slot

    def b_computes() -> None:
        a_may_resume.set()
        assert a_waiting.wait(5), "a never waited for the slot"
        s.submit(execution(log, "c", ended=c_ended), start)  # queued: b holds the slot

    a_ended, b_ended, c_ended = threading.Event(), threading.Event(), threading.Event()
    s.submit(execution(log, "a", inside=a_waits, ended=a_ended), start)
    assert a_paused.wait(5)
    s.submit(execution(log, "b", inside=b_computes, ended=b_ended), start)
    assert a_ended.wait(5) and b_ended.wait(5) and c_ended.wait(5)
    order = [(n, e) for n, _, e in log]
    assert resumed == [True], "a waited past WAIT for its turn"
    assert order.index(("a", "result")) < order.index(("c", "start")), order


def test_an_execution_queued_too_long_starts_without_the_slot(slot, monkeypatch):
    """A holder stuck in code that reaches no hook delays the queue by WAIT, never stops it."""
    s, start = slot
    monkeypatch.setattr(runlock, "WAIT", 0.02)
    stuck, ran = threading.Event(), threading.Event()
    s.submit(lambda: stuck.wait(5), start)
    s.submit(ran.set, start)
    assert ran.wait(5), "the queued execution never started"
    stuck.set()


def test_drain_waits_for_queued_executions(slot):
    s, start = slot
    go = threading.Event()
    log: list = []
    s.submit(execution(log, "a", before=go), start)
    s.submit(execution(log, "b"), start)
    drained = threading.Event()
    threading.Thread(target=lambda: (runlock.drain(), drained.set())).start()
    assert not drained.wait(0.05)
    go.set()
    assert drained.wait(5)


def _local_held() -> bool:
    return runlock._state().held
