"""dispatch.py: DSPy finds the same hooks and binds the same arguments, and traces do not change."""

from __future__ import annotations

import inspect

import dspy
import pytest
from conftest import THREE, lm_profile
from dspy.utils import callback as dspy_callback
from dspy.utils.callback import BaseCallback

from signet_worker import dispatch, lms, runner
from signet_worker.tracing import Tracer


def _f(a, b=2, *rest, c, d=4, **more):
    return a


@pytest.mark.parametrize("args,kwargs", [((1,), {"c": 3}), ((1, 5, 6, 7), {"c": 3, "d": 9, "z": 0}),
                                         ((), {"a": 1, "c": 3, "y": 8})])
def test_getcallargs_is_inspects(args, kwargs):
    assert dispatch.getcallargs(_f, *args, **kwargs) == inspect.getcallargs(_f, *args, **kwargs)


def _g(a, /, b, *, c=3, **more):
    return a


def _h(a, b=2):
    return a


def _signature_bind(fn, *args, **kwargs):
    bound = inspect.signature(fn, follow_wrapped=False).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


@pytest.mark.parametrize("fn,args,kwargs", [
    (_g, (1, 2), {}), (_g, (1,), {"b": 2, "a": 9, "c": 4}), (_f, (1,), {"c": 3, "rest": 5}), (_f, (1, 2, 3), {"c": 0}),
    (_h, (1,), {}), (_h, (), {"a": 1, "b": 5})])
def test_getcallargs_binds_as_signature_bind(fn, args, kwargs):
    """The binder read once gives what Signature.bind and apply_defaults give, in their order."""
    want = _signature_bind(fn, *args, **kwargs)
    got = dispatch.getcallargs(fn, *args, **kwargs)
    assert got == want and list(got) == list(want)


@pytest.mark.parametrize("fn,args,kwargs", [
    (_h, (), {}), (_h, (1, 2, 3), {}), (_h, (1,), {"a": 2}), (_h, (1,), {"z": 2}), (_g, (), {"a": 1, "b": 2}),
    (_f, (1,), {})])
def test_getcallargs_refuses_a_bad_call(fn, args, kwargs):
    with pytest.raises(TypeError):
        _signature_bind(fn, *args, **kwargs)
    with pytest.raises(TypeError):
        dispatch.getcallargs(fn, *args, **kwargs)


def test_getcallargs_of_dspys_hooked_methods():
    lm = dspy.LM("openai/x", cache=False)
    adapter = dspy.ChatAdapter()
    predict = dspy.Predict("question -> answer")
    sig = predict.signature
    cases = [
        (dspy.BaseLM.__call__, (lm,), {"messages": [{"role": "user", "content": "hi"}], "temperature": 0.0}),
        (dspy.BaseLM.__call__, (lm, "a prompt"), {}),
        (dspy.Module.__call__, (predict,), {"question": "q"}),
        (dspy.ChatAdapter.format, (adapter, sig, [], {"question": "q"}), {}),
        (dspy.ChatAdapter.parse, (adapter, sig), {"completion": "[[ ## answer ## ]]\nx"}),
    ]
    for fn, args, kwargs in cases:
        fn = getattr(fn, "__wrapped__", fn)  # with_callbacks hands DSPy's own function to getcallargs
        assert dispatch.getcallargs(fn, *args, **kwargs) == inspect.getcallargs(fn, *args, **kwargs), fn


def test_a_tracer_gets_the_handlers_dspy_would_pick():
    tracer = Tracer(emit=None)
    lm = dspy.LM("openai/x", cache=False)
    adapter = dspy.ChatAdapter()
    predict = dspy.Predict("question -> answer")
    tool = dspy.Tool(lambda x: x, name="echo")
    for instance, fn in [(lm, dspy.BaseLM.__call__), (adapter, dspy.ChatAdapter.format),
                         (adapter, dspy.ChatAdapter.parse), (predict, dspy.Module.__call__),
                         (tool, dspy.Tool.__call__)]:
        for ours, theirs in [(dispatch._on_start, dispatch._ORIGINAL[0]), (dispatch._on_end, dispatch._ORIGINAL[1])]:
            for _ in range(2):  # the second from the memo
                assert ours(tracer, instance, fn) == theirs(tracer, instance, fn), (instance, fn)


