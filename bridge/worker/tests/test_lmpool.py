"""Endpoint pools (lmpool.py): the balancer with an injected clock, then real DSPy over loopback fake servers."""

from __future__ import annotations

import email.utils
import threading
import uuid

import dspy
import pytest

from conftest import FakeOpenAI
from signet_worker import lmpool, lms, runner
from signet_worker.errors import BadInput, to_error

QA = {"name": "qa", "modules": [{"name": "answer", "type": "predict", "signature": "question -> answer"}]}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_pool(*specs: lmpool.EndpointSpec, clock: Clock | None = None, cooldown: float = 30.0) -> lmpool.Pool:
    return lmpool.Pool("p", [lmpool.Endpoint(s, client=None) for s in specs], clock=clock or Clock(),
                       cooldown=cooldown)


def spec(name: str, **kw) -> lmpool.EndpointSpec:
    return lmpool.EndpointSpec(api_base=f"http://{name}/v1", **kw)


def picks(pool: lmpool.Pool, n: int) -> list[str]:
    out = []
    for _ in range(n):
        endpoint, _wait = pool.pick()
        out.append(endpoint.spec.api_base.split("/")[2] if endpoint else "-")
    return out


def test_least_loaded_by_weight():
    pool = make_pool(spec("a", weight=2), spec("b"))
    # in flight / weight: a takes two for each one b takes; ties go to the first listed
    assert picks(pool, 6) == ["a", "b", "a", "a", "b", "a"]
    a, b = pool.endpoints
    assert (a.inflight, b.inflight) == (4, 2)
    pool.release(a, latency=0.1)
    pool.release(a, latency=0.1)
    pool.release(a, latency=0.1)
    assert picks(pool, 1) == ["a"]  # 1/2 < 2/1


def test_idle_endpoints_take_turns_by_weight():
    pool = make_pool(spec("a", weight=2), spec("b"))
    order = []
    for _ in range(6):  # one call at a time: in flight is always 0, so what each was sent decides
        endpoint, _ = pool.pick()
        order.append(endpoint.spec.api_base.split("/")[2])
        pool.release(endpoint, latency=0.01)
    assert order == ["a", "b", "a", "a", "b", "a"]


def test_max_concurrency_caps_an_endpoint_and_a_release_frees_a_waiter():
    pool = make_pool(spec("a", weight=10, max_concurrency=1), spec("b", max_concurrency=1))
    assert picks(pool, 3) == ["a", "b", "-"]
    endpoint, wait = pool.pick()
    assert endpoint is None and wait == float("inf")  # until a call ends
    with pytest.raises(lmpool.NoEndpoint, match="max_concurrency"):
        pool.acquire(timeout=0)
    got: list[lmpool.Endpoint] = []
    waiting = threading.Thread(target=lambda: got.append(pool.acquire(timeout=60)))
    waiting.start()
    pool.release(pool.endpoints[1], latency=0.2)
    waiting.join()
    assert got == [pool.endpoints[1]]


def test_rpm_caps_requests_per_minute():
    clock = Clock()
    pool = make_pool(spec("a", rpm=2), clock=clock)
    assert picks(pool, 2) == ["a", "a"]
    clock.now += 10
    endpoint, wait = pool.pick()
    assert endpoint is None and wait == pytest.approx(50.0)
    clock.now += 50
    assert picks(pool, 1) == ["a"]


def test_a_failing_endpoint_is_ejected_and_returns_after_the_cooldown():
    clock = Clock()
    pool = make_pool(spec("a"), spec("b"), clock=clock, cooldown=30)
    a, b = pool.endpoints
    assert picks(pool, 1) == ["a"]
    pool.failed(a, "HTTP 500: boom")
    assert a.state(clock.now) == lmpool.EJECTED and a.errors == 1 and a.last_error == "HTTP 500: boom"
    assert picks(pool, 3) == ["b", "b", "b"]  # a is left out while it cools down, however loaded b is
    clock.now += 29.9
    assert picks(pool, 1) == ["b"]
    clock.now += 0.2
    assert a.state(clock.now) == lmpool.HEALTHY
    assert picks(pool, 1) == ["a"]  # back, and the least loaded


def test_every_endpoint_ejected_probes_the_one_that_cools_down_first():
    clock = Clock()
    pool = make_pool(spec("a"), spec("b"), clock=clock, cooldown=30)
    a, b = pool.endpoints
    pool.pick(), pool.pick()
    pool.failed(b, "refused")
    clock.now += 5
    pool.failed(a, "refused")
    assert picks(pool, 1) == ["b"]


