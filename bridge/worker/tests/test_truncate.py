"""Span payloads over the limit are cut with a marker, keeping their shape; a run's spans obey the limit."""

from __future__ import annotations

import json

import pytest
from conftest import FACTS, lm_profile

from signet_worker import lms, runner
from signet_worker.truncate import _cut, _fits, cut_span, marker


def test_cut_string_with_marker():
    data = {"id": "x", "completion": "é" * 1000, "error": "short"}
    out = cut_span(dict(data), 100)
    assert out["completion"] == "é" * 50 + "…[truncated 1900 bytes]"
    assert out["error"] == "short" and out["id"] == "x"


def test_cut_keeps_shape():
    messages = [{"role": "system", "content": "s" * 80}, {"role": "user", "content": "u" * 500}]
    out = cut_span({"messages": messages, "inputs": {"question": "q" * 300, "k": 3}, "outputs": {"xs": list(range(1000))}}, 200)
    assert [m["role"] for m in out["messages"]] == ["system", "user"]
    assert out["messages"][0]["content"] == "s" * 80
    kept, _, rest = out["messages"][1]["content"].partition("…[truncated ")
    assert set(kept) == {"u"} and rest == f"{500 - len(kept)} bytes]" and len(kept) < 200
    assert out["inputs"] == {"question": "q" * 200 + "…[truncated 100 bytes]", "k": 3}, "a small value past the budget stays"
    xs = out["outputs"]["xs"]
    assert xs[-1].startswith("…[truncated ") and all(isinstance(x, int) for x in xs[:-1])
    assert len(json.dumps(out["outputs"])) < 1000


def test_under_the_limit_unchanged():
    data = {"inputs": {"a": "x" * 50, "b": [1, 2, {"c": None}]}, "completion": "y" * 99}
    assert cut_span(json.loads(json.dumps(data)), 200) == data


def test_run_spans_cut_at_limit(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SIGNET_SPAN_PAYLOAD", "300")
    spans: list[dict] = []
    question = "What is the capital of France? " + "Please answer briefly. " * 100
    result = runner.execute({"program": FACTS, "inputs": {"question": question}, "lm": lm_profile()},
                            emit=spans.append, cancel=None, lm_cache=lms.LMCache())
    assert result["outputs"], "the run itself is whole"
    root = next(s for s in spans if "parent" not in s and "end" in s)
    assert root["inputs"]["question"].startswith(question[:300])
    assert root["inputs"]["question"].endswith(f"…[truncated {len(question) - 300} bytes]")
    prompts = [m["content"] for s in spans if s["kind"] == "lm" for m in s.get("messages", [])]
    assert prompts and any("…[truncated " in p for p in prompts)
    for s in spans:
        for m in s.get("messages", []):
            assert len(m["content"].encode()) <= 300 + len("…[truncated 1234567 bytes]".encode())


def test_leaves_are_kept_or_cut_by_their_json_size():
    big = 10 ** 100  # 101 digits: over SMALL and a 50-byte budget
    out, _ = _cut({"n": 7, "flag": True, "none": None, "big": big}, 50)
    assert out["n"] == 7 and out["flag"] is True and out["none"] is None
    assert out["big"] == marker(101)


def test_a_payload_that_fits_is_kept_without_walking_it_twice():
    values = ["x" * 50, "é" * 40, {"a": "x" * 30, "b": [1, 2.5, None, True, "y" * 20]},
             [{"role": "system", "content": "z" * 60}, {"role": "user", "content": "ü" * 10}], 12345678901]
    for value in values:
        for budget in range(1, 200, 7):
            if _fits(value, budget):
                assert _cut(value, budget)[0] == value, (value, budget)
        assert _fits(value, 1000) and not _fits(value, 5)
    assert not _fits(object(), 1000), "a value _cut would str() is left to _cut"
