"""Reserving each LM call with Go's budget gate (docs/protocol.md, "Budgets"): the worker as Go sees it."""

from __future__ import annotations

from conftest import THREE, span_events

from signet_worker import budget, lms

# USD per million tokens; max_tokens bounds the completion in the estimate.
PRICED = {"model": "signet/test", "cache": False, "price_in": 100.0, "price_out": 200.0, "max_tokens": 50}


def execute(**extra) -> dict:
    return {"program": THREE, "inputs": {"question": "What is the capital of France?"}, "lm": PRICED,
            "reserve": True, **extra}


def next_of(worker, req_id: int) -> dict:
    """The next frame of request req_id (frames of others kept aside)."""
    for i, frame in enumerate(worker.others):
        if frame.get("id") == req_id:
            return worker.others.pop(i)
    while True:
        frame = worker.next()
        assert frame is not None, worker.stderr()
        if frame.get("id") == req_id:
            return frame
        worker.others.append(frame)


def until_reserve(worker, req_id: int, seen: list[dict]) -> dict | None:
    """Frames of req_id up to its next reserve event (returned), or its end (None); all kept in seen."""
    while True:
        frame = next_of(worker, req_id)
        seen.append(frame)
        if frame.get("event") == "reserve":
            return frame
        if "result" in frame or "error" in frame:
            return None


def lm_spans(frames: list[dict], ended: bool) -> list[dict]:
    return [s for s in span_events(frames) if s["kind"] == "lm" and ("end" in s) == ended]


def test_every_call_waits_for_its_admission_and_settles_its_cost(worker):
    worker.send(1, "execute", execute())
    frames: list[dict] = []
    calls = 0
    while (reserve := until_reserve(worker, 1, frames)) is not None:
        calls += 1
        data = reserve["data"]
        # The call has not begun: its span starts only once Go admits it.
        assert data["call"] not in {s["id"] for s in lm_spans(frames, ended=False)}
        assert data["estimate"] > 0
        final, _ = worker.call(100 + calls, "admit", {"target": 1, "call": data["call"], "admit": True})
        assert final["result"] == {"waiting": True}
    assert "result" in frames[-1], frames[-1]
    assert calls == 3  # recall, answer, polish: one reservation per LM call
    ended = {s["id"]: s for s in lm_spans(frames, ended=True)}
    settles = [f["data"] for f in frames if f.get("event") == "settle"]
    assert [s["call"] for s in settles] == list(ended)  # each call settles once, after it ended
    for s in settles:
        assert s["cost"] == ended[s["call"]]["cost"] > 0
    reserves = [f["data"] for f in frames if f.get("event") == "reserve"]
    for r in reserves:
        # An upper bound here: the whole token limit at the output price, the prompt at 4 characters a token.
        assert r["estimate"] >= ended[r["call"]]["cost"]
    assert frames[-1]["result"]["cost"] == sum(s["cost"] for s in settles)


def test_a_refused_call_fails_the_request_with_the_gates_message_and_keeps_the_charge(worker):
    worker.send(1, "execute", execute())
    frames: list[dict] = []
    first = until_reserve(worker, 1, frames)
    worker.call(10, "admit", {"target": 1, "call": first["data"]["call"], "admit": True})
    second = until_reserve(worker, 1, frames)
    message = "budget: the workspace has spent $5.0100 of its $5.00 monthly cap for 2026-11"
    worker.call(11, "admit", {"target": 1, "call": second["data"]["call"], "admit": False, "message": message})
    assert until_reserve(worker, 1, frames) is None
    error = frames[-1]["error"]
    assert error == {"code": "budget", "message": message, "retryable": False}
    # The admitted call ran and is charged; the refused one never started.
    (charged,) = lm_spans(frames, ended=True)
    assert charged["id"] == first["data"]["call"] and charged["cost"] > 0
    assert second["data"]["call"] not in {s["id"] for s in lm_spans(frames, ended=False)}


def test_a_cancel_wakes_a_call_waiting_for_its_admission(worker):
    worker.send(1, "execute", execute())
    frames: list[dict] = []
    reserve = until_reserve(worker, 1, frames)
    final, _ = worker.call(2, "cancel", {"target": 1})
    assert final["result"] == {"cancelled": True}
    assert until_reserve(worker, 1, frames) is None
    assert frames[-1]["error"]["code"] == "cancelled"
    # An answer after the request ended finds nobody waiting.
    final, _ = worker.call(3, "admit", {"target": 1, "call": reserve["data"]["call"], "admit": True})
    assert final["result"] == {"waiting": False}


def test_without_reserve_nothing_is_asked(worker):
    final, events = worker.call(1, "execute", execute(reserve=False))
    assert "result" in final
    assert {e["event"] for e in events} == {"spans"}


def test_a_free_profile_reserves_nothing(worker):
    final, events = worker.call(1, "execute", execute(lm={"model": "signet/test", "cache": False, "free": True}))
    assert "result" in final and final["result"]["cost"] == 0
    assert {e["event"] for e in events} == {"spans"}


def test_a_bad_admit_is_bad_input(worker):
    final, _ = worker.call(1, "admit", {"target": "x", "call": 3, "admit": "yes"})
    assert final["error"]["code"] == "bad_input"


def test_estimate_of_a_profile_without_prices_is_its_recent_mean():
    profile = lms.parse_profile({"model": "openai/some-model"})
    assert budget.estimate(profile, None, {"messages": [{"role": "user", "content": "hi"}]}) == 0.0
    budget.RECENT.add(profile.key(), 0.02)
    budget.RECENT.add(profile.key(), 0.04)
    assert abs(budget.estimate(profile, None, {"messages": []}) - 0.03) < 1e-12


def test_estimate_of_a_priced_profile():
    profile = lms.parse_profile({"model": "x/y", "price_in": 1.0, "price_out": 2.0, "max_tokens": 10})
    # 40 characters: 10 prompt tokens at $1/M, 10 completion tokens at $2/M.
    est = budget.estimate(profile, None, {"messages": [{"role": "user", "content": "a" * 40}]})
    assert abs(est - 30 / 1e6) < 1e-15