def test_a_429_backs_off_for_retry_after_and_calls_go_elsewhere_or_wait():
    clock = Clock()
    pool = make_pool(spec("a"), spec("b"), clock=clock)
    a, b = pool.endpoints
    pool.pick()
    pool.failed(a, "HTTP 429", rate_limited=True, retry_after=12)
    assert a.state(clock.now) == lmpool.BACKING_OFF and a.rate_limited == 1
    assert picks(pool, 2) == ["b", "b"]
    b_ep = pool.endpoints[1]
    pool.failed(b_ep, "HTTP 429", rate_limited=True, retry_after=None)  # no hint: the default back-off
    endpoint, wait = pool.pick()
    assert endpoint is None and wait == pytest.approx(lmpool.DEFAULT_BACKOFF)  # all back off: wait, not fail
    clock.now += 12
    assert picks(pool, 1) == ["a"]


def test_retry_after_as_seconds_or_an_http_date():
    now = 1_700_000_000.0
    assert lmpool.parse_retry_after("7", now) == 7.0
    assert lmpool.parse_retry_after(" 2.5 ", now) == 2.5
    date = email.utils.formatdate(now + 90, usegmt=True)
    assert lmpool.parse_retry_after(date, now) == pytest.approx(90.0)
    assert lmpool.parse_retry_after(email.utils.formatdate(now - 90, usegmt=True), now) == 0.0
    assert lmpool.parse_retry_after("soon", now) is None
    assert lmpool.parse_retry_after(None, now) is None


def test_profile_endpoints_are_checked():
    ok = lms.parse_profile({"model": "openai/q", "endpoints": [{"api_base": "http://a/v1/", "weight": 2},
                                                                {"api_base": "http://b/v1", "rpm": 60}]})
    assert [e.api_base for e in ok.endpoints] == ["http://a/v1/", "http://b/v1"]  # as configured: reported so
    assert ok.endpoints[0].weight == 2 and ok.endpoints[1].rpm == 60 and ok.pool == "openai/q"
    for raw, field in (
        ({"model": "openai/q", "endpoints": []}, "lm.endpoints"),
        ({"model": "openai/q", "endpoints": [{"weight": 1}]}, "lm.endpoints[0].api_base"),
        ({"model": "openai/q", "endpoints": [{"api_base": "http://a", "weight": -1}]}, "lm.endpoints[0].weight"),
        ({"model": "openai/q", "api_base": "http://a", "endpoints": [{"api_base": "http://b"}]}, "lm.endpoints"),
        ({"model": "anthropic/c", "endpoints": [{"api_base": "http://b"}]}, "lm.endpoints"),
        ({"model": "openai/q", "kwargs": {"engine": "litellm"}, "endpoints": [{"api_base": "http://b"}]},
         "lm.endpoints"),
    ):
        with pytest.raises(BadInput) as err:
            lms.parse_profile(raw)
        assert err.value.detail["field"] == field, raw


@pytest.fixture
def two_servers():
    servers = [FakeOpenAI(), FakeOpenAI()]
    yield servers
    for s in servers:
        s.close()


def pool_profile(servers, **extra) -> dict:
    name = f"team-{uuid.uuid4().hex[:8]}"
    lm = {"model": "openai/x", "pool": name, "cache": False, "kwargs": {"num_retries": 0, "timeout": 5},
          "endpoints": [{"api_base": s.api_base} for s in servers]}
    lm.update(extra)
    return lm


def reported(name: str) -> dict[str, dict]:
    (pool,) = [p for p in lmpool.report() if p["pool"] == name]
    return {e["api_base"]: e for e in pool["endpoints"]}


def test_real_dspy_calls_all_succeed_and_the_failing_endpoint_is_ejected(two_servers):
    good, bad = two_servers
    bad.mode = 500
    raw = pool_profile([bad, good])  # the failing one listed first: the first call tries it
    profile = lms.parse_profile(raw)
    lease = lms.LMCache().lease(profile)
    predict = dspy.Predict("question -> answer")
    with dspy.context(lm=lease.lm, adapter=lms.make_adapter(profile)):
        answers = [predict(question=f"q{i}").answer for i in range(8)]
    lease.release()
    assert answers == ["Paris"] * 8
    assert bad.requests == 1 and good.requests == 8  # ejected after its one failure, for the cool-down
    # Same DSPy call on either server: the same model and body, only the address differs.
    assert bad.bodies[0] == good.bodies[0]
    ends = reported(raw["pool"])
    assert ends[bad.api_base]["state"] == lmpool.EJECTED and ends[bad.api_base]["errors"] == 1
    assert "HTTP 500" in ends[bad.api_base]["last_error"]
    g = ends[good.api_base]
    assert g["state"] == lmpool.HEALTHY and g["calls"] == 8 and g["errors"] == 0 and g["inflight"] == 0
    assert g["prompt_tokens"] == 8 * 12 and g["completion_tokens"] == 8 * 3 and g["latency_s"] > 0