class _Decider(dspy.Module):
    def forward(self):
        return None


class _ClassDecider(dspy.Module):
    supports_decision_requests = True


class _PropertyDecider(dspy.Module):
    @property
    def supports_decision_requests(self):
        return True


class _GetattrDecider:
    def __getattr__(self, name):
        return True


class _Slotted:
    __slots__ = ("x",)


class _PickyGetattribute(dspy.Module):
    def __getattribute__(self, name):
        return True if name == "supports_decision_requests" else super().__getattribute__(name)


def test_the_decision_flag_is_read_as_getattr_reads_it():
    """DSPy's lookup sends any instance whose `supports_decision_requests` is True to the LM hooks: however
    an object carries the flag (its __dict__, set late, its class, a property, __getattr__,
    __getattribute__), the memo tells it as getattr does, and the handler is DSPy's."""
    tracer = Tracer(emit=None)
    late = _Decider()
    cases = [_Decider(), late, _ClassDecider(), _PropertyDecider(), _GetattrDecider(), _Slotted(),
             _PickyGetattribute()]
    for instance in cases:
        for step in range(2):
            if instance is late and step == 1:
                late.supports_decision_requests = True
            want = getattr(instance, "supports_decision_requests", False) is True
            assert dispatch._decides(instance) is want, (type(instance), step)
            fn = type(instance).__call__
            for ours, theirs in [(dispatch._on_start, dispatch._ORIGINAL[0]),
                                 (dispatch._on_end, dispatch._ORIGINAL[1])]:
                assert ours(tracer, instance, fn).__name__ == theirs(tracer, instance, fn).__name__
    assert [dispatch._decides(i) for i in cases] == [False, True, True, True, True, False, True]


def test_other_callbacks_use_dspys_own_lookup(monkeypatch):
    seen = []
    monkeypatch.setattr(dispatch, "_ORIGINAL", (lambda *a: seen.append(a) or (lambda **kw: None),) * 2
                        + dispatch._ORIGINAL[2:])
    other = BaseCallback()
    dispatch._on_start(other, dspy.ChatAdapter(), dspy.ChatAdapter.format)
    assert len(seen) == 1 and seen[0][0] is other


def _shape(spans):
    """Spans without what differs from run to run (ids, times)."""
    ids = {s["id"]: i for i, s in enumerate(s for s in spans if "end" not in s)}
    return [{k: (ids.get(v) if k in ("id", "parent") else v) for k, v in s.items() if k not in ("start", "end")}
            for s in spans]


def test_traces_are_the_same_with_dspys_own_dispatch():
    def run():
        spans = []
        params = {"program": THREE, "inputs": {"question": "What is the capital of France?"}, "lm": lm_profile()}
        result = runner.execute(params, emit=spans.append, cancel=None, lm_cache=lms.LMCache())
        result.pop("duration_ms")
        return result, _shape(spans)

    assert dspy_callback._get_on_start_handler is dispatch._on_start, "installed on import of tracing"
    ours = run()
    dispatch.uninstall()
    try:
        theirs = run()
    finally:
        dispatch.install(Tracer)
    assert ours == theirs
    assert len(ours[1]) > 20


def test_call_ids_are_unique_and_drawn_again_in_a_forked_child():
    import os

    ids = {dispatch.call_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first id, to the parent
        os.write(write, dispatch.call_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child not in ids and child[:16] != next(iter(ids))[:16], "a forked child draws its own prefix"


def test_dspy_draws_its_call_ids_from_dispatch(monkeypatch):
    seen: list[str] = []
    monkeypatch.setattr(dispatch, "call_id", lambda: seen.append("x") or f"{len(seen):032x}")
    spans: list[dict] = []
    runner.execute({"program": THREE, "inputs": {"question": "What is the capital of France?"}, "lm": lm_profile()},
                   emit=spans.append, cancel=None, lm_cache=lms.LMCache())
    assert seen and {s["id"] for s in spans} <= {f"{i:032x}" for i in range(1, len(seen) + 1)}
