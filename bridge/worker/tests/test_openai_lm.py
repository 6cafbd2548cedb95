"""The httpx LM for OpenAI-compatible servers (openai_lm.py), against the loopback fake server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid

import dspy
import httpx
import pytest
from conftest import WORKER_DIR

from signet_worker import lms, openai_lm, runner
from signet_worker.errors import to_error

QA = {"name": "qa", "modules": [{"name": "answer", "type": "predict", "signature": "question -> answer"}]}


def profile(fake, **extra) -> dict:
    lm = {"model": "openai/x", "api_base": fake.api_base, "cache": False, "kwargs": {"num_retries": 0, "timeout": 5}}
    lm.update(extra)
    return lm


def execute(lm: dict, question: str = "q", lm_cache: lms.LMCache | None = None):
    spans: list[dict] = []
    result = runner.execute({"program": QA, "inputs": {"question": question}, "lm": lm}, emit=spans.append,
                            cancel=None, lm_cache=lm_cache or lms.LMCache())
    return result, spans


def lm_span(spans: list[dict]) -> dict:
    (span,) = [s for s in spans if "end" in s and s.get("kind") == "lm"]
    return span


def test_openai_compatible_profiles_get_the_httpx_lm():
    base = "http://127.0.0.1:1/v1"
    for adapter in ("chat", "json", "json_schema"):
        lm = lms.build_lm(lms.parse_profile({"model": "openai/x", "api_base": base, "adapter": adapter}))
        assert isinstance(lm, openai_lm.OpenAICompatLM), adapter
    # a profile that asks DSPy for an engine, or names no server, stays on dspy.LM
    for raw in ({"model": "openai/x", "api_base": base, "kwargs": {"engine": "litellm"}},
                {"model": "openai/gpt-4o-mini"},
                {"model": "anthropic/claude", "api_base": base}):
        assert type(lms.build_lm(lms.parse_profile(raw))) is dspy.LM, raw


def test_request_body_carries_the_profile_and_its_kwargs(fake_openai):
    result, _ = execute(profile(fake_openai, temperature=0.2, max_tokens=33,
                                kwargs={"num_retries": 0, "timeout": 5, "seed": 7, "stop": ["\n\n"]}))
    assert result["outputs"] == {"answer": "Paris"}
    (body,) = fake_openai.bodies
    assert body["model"] == "x" and body["temperature"] == 0.2 and body["max_tokens"] == 33
    assert body["seed"] == 7 and body["stop"] == ["\n\n"]
    assert body["messages"][0]["role"] == "system" and "question" in body["messages"][-1]["content"]
    for client_only in ("timeout", "num_retries", "api_key", "api_base", "cache", "rollout_id"):
        assert client_only not in body
    assert "authorization" not in fake_openai.headers[0]


def test_named_key_is_sent_as_bearer(fake_openai, monkeypatch):
    monkeypatch.setenv("SIGNET_COMPAT_KEY", "sk-compat")
    execute(profile(fake_openai, api_key_env="SIGNET_COMPAT_KEY"))
    assert fake_openai.headers[0]["authorization"] == "Bearer sk-compat"


def test_cache_hit_is_not_billed_and_not_sent(fake_openai):
    lm = profile(fake_openai, cache=True, price_in=1.0, price_out=1.0)
    cache = lms.LMCache()
    question = f"cached? {uuid.uuid4()}"
    first, spans1 = execute(lm, question, cache)
    second, spans2 = execute(lm, question, cache)
    assert fake_openai.requests == 1
    assert second["outputs"] == first["outputs"] == {"answer": "Paris"}
    assert first["usage"] == {"openai/x": {"calls": 1, "prompt_tokens": 12, "completion_tokens": 3}}
    assert second["usage"] == {} and second["cost"] == 0 and second["cost_unknown"] is False
    assert "cache_hit" not in lm_span(spans1) and lm_span(spans2)["cache_hit"] is True
    execute(lm, question + " (another)", cache)
    assert fake_openai.requests == 2  # another prompt is another key


def test_retries_then_reports_the_status(fake_openai):
    fake_openai.mode = 503
    err = None
    try:
        execute(profile(fake_openai, kwargs={"num_retries": 1, "timeout": 5}))
    except Exception as exc:  # noqa: BLE001
        err = to_error(exc)
    assert fake_openai.requests == 2  # one retry
    assert err is not None and err["code"] == "lm_unavailable" and err["detail"]["status"] == 503


def test_bad_request_is_not_retried(fake_openai):
    fake_openai.mode = 400
    with pytest.raises(Exception) as info:
        execute(profile(fake_openai, kwargs={"num_retries": 3, "timeout": 5}))
    assert fake_openai.requests == 1
    assert to_error(info.value)["code"] == "lm_request"


def test_direct_call_returns_dspy_outputs_and_history(fake_openai):
    lm = openai_lm.OpenAICompatLM("openai/x", api_base=fake_openai.api_base, num_retries=0, cache=False)
    assert lm("hi") == ["[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]"]
    assert lm.history[-1]["usage"] == {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    assert fake_openai.bodies[0]["messages"] == [{"role": "user", "content": "hi"}]


def test_request_lms_of_one_profile_share_one_http_client(fake_openai):
    # Each request gets a copy of the cached LM; a client (and its connections) per copy would cost a
    # new connection per request.
    cache = lms.LMCache()
    p = lms.parse_profile(profile(fake_openai))
    first, second = cache.for_request(p), cache.for_request(p)
    assert first is not second
    assert first("hi") == second("hi") == ["[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]"]
    assert first._http() is second._http()
    assert len(first.history) == len(second.history) == 1


def test_unreadable_reply_is_lm_unavailable():
    for reply in (httpx.Response(200, json={"error": "x"}), httpx.Response(200, text="<html>")):
        with pytest.raises(dspy.utils.exceptions.LMServerError) as info:
            openai_lm._checked(reply, "openai/x")
        assert to_error(info.value)["code"] == "lm_unavailable"


def test_local_profile_execute_does_not_import_litellm(fake_openai):
    """A worker serving an OpenAI-compatible profile never imports LiteLLM (seconds and ~150 MiB)."""
    script = textwrap.dedent(f"""
        import json, sys
        from signet_worker import server, runner, lms
        lm = {{"model": "openai/smollm2", "api_base": {fake_openai.api_base!r}, "adapter": "json_schema",
              "free": True, "cache": False, "kwargs": {{"num_retries": 0, "timeout": 5}}}}
        program = {json.dumps(QA)!r}
        result = runner.execute({{"program": json.loads(program), "inputs": {{"question": "q"}}, "lm": lm}},
                                emit=None, cancel=None, lm_cache=lms.LMCache())
        print(json.dumps({{"outputs": result["outputs"], "litellm": sorted(m for m in sys.modules if m.split(".")[0] == "litellm")}}))
    """)
    fake_openai.reply = '{"answer": "Paris"}'
    out = subprocess.run([sys.executable, "-c", script], cwd=str(WORKER_DIR), capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": str(WORKER_DIR)})
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["outputs"] == {"answer": "Paris"}
    assert seen["litellm"] == []


def test_async_call(fake_openai):
    import asyncio

    lm = openai_lm.OpenAICompatLM("openai/x", api_base=fake_openai.api_base, num_retries=0, cache=False)
    assert asyncio.run(lm.acall("hi")) == ["[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]"]
    assert fake_openai.requests == 1


def test_known_model_is_priced_as_dspy_prices_it(fake_openai):
    result, _ = execute(profile(fake_openai, model="openai/gpt-4o-mini"))
    native = dspy.LM("openai/gpt-4o-mini", api_base=fake_openai.api_base, api_key="k", cache=False, num_retries=0)
    native("hi")
    assert native.history[-1]["cost"] > 0
    assert result["cost_unknown"] is False and result["cost"] == pytest.approx(native.history[-1]["cost"])
    unknown, _ = execute(profile(fake_openai))
    assert unknown["cost_unknown"] is True