def test_a_429_with_retry_after_fails_over_to_the_other_server(two_servers):
    limited, good = two_servers
    limited.mode, limited.retry_after = 429, "120"
    raw = pool_profile([limited, good])
    spans: list[dict] = []
    result = runner.execute({"program": QA, "inputs": {"question": "q"}, "lm": raw}, emit=spans.append,
                            cancel=None, lm_cache=lms.LMCache())
    assert result["outputs"] == {"answer": "Paris"}
    assert limited.requests == 1 and good.requests == 1
    ends = reported(raw["pool"])
    assert ends[limited.api_base]["state"] == lmpool.BACKING_OFF and ends[limited.api_base]["rate_limited"] == 1
    assert ends[good.api_base]["calls"] == 1


def test_a_request_error_is_not_the_endpoints_fault(two_servers):
    a, b = two_servers
    a.mode = b.mode = 400
    raw = pool_profile([a, b])
    with pytest.raises(Exception) as err:
        runner.execute({"program": QA, "inputs": {"question": "q"}, "lm": raw}, emit=lambda _: None,
                       cancel=None, lm_cache=lms.LMCache())
    assert to_error(err.value)["code"] != "internal"
    assert a.requests + b.requests == 1  # another server would refuse it too: no failover
    assert all(e["state"] == lmpool.HEALTHY for e in reported(raw["pool"]).values())


def test_endpoint_keys_are_read_from_their_variables(two_servers, monkeypatch):
    a, b = two_servers
    monkeypatch.setenv("SIGNET_POOL_KEY_B", "sk-b")
    raw = pool_profile([a, b])
    raw["endpoints"][1]["api_key_env"] = "SIGNET_POOL_KEY_B"
    cache = lms.LMCache()
    for q in ("q1", "q2"):
        runner.execute({"program": QA, "inputs": {"question": q}, "lm": raw}, emit=lambda _: None,
                       cancel=None, lm_cache=cache)
    assert b.headers[0]["authorization"] == "Bearer sk-b"
    assert all("authorization" not in h for h in a.headers)
    monkeypatch.delenv("SIGNET_POOL_KEY_B")
    raw["pool"] = raw["pool"] + "-nokey"
    with pytest.raises(Exception) as err:
        runner.execute({"program": QA, "inputs": {"question": "q"}, "lm": raw}, emit=lambda _: None,
                       cancel=None, lm_cache=lms.LMCache())
    assert to_error(err.value)["code"] == "lm_auth" and "SIGNET_POOL_KEY_B" in str(err.value)


def test_cooldown_is_checked():
    ok = lms.parse_profile({"model": "openai/q", "cooldown_s": 2.5, "endpoints": [{"api_base": "http://a/v1"}]})
    assert ok.cooldown == 2.5
    assert lms.parse_profile({"model": "openai/q", "endpoints": [{"api_base": "http://a/v1"}]}).cooldown is None
    for raw in (
        {"model": "openai/q", "cooldown_s": 0, "endpoints": [{"api_base": "http://a/v1"}]},
        {"model": "openai/q", "cooldown_s": -1, "endpoints": [{"api_base": "http://a/v1"}]},
        {"model": "openai/q", "cooldown_s": "30s", "endpoints": [{"api_base": "http://a/v1"}]},
        {"model": "openai/q", "cooldown_s": True, "endpoints": [{"api_base": "http://a/v1"}]},
        {"model": "openai/q", "api_base": "http://a/v1", "cooldown_s": 30},  # no endpoints: nothing to eject
    ):
        with pytest.raises(BadInput) as err:
            lms.parse_profile(raw)
        assert err.value.detail["field"] == "lm.cooldown_s", raw


def built_pool(name: str) -> lmpool.Pool:
    (pool,) = [p for p in lmpool._POOLS.values() if p.name == name]
    return pool


@pytest.mark.parametrize("cooldown", [None, 600.0])
def test_the_profile_cooldown_is_how_long_a_failed_endpoint_is_left_out(two_servers, cooldown):
    bad, good = two_servers
    bad.mode = 500
    raw = pool_profile([bad, good]) if cooldown is None else pool_profile([bad, good], cooldown_s=cooldown)
    result = runner.execute({"program": QA, "inputs": {"question": "q"}, "lm": raw}, emit=lambda _: None,
                            cancel=None, lm_cache=lms.LMCache())
    assert result["outputs"] == {"answer": "Paris"} and bad.requests == 1
    pool = built_pool(raw["pool"])
    want = lmpool.COOLDOWN if cooldown is None else cooldown
    failed = pool.endpoints[0]
    assert failed.state(pool._clock()) == lmpool.EJECTED
    # ejected_until is the failure's time plus the cool-down: the failure came before now, within this test.
    left = failed.ejected_until - pool._clock()
    assert want - 60 < left <= want
    # A profile that differs only in its cool-down is another pool: the setting is never lost to a shared one.
    other = lms.parse_profile(dict(raw, cooldown_s=want + 1))
    lms.LMCache().lease(other).release()
    assert {p._cooldown for p in lmpool._POOLS.values() if p.name == raw["pool"]} == {want, want + 1}
