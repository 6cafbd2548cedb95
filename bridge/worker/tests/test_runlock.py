"""The worker's run lock: one execution's Python at a time, its LM and tool calls let the others run."""

from __future__ import annotations

import threading

import pytest
from conftest import lm_profile

from signet_worker import runlock, runner, testlm

QA = {"name": "qa", "modules": [{"name": "answer", "type": "predict", "signature": "question -> answer"}]}


def other_thread_can_take_it() -> bool:
    got: list[bool] = []
    t = threading.Thread(target=lambda: got.append(runlock._lock.acquire(timeout=0)))
    t.start()
    t.join()
    if got[0]:
        runlock._lock.release()
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
    runlock._lock.acquire()
    try:
        with runlock.running():
            ran = True
    finally:
        runlock._lock.release()
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
