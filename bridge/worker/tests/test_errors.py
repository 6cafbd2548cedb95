"""Exceptions to protocol error codes, against a real (tiny) OpenAI-compatible server."""

from __future__ import annotations

import textwrap
import time

import dspy
import pytest
from conftest import lm_profile

from signet_worker import errors, lms, runner
from signet_worker.errors import Cancelled, to_error

QA = {"name": "qa", "modules": [{"name": "answer", "type": "predict", "signature": "question -> answer"}]}


def error_of(params, **kw):
    try:
        runner.execute({"program": QA, "inputs": {"question": "q"}, **params}, emit=None, cancel=None,
                       lm_cache=lms.LMCache(), **kw)
    except BaseException as exc:  # noqa: BLE001
        return to_error(exc)
    raise AssertionError("no error")


def openai_lm(fake, **extra):
    kwargs = {"num_retries": 0, "timeout": 1}
    kwargs.update(extra)
    return {"model": "openai/x", "api_base": fake.api_base, "api_key_env": "SIGNET_TEST_KEY", "cache": False,
            "kwargs": kwargs}


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("SIGNET_TEST_KEY", "sk-test")


@pytest.mark.parametrize("mode, code, retryable", [
    (401, "lm_auth", False),
    (403, "lm_auth", False),
    (429, "lm_rate_limit", True),
    (500, "lm_unavailable", True),
    (503, "lm_unavailable", True),
    (400, "lm_request", False),
])
def test_http_status_codes(fake_openai, mode, code, retryable):
    fake_openai.mode = mode
    err = error_of({"lm": openai_lm(fake_openai)})
    assert (err["code"], err["retryable"]) == (code, retryable), err
    assert err["detail"]["status"] == mode


@pytest.mark.parametrize("engine", ["auto", "litellm"])
def test_auth_through_both_engines(fake_openai, engine):
    fake_openai.mode = 401
    lm = openai_lm(fake_openai)
    if engine != "auto":
        lm["kwargs"]["engine"] = engine
    err = error_of({"lm": lm})
    assert err["code"] == "lm_auth"


def test_timeout(fake_openai):
    fake_openai.mode = "hang"
    started = time.monotonic()
    err = error_of({"lm": openai_lm(fake_openai, timeout=0.5)})
    assert err["code"] == "lm_timeout" and err["retryable"] is True
    assert time.monotonic() - started < 5


def test_connection_refused():
    lm = {"model": "openai/x", "api_base": "http://127.0.0.1:1/v1", "api_key_env": "SIGNET_TEST_KEY",
          "cache": False, "kwargs": {"num_retries": 0, "timeout": 1}}
    err = error_of({"lm": lm})
    assert err["code"] == "lm_unavailable" and err["retryable"] is True


def test_missing_key_variable_names_it(monkeypatch):
    monkeypatch.delenv("SIGNET_MISSING_KEY", raising=False)
    for model in ("openai/gpt-4o-mini", "signet/test"):
        err = error_of({"lm": {"model": model, "api_key_env": "SIGNET_MISSING_KEY"}})
        assert err["code"] == "lm_auth" and err["retryable"] is False
        assert "SIGNET_MISSING_KEY" in err["message"] and err["detail"]["variable"] == "SIGNET_MISSING_KEY"


def test_unparseable_reply_is_lm_output(fake_openai):
    fake_openai.reply = "I refuse to use your format."
    err = error_of({"lm": openai_lm(fake_openai)})
    assert err["code"] == "lm_output" and err["retryable"] is False
    assert fake_openai.requests == 2  # ChatAdapter fell back to JSONAdapter once


def test_fail_on_is_lm_unavailable():
    err = error_of({"lm": lm_profile(fail_on="q")})
    assert err["code"] == "lm_unavailable" and err["retryable"] is True


def test_user_code_and_internal(tmp_path):
    (tmp_path / "bad.py").write_text(textwrap.dedent('''
        import dspy
        class Bad(dspy.Module):
            def forward(self, question):
                return {}["missing"]
    '''))
    spec = {"name": "p", "modules": [{"name": "bad", "type": "custom", "source": "bad.py:Bad",
                                      "signature": "question -> answer"}]}
    try:
        runner.execute({"program": spec, "inputs": {"question": "q"}, "lm": lm_profile(), "base_dir": str(tmp_path)},
                       emit=None, cancel=None, lm_cache=lms.LMCache())
    except Exception as exc:  # noqa: BLE001
        err = to_error(exc)
    assert err["code"] == "user_code" and "KeyError" in err["detail"]["traceback"]
    assert "bad.py" in err["detail"]["traceback"]
    try:
        raise ZeroDivisionError("worker bug")
    except ZeroDivisionError as exc:
        err = to_error(exc)
    assert err["code"] == "internal" and "traceback" in err["detail"]


def test_bad_program_and_bad_input_and_cancelled():
    body = to_error(errors.BadProgram("module a: boom", module="a", field="signature"))
    assert body == {"code": "bad_program", "message": "module a: boom", "retryable": False,
                    "detail": {"module": "a", "field": "signature"}}
    err = error_of({"lm": {"model": "signet/test", "adapter": "xml"}})
    assert err["code"] == "bad_input" and err["detail"]["field"] == "lm.adapter"
    assert to_error(Cancelled())["code"] == "cancelled"


def test_wrapped_exceptions_are_unwrapped():
    from dspy.utils.exceptions import LMRateLimitError

    try:
        try:
            raise LMRateLimitError("slow down", status=429)
        except LMRateLimitError as inner:
            raise RuntimeError("outer wrapper") from inner
    except RuntimeError as exc:
        assert to_error(exc)["code"] == "lm_rate_limit"


def test_sdk_exceptions_by_class():
    import httpx
    import litellm
    import openai

    request = httpx.Request("POST", "http://x")
    response = httpx.Response(401, request=request)
    cases = [
        (litellm.AuthenticationError("no", "openai", "x"), "lm_auth"),
        (litellm.RateLimitError("slow", "openai", "x"), "lm_rate_limit"),
        (litellm.Timeout("late", "x", "openai"), "lm_timeout"),
        (litellm.APIConnectionError("down", "openai", "x"), "lm_unavailable"),
        (litellm.ServiceUnavailableError("down", "openai", "x"), "lm_unavailable"),
        (litellm.InternalServerError("down", "openai", "x"), "lm_unavailable"),
        (openai.AuthenticationError("no", response=response, body=None), "lm_auth"),
        (openai.APITimeoutError(request=request), "lm_timeout"),
    ]
    for exc, code in cases:
        assert to_error(exc)["code"] == code, (exc, to_error(exc))


def test_dspy_is_still_usable_after_errors():
    with dspy.context(lm=lms.LMCache().for_request(lms.parse_profile(lm_profile()))):
        assert dspy.Predict("question -> answer")(question="Where is Lima?").answer == "Lima"
