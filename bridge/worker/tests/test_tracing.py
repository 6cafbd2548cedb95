"""Callbacks to spans: the tree, LM details, usage and cost, concurrency, bounded history, cancel."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import dspy
import pytest
from conftest import FACTS, THREE, lm_profile
from dspy.clients import base_lm

from signet_worker import lms, runner
from signet_worker.errors import Cancelled


def execute(program, inputs, lm=None, cancel=None, lm_cache=None, **params):
    spans = []
    result = runner.execute({"program": program, "inputs": inputs, "lm": lm or lm_profile(), **params},
                            emit=spans.append, cancel=cancel, lm_cache=lm_cache or lms.LMCache())
    return result, spans


def finished(spans):
    return {s["id"]: s for s in spans if "end" in s}


def test_span_tree():
    result, spans = execute(FACTS, {"question": "What is the capital of France?"})
    json.dumps(spans, allow_nan=False)  # every span is JSON
    ends = finished(spans)
    starts = [s for s in spans if "end" not in s]
    assert len(starts) == len(ends) == len(spans) // 2
    roots = [s for s in ends.values() if "parent" not in s]
    assert len(roots) == 1 and roots[0]["name"] == "facts" and roots[0]["kind"] == "module"
    root = roots[0]
    for s in ends.values():
        assert type(s["start"]) is int and type(s["end"]) is int, "Unix nanoseconds: Go decodes them"
        assert abs(s["start"] - time.time_ns()) < 600 * 10**9 and s["start"] <= s["end"]
        if s is not root:
            assert s["parent"] in ends, "every parent is a span of the same execution"
    children = {}
    for s in ends.values():
        children.setdefault(s.get("parent"), []).append(s)
    top = sorted(children[root["id"]], key=lambda s: s["start"])
    assert [(s["name"], s["module"]) for s in top] == [("Predict", "recall"), ("ChainOfThought", "answer")]
    # recall: module -> adapter format, lm, adapter parse
    recall_kids = sorted(children[top[0]["id"]], key=lambda s: s["start"])
    assert [(s["kind"], s["name"]) for s in recall_kids] == [
        ("adapter", "ChatAdapter.format"), ("lm", "signet/test"), ("adapter", "ChatAdapter.parse")]
    assert all(s["module"] == "recall" for s in recall_kids)
    # answer: ChainOfThought -> Predict(predict) -> adapter/lm
    (inner,) = children[top[1]["id"]]
    assert inner["name"] == "Predict(predict)" and inner["module"] == "answer"
    kinds = [s["kind"] for s in sorted(children[inner["id"]], key=lambda s: s["start"])]
    assert kinds == ["adapter", "lm", "adapter"]


def test_lm_and_adapter_span_details():
    _, spans = execute(FACTS, {"question": "What is the capital of France?"})
    ends = list(finished(spans).values())
    lm_span = next(s for s in ends if s["kind"] == "lm" and s["module"] == "answer")
    fmt = next(s for s in ends if s["name"] == "ChatAdapter.format" and s["module"] == "answer")
    parse = next(s for s in ends if s["name"] == "ChatAdapter.parse" and s["module"] == "answer")
    assert lm_span["model"] == "signet/test"
    assert lm_span["messages"] == fmt["messages"]
    assert lm_span["messages"][0]["role"] == "system" and "reasoning" in lm_span["messages"][0]["content"]
    assert "[[ ## answer ## ]]\nFrance" in lm_span["completion"]
    words = sum(len(m["content"].split()) for m in lm_span["messages"])
    assert lm_span["usage"] == {"calls": 1, "prompt_tokens": words,
                                "completion_tokens": len(lm_span["completion"].split())}
    assert parse["outputs"]["answer"] == "France" and parse["completion"] == lm_span["completion"]
    assert fmt["inputs"]["signature"] == "question, facts -> reasoning, answer"


def test_usage_and_cost():
    result, spans = execute(FACTS, {"question": "What is the capital of France?"})
    lm_spans = [s for s in finished(spans).values() if s["kind"] == "lm"]
    assert result["cost_unknown"] is True and result["cost"] == 0  # the test LM reports no cost
    usage = result["usage"]["signet/test"]
    assert usage["calls"] == 2
    assert usage["prompt_tokens"] == sum(s["usage"]["prompt_tokens"] for s in lm_spans)
    assert usage["completion_tokens"] == sum(s["usage"]["completion_tokens"] for s in lm_spans)
    assert all(s["cost_unknown"] is True and "cost" not in s for s in lm_spans)  # each call says so
    priced = dict(lm_profile(), price_in=0.15, price_out=0.6)
    result2, spans2 = execute(FACTS, {"question": "What is the capital of France?"}, lm=priced)
    expected = (usage["prompt_tokens"] * 0.15 + usage["completion_tokens"] * 0.6) / 1e6
    assert result2["cost_unknown"] is False
    assert result2["cost"] == pytest.approx(expected)
    assert sum(s["cost"] for s in finished(spans2).values() if s["kind"] == "lm") == pytest.approx(expected)
    assert not any("cost_unknown" in s for s in finished(spans2).values())
    assert isinstance(result2["duration_ms"], float) and result2["duration_ms"] > 0


def test_provider_usage_and_cost(fake_openai, monkeypatch):
    monkeypatch.setenv("SIGNET_TEST_KEY", "sk-test-usage")
    spec = {"name": "qa", "modules": [{"name": "answer", "type": "predict", "signature": "question -> answer"}]}
    lm = {"model": "openai/x", "api_base": fake_openai.api_base, "api_key_env": "SIGNET_TEST_KEY", "cache": False,
          "kwargs": {"num_retries": 0}}
    result, spans = execute(spec, {"question": "q"}, lm=lm)
    assert result["outputs"] == {"answer": "Paris"}
    assert result["usage"] == {"openai/x": {"calls": 1, "prompt_tokens": 12, "completion_tokens": 3}}
    assert result["cost_unknown"] is True  # an unknown model: no price anywhere
    result, _ = execute(spec, {"question": "q"}, lm=dict(lm, price_in=2.0, price_out=4.0))
    assert result["cost"] == pytest.approx((12 * 2 + 3 * 4) / 1e6) and result["cost_unknown"] is False


def test_cache_hit():
    spec = {"name": "qa", "modules": [{"name": "answer", "type": "predict", "signature": "question -> answer"}]}
    cached = {"model": "signet/test", "cache": True, "price_in": 1.0, "price_out": 1.0}
    cache = lms.LMCache()
    question = {"question": f"Is this cached, run {id(cache)}?"}
    first, spans1 = execute(spec, question, lm=cached, lm_cache=cache)
    second, spans2 = execute(spec, question, lm=cached, lm_cache=cache)
    lm1 = next(s for s in finished(spans1).values() if s["kind"] == "lm")
    lm2 = next(s for s in finished(spans2).values() if s["kind"] == "lm")
    assert "cache_hit" not in lm1 and lm2["cache_hit"] is True
    assert second["outputs"] == first["outputs"]
    assert second["usage"] == {} and second["cost"] == 0 and second["cost_unknown"] is False


def test_concurrent_requests_keep_their_own_spans_and_usage():
    cache = lms.LMCache()
    cities = ["Paris", "Rome", "Oslo", "Lima", "Cairo", "Quito", "Dakar", "Hanoi"]

    def one(city):
        return execute(THREE, {"question": f"What is the capital near {city}?"}, lm=lm_profile(sleep_ms=5),
                       lm_cache=cache)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, cities))
    for city, (result, spans) in zip(cities, results):
        assert result["outputs"]["answer"] == city
        assert result["usage"]["signet/test"]["calls"] == 3
        lm_spans = [s for s in finished(spans).values() if s["kind"] == "lm"]
        assert len(lm_spans) == 3
        assert all(city in s["messages"][-1]["content"] for s in lm_spans)
        assert sum(s["usage"]["prompt_tokens"] for s in lm_spans) == result["usage"]["signet/test"]["prompt_tokens"]


def test_history_stays_bounded():
    cache = lms.LMCache()
    runner.configure_dspy(None, 2000)
    global_trace = dspy.settings.trace
    trace_before = len(global_trace) if global_trace is not None else 0
    for i in range(200):
        execute(THREE, {"question": f"Question number {i}?"}, lm_cache=cache)
    assert len(base_lm.GLOBAL_HISTORY) <= runner.GLOBAL_HISTORY_KEEP
    for base in cache.bases():
        assert base.history == []
    # DSPy appends every prediction to settings.trace; the worker gives each request its own list.
    assert (len(global_trace) if global_trace is not None else 0) == trace_before


def test_trace_false_sends_no_spans_but_counts_usage():
    result, spans = execute(FACTS, {"question": "Where is Rome?"}, trace=False)
    assert spans == []
    assert result["usage"]["signet/test"]["calls"] == 2


def test_cancel_at_the_next_hook():
    cancel = threading.Event()
    spans = []

    def emit(span):
        spans.append(span)
        if span["kind"] == "lm" and "end" in span:
            cancel.set()  # cancelled while the first LM call was running

    with pytest.raises(Cancelled):
        runner.execute({"program": THREE, "inputs": {"question": "q"}, "lm": lm_profile()}, emit=emit,
                       cancel=cancel, lm_cache=lms.LMCache())
    lm_calls = [s for s in spans if s["kind"] == "lm" and "end" in s]
    assert len(lm_calls) == 1
    ends = finished(spans)
    root = next(s for s in ends.values() if "parent" not in s)
    assert root["error"] == "cancelled"
    # Every span that started also ended.
    assert {s["id"] for s in spans if "end" not in s} == set(ends)


def test_trace_off_charges_what_trace_on_charges():
    # Off builds no span payloads at all; what it counts must not change.
    on, spans = execute(THREE, {"question": "What is the capital of Peru?"}, trace=True)
    off, none = execute(THREE, {"question": "What is the capital of Peru?"}, trace=False)
    assert spans and none == []
    assert {k: v for k, v in off.items() if k != "duration_ms"} == {k: v for k, v in on.items() if k != "duration_ms"}
    assert off["usage"]["signet/test"]["calls"] == 3


def test_a_format_span_shows_each_signature_as_dspy_writes_it():
    """The signature text is kept per class; a class whose fields are replaced shows its new fields."""
    from signet_worker import tracing

    one = dspy.Signature("question -> answer")
    two = one.append("context", dspy.InputField(), type_=str)
    for _ in range(2):
        assert tracing._signature_text(one) == one.signature == "question -> answer"
        assert tracing._signature_text(two) == two.signature
    assert two.signature != one.signature
    one.model_fields = dict(two.model_fields)  # fields replaced on the very class
    assert one.signature == "question, context -> answer" == tracing._signature_text(one)
    assert tracing._signature_text("q -> a") == "q -> a" and tracing._signature_text(None) == "None"


def test_module_outputs_are_what_jsonable_makes_of_the_prediction():
    from signet_worker import tracing
    from signet_worker.protocol import jsonable

    cases = [dspy.Prediction(answer="Paris", facts=["a", 1], nested=dspy.Prediction(x=1.5)),
             dspy.Prediction(model_dump="a field that shadows pydantic's name"),
             dspy.Prediction.from_completions([{"answer": "a"}, {"answer": "b"}])]
    for pred in cases:
        assert tracing.Tracer._outputs(pred) == jsonable(pred)


def test_an_untraced_request_stops_at_every_hook_once_cancelled():
    """Untraced, no span is built for modules and adapters, yet each of their hooks is a cancel point
    (an end that carries the Cancelled itself does not raise it again)."""
    from signet_worker.tracing import Tracer

    cancel = threading.Event()
    tracer = Tracer(emit=None, cancel=cancel)
    predict, adapter = dspy.Predict("question -> answer"), dspy.ChatAdapter()
    hooks = [(tracer.on_module_start, (predict, {})), (tracer.on_adapter_format_start, (adapter, {})),
             (tracer.on_adapter_parse_start, (adapter, {"completion": "x"}))]
    ends = [tracer.on_module_end, tracer.on_adapter_format_end, tracer.on_adapter_parse_end]
    for start, (instance, inputs) in hooks:
        start(call_id="c", instance=instance, inputs=inputs)
    for end in ends:
        end(call_id="c", outputs=None)
    cancel.set()
    for start, (instance, inputs) in hooks:
        with pytest.raises(Cancelled):
            start(call_id="c", instance=instance, inputs=inputs)
    for end in ends:
        with pytest.raises(Cancelled):
            end(call_id="c", outputs=None)
        end(call_id="c", outputs=None, exception=Cancelled())
    assert tracer._open == {}


class _Point(dspy.Prediction):
    """A Prediction subclass: not the exact type, so the general path."""


@pytest.mark.parametrize("fields", [
    {"answer": "Paris"},
    {"facts": ["Paris is in France.", "It is the capital."], "answer": "Paris"},
    {},
    {"n": 3, "answer": "Paris"},
    {"facts": ["a", 1, None], "ratio": 0.5},
    {"inner": dspy.Prediction(answer="x"), "history": dspy.History(messages=[{"q": "a"}])},
    {"answer": type("S", (str,), {})("sub")},
])
def test_module_outputs_are_what_jsonable_makes_of_the_prediction(fields):
    """The tracer's shortcut for predictions of str and list[str] fields gives what the general path
    (DSPy's toDict, then protocol.jsonable) gives, for those and for every other prediction."""
    from signet_worker.protocol import jsonable
    from signet_worker.tracing import Tracer

    for prediction in (dspy.Prediction(**fields), _Point(**fields)):
        expected = jsonable(prediction.toDict())
        got = Tracer._outputs(prediction)
        assert got == expected and type(got) is dict
        assert json.dumps(got) == json.dumps(expected)
        if prediction.get("facts") is not None:
            assert got["facts"] is not prediction.facts, "a copy: the span does not hold the program's list"


@pytest.mark.parametrize("inputs", [
    {"args": (), "kwargs": {"question": "q", "context": "c"}},
    {"args": (), "kwargs": {"question": "q", "k": 3, "facts": ["a"]}},
    {"args": ("pos",), "kwargs": {"question": "q"}},
    {"args": (), "kwargs": {1: "int key"}},
    {"query": "direct", "n": 2},
])
def test_call_inputs_are_the_arguments_made_json_safe(inputs):
    from signet_worker.protocol import jsonable
    from signet_worker.tracing import _flat_inputs

    spread = {}
    for key, value in inputs.items():
        if key == "kwargs":
            spread.update(value)
        elif key != "args" or value:
            spread[key] = value
    assert _flat_inputs(inputs) == {str(k): jsonable(v) for k, v in spread.items()}
