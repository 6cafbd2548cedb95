"""What an optimization's trials carry for its detail view: per-example outputs and costs, each trial's
cost and time, GEPA's lineage and MIPROv2's proposed instructions (docs/protocol.md, `trial`)."""

from __future__ import annotations

import pytest

from signet_worker import progress

from test_optimize import LM, PRICED_LM, VAL, check_consistent, params, run


def test_trial_results_carry_each_examples_output_and_cost():
    result, events = run(params("labeled_fewshot", {"max_labeled_demos": 10}, lm=PRICED_LM, test=[]))
    check_consistent(result, events)
    baseline, best = events.of("trial")[0], events.of("trial")[-1]
    by_id = {e["id"]: e["outputs"]["answer"] for e in VAL}
    for trial in (baseline, best):
        assert [r["example"] for r in trial["results"]] == [e["id"] for e in VAL]
        for r in trial["results"]:
            # What the program answered, and whether the metric passed it, agree with the label.
            assert (r["output"]["answer"] == by_id[r["example"]]) == r["pass"]
            assert r["cost"] > 0
    # The baseline is the run's first work: its cost is exactly its examples' costs.
    assert baseline["cost"] == pytest.approx(sum(r["cost"] for r in baseline["results"]))
    assert baseline["duration_s"] >= 0 and best["duration_s"] >= 0
    assert baseline["results"][0]["output"] == {"answer": "north"}  # the base instructions say north first


def test_gepa_trials_name_their_parents_and_what_reflection_rewrote():
    reflection = {**LM, "price_in": 1.0, "price_out": 1.0}
    result, events = run(params("gepa", {"max_metric_calls": 40}, reflection_lm=reflection, test=[]))
    check_consistent(result, events)
    trials = events.of("trial")
    children = [t for t in trials if t.get("parents")]
    assert children, "GEPA accepted a candidate: it has a parent"
    for t in children:
        assert all(0 <= p < t["n"] for p in t["parents"])  # a parent is an earlier trial
    rewritten = [t for t in children if t.get("reflection")]
    assert rewritten and all(set(t["reflection"]) <= set(t["instructions"]) for t in rewritten)
    # The child's instructions differ from its parent's where reflection rewrote them.
    by_n = {t["n"]: t for t in trials}
    for t in rewritten:
        parent = by_n[t["parents"][0]]
        assert any(t["instructions"][p] != parent["instructions"][p] for p in t["reflection"])


def test_mipro_sends_its_proposed_instructions_once():
    result, events = run(params("mipro_v2", {"num_trials": 3, "num_candidates": 2, "max_bootstrapped_demos": 1,
                                             "max_labeled_demos": 10}, test=[]))
    check_consistent(result, events)
    trials = events.of("trial")
    with_proposals = [t for t in trials if t.get("proposals")]
    assert len(with_proposals) == 1 and with_proposals[0]["n"] > 0
    proposals = with_proposals[0]["proposals"]
    assert set(proposals) == set(trials[0]["instructions"])
    # Every trial after the proposals tried one of them for each predictor.
    for t in trials[with_proposals[0]["n"]:]:
        for path, text in t["instructions"].items():
            assert text in proposals[path]


def test_an_example_whose_lm_has_no_price_has_no_cost():
    result, events = run(params("labeled_fewshot", {"max_labeled_demos": 2}, test=[]))
    assert result["cost_unknown"] is True  # the test LM reports no cost
    for r in events.of("trial")[0]["results"]:
        assert "cost" not in r and r["output"]["answer"] in ("north", "south")


def test_bootstrap_fewshot_reports_its_time_left(monkeypatch):
    monkeypatch.setattr(progress, "PROGRESS_EVERY", 0.0)  # every tick is sent: the test LM is faster than the throttle
    result, events = run(params("bootstrap_fewshot", {"max_bootstrapped_demos": 4, "max_labeled_demos": 0}, test=[]))
    check_consistent(result, events)
    boot = [p for p in events.of("progress") if p["phase"] == "bootstrap"]
    assert boot and all(p["trials"] == 1 for p in boot)
    # Each example it tries moves it on: the time left is known, and the elapsed share only grows.
    timed = [p for p in boot if p["eta_s"] is not None]
    assert timed, boot
    # The share of time elapsed is the share of the 10 training examples tried, and only grows (the times
    # are rounded to the millisecond, so the share is near a whole number of examples).
    tried = [10 * p["elapsed_s"] / (p["elapsed_s"] + p["eta_s"]) for p in timed if p["elapsed_s"] + p["eta_s"] > 0]
    assert tried and all(0.5 <= t <= 10.5 for t in tried), tried
    assert all(b >= a - 0.5 for a, b in zip(tried, tried[1:])), tried
    assert max(tried) >= 3  # it tried examples until it had its 4 demos or none were left


def test_progress_follows_work_counted_elsewhere():
    sent: list[dict] = []
    p = progress.Progress(sent.append, interval=0.0)
    p.set_phase("bootstrap", trials=1)
    assert sent[-1]["eta_s"] is None  # nothing known yet
    done = [0]
    p.follow(lambda: done[0], 10)
    done[0] = 5
    p.tick()
    half = sent[-1]
    assert half["eta_s"] == pytest.approx(half["elapsed_s"], abs=1e-3)  # half done: as long again
    p.follow(None)
    p.tick()
    assert sent[-1]["eta_s"] is None
