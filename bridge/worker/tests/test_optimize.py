"""optimize, export and import_state (docs/protocol.md), on the deterministic test LM.

The data set is built so that the test LM's rules make optimization visible:
the answer is `Literal['north', 'south']`; the base instructions "Say north or
South." make the LM pick the first option named in them ('north'), while 7 of
the 10 labels are 'south'. Demos whose question equals the current one are
copied (so labelled demos of the validation questions raise exact match), and an
instruction proposed from the base one ("South", its last capitalised word)
turns every answer into 'south'.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import dspy
import pytest

from conftest import Worker
from signet_worker import export, importer, lms, optimize
from signet_worker.errors import BadInput, UserCodeError, to_error
from signet_worker.progress import PHASES

QUESTIONS = [
    ("Which hemisphere holds Australia?", "south"), ("Which hemisphere holds Canada?", "north"),
    ("Which hemisphere holds Chile?", "south"), ("Which hemisphere holds Zambia?", "south"),
    ("Which hemisphere holds Argentina?", "south"), ("Which hemisphere holds Japan?", "north"),
    ("Which hemisphere holds Peru?", "south"), ("Which hemisphere holds Bolivia?", "south"),
    ("Which hemisphere holds Angola?", "south"), ("Which hemisphere holds Egypt?", "north"),
]


def _example(i: int, question: str, answer: str) -> dict[str, Any]:
    return {"id": f"ex-{i}", "inputs": {"question": question}, "outputs": {"answer": answer}}


TRAIN = [_example(i, q, a) for i, (q, a) in enumerate(QUESTIONS)]
VAL = [_example(i, q, a) for i, (q, a) in enumerate(QUESTIONS[:6])]  # 4 south, 2 north: baseline 2/6
TEST = [_example(i, q, a) for i, (q, a) in enumerate(QUESTIONS[6:])]
PROGRAM = {"name": "hemi", "modules": [{
    "name": "answer", "type": "predict", "signature": "question -> answer: Literal['north', 'south']",
    "instructions": "Say north or South.",
}]}
LM = {"model": "signet/test", "cache": False}
PRICED_LM = {**LM, "price_in": 1000.0, "price_out": 1000.0}  # USD per million tokens: calls cost ~0.2 each
EXACT = {"name": "exact_match", "kind": "builtin"}


def only(result: dict, module: str = "answer") -> dict:
    """The one predictor of a one-predictor module in a result's per-module state."""
    (predictor,) = result["modules"][module]["predictors"]
    return predictor


def params(optimizer: str, settings: dict | None = None, **extra: Any) -> dict[str, Any]:
    base = {"program": PROGRAM, "lm": LM, "optimizer": optimizer, "settings": settings or {}, "train": TRAIN,
            "val": VAL, "test": TEST, "metric": EXACT, "threads": 2, "seed": 0}
    base.update(extra)
    return base


class Events:
    def __init__(self, on_trial: Any = None):
        self.items: list[tuple[str, dict]] = []
        self.on_trial = on_trial
        self.lock = threading.Lock()

    def __call__(self, name: str, data: dict) -> None:
        with self.lock:
            self.items.append((name, json.loads(json.dumps(data))))  # what goes on the wire must be JSON
        if name == "trial" and self.on_trial is not None:
            self.on_trial(data)

    def of(self, name: str) -> list[dict]:
        return [d for n, d in self.items if n == name]


def run(p: dict, cancel: threading.Event | None = None, events: Events | None = None) -> tuple[dict, Events]:
    events = events or Events()
    result = optimize.optimize(p, emit=events, cancel=cancel, lm_cache=lms.LMCache())
    json.dumps(result, allow_nan=False)
    return result, events


def check_consistent(result: dict, events: Events) -> None:
    """Trials streamed match the result; progress is sane."""
    trials = events.of("trial")
    assert [t["n"] for t in trials] == list(range(len(trials)))
    assert result["trials"] == len(trials) - 1
    assert trials[0]["n"] == 0 and trials[0]["score"] == result["baseline_score"]
    if result["best_trial"] is not None:
        best = trials[result["best_trial"]]
        assert best["score"] == result["best_score"]
        assert best["modules"] == result["modules"]
        assert best["results"] == result["val_results"]["best"]
    assert result["val_results"]["baseline"] == trials[0]["results"]
    progress = events.of("progress")
    assert progress and progress[-1]["phase"] == "done"
    assert {p["phase"] for p in progress} <= set(PHASES)
    assert progress[-1]["lm_calls"] == result["lm_calls"]
    assert result["lm_calls"] == sum(u["calls"] for u in result["usage"].values())
    for u in result["usage"].values():
        assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]


# --- the optimizers -----------------------------------------------------------------------------

def test_labeled_fewshot_demos_raise_exact_match():
    result, events = run(params("labeled_fewshot", {"max_labeled_demos": 10}))
    assert result["baseline_score"] == pytest.approx(2 / 6)
    assert result["best_score"] == 1.0 and result["stopped"] is None
    assert result["test_baseline"] == pytest.approx(1 / 4) and result["test_score"] == 1.0
    assert len(only(result)["demos"]) == 10
    assert result["state"]["answer"]["demos"]
    assert [r["example"] for r in result["val_results"]["best"]] == [e["id"] for e in VAL]
    assert all(r["pass"] for r in result["val_results"]["best"])
    assert result["cost"] == 0.0 and result["cost_unknown"] is True  # the test LM reports no cost
    check_consistent(result, events)
    phases = [p["phase"] for p in events.of("progress")]
    assert phases.index("baseline") < phases.index("bootstrap") < phases.index("evaluate") < phases.index("test")


def test_bootstrap_fewshot():
    result, events = run(params("bootstrap_fewshot", {"max_bootstrapped_demos": 2, "max_labeled_demos": 10}))
    assert result["best_score"] > result["baseline_score"]
    check_consistent(result, events)


def test_random_search_streams_every_candidate():
    result, events = run(params("bootstrap_random_search", {"num_candidate_programs": 2, "max_labeled_demos": 10}))
    trials = events.of("trial")
    assert len(trials) == 1 + 2 + 3  # baseline, then DSPy's three fixed seeds and two random ones
    assert result["best_score"] == 1.0 > result["baseline_score"]
    assert all(len(t["results"]) == len(VAL) for t in trials)  # each candidate scored on the validation set
    check_consistent(result, events)


def test_mipro_v2_explicit_trials():
    result, events = run(params("mipro_v2", {"num_trials": 3, "num_candidates": 2, "max_bootstrapped_demos": 1,
                                            "max_labeled_demos": 10}))
    assert result["best_score"] > result["baseline_score"]
    phases = [p["phase"] for p in events.of("progress")]
    assert phases.index("bootstrap") < phases.index("propose") < phases.index("trials")
    assert max(p["trials"] or 0 for p in events.of("progress")) >= 3
    check_consistent(result, events)


def test_mipro_v2_auto_light_instructions_only():
    result, events = run(params("mipro_v2", {"auto": "light", "max_bootstrapped_demos": 0, "max_labeled_demos": 0}))
    # Zero-shot MIPROv2 can only change instructions; it keeps the best it scored on the validation set.
    assert result["best_score"] >= result["baseline_score"]
    assert only(result)["demos"] == []
    assert result["trials"] >= 3
    check_consistent(result, events)


def test_copro_changes_instructions():
    result, events = run(params("copro", {"breadth": 2, "depth": 1}))
    assert only(result)["instructions"] == "South"
    assert result["best_score"] == pytest.approx(4 / 6)
    assert result["best_score"] > result["baseline_score"]
    # COPRO scores candidates on the training set: those trials carry no per-example validation results.
    assert any(t["results"] == [] for t in events.of("trial")[1:])
    check_consistent(result, events)


def test_simba_steps():
    result, events = run(params("simba", {"max_steps": 2, "num_candidates": 2, "bsize": 4}))
    assert result["stopped"] is None and result["trials"] >= 2
    check_consistent(result, events)


def test_gepa_with_reflection_lm():
    reflection = {**LM, "price_in": 1.0, "price_out": 1.0}
    result, events = run(params("gepa", {"max_metric_calls": 40}, reflection_lm=reflection))
    assert only(result)["instructions"] == "South"
    assert result["best_score"] > result["baseline_score"]
    assert result["cost"] > 0  # the reflection LM's calls have a price (same model: attributed to it)
    check_consistent(result, events)


# --- metrics ------------------------------------------------------------------------------------

@pytest.mark.parametrize("metric", [
    {"name": "answer_exact_match", "kind": "builtin"},
    {"name": "f1", "kind": "builtin"},
    {"name": "semantic_f1", "kind": "builtin", "lm": {**LM, "price_in": 5.0}},
    {"kind": "judge", "signature": "question, answer, prediction -> correct: bool", "lm": LM},
])
def test_metrics(metric):
    result, events = run(params("labeled_fewshot", {"k": 2}, metric=metric, test=[]))
    assert result["baseline_score"] is not None and result["stopped"] is None
    if metric.get("kind") == "judge":
        assert result["baseline_score"] == 1.0  # the test LM's bool answer is True
        assert result["lm_calls"] > 2 * len(VAL)  # the judge's calls are counted too
    if metric.get("name") == "semantic_f1":
        assert result["cost"] > 0  # the judge LM has a price
    check_consistent(result, events)


def test_custom_metric(tmp_path):
    (tmp_path / "m.py").write_text("def strict(example, pred, trace=None):\n    return pred.answer == example.answer\n")
    result, _ = run(params("labeled_fewshot", {"k": 10}, metric={"kind": "custom", "source": "m.py:strict"},
                           base_dir=str(tmp_path)))
    assert result["baseline_score"] == pytest.approx(2 / 6) and result["best_score"] == 1.0


def test_custom_metric_raising_is_user_code(tmp_path):
    (tmp_path / "bad.py").write_text("def metric(example, pred, trace=None):\n    raise ValueError('boom')\n")
    with pytest.raises(UserCodeError) as info:
        run(params("bootstrap_fewshot", metric={"kind": "custom", "source": "bad.py:metric"}, base_dir=str(tmp_path)))
    body = to_error(info.value)
    assert body["code"] == "user_code" and "boom" in body["message"]
    assert "ValueError" in body["detail"]["traceback"]


def test_a_failed_run_reports_what_it_spent(tmp_path):
    # The metric raises once the baseline's LM calls are made: the error carries their cost.
    (tmp_path / "bad.py").write_text("def metric(example, pred, trace=None):\n    raise ValueError('boom')\n")
    with pytest.raises(UserCodeError) as info:
        run(params("bootstrap_fewshot", lm=PRICED_LM, metric={"kind": "custom", "source": "bad.py:metric"},
                   base_dir=str(tmp_path), threads=1))
    spent = to_error(info.value)["detail"]["spent"]
    assert spent["lm_calls"] >= 1 and spent["cost"] > 0 and spent["cost_unknown"] is False
    assert spent["usage"]["signet/test"]["calls"] == spent["lm_calls"]
    # So does an LM outage that ends the run, with no call billed.
    with pytest.raises(Exception) as info:
        run(params("labeled_fewshot", lm={**PRICED_LM, "kwargs": {"fail_on": "hemisphere"}}))
    body = to_error(info.value)
    assert body["code"] == "lm_unavailable" and body["detail"]["spent"]["cost"] == 0
    assert body["detail"]["type"]  # the LM error's own detail is kept


def test_bad_metric_and_settings():
    with pytest.raises(BadInput) as info:
        run(params("mipro_v2", {"num_trials": 2, "bogus_knob": 1}))
    assert info.value.detail["field"] == "settings.bogus_knob"
    with pytest.raises(BadInput) as info:
        run(params("bootstrap_fewshot", {"metric": "x"}))
    assert info.value.detail["field"] == "settings.metric"
    with pytest.raises(BadInput) as info:
        run(params("nope"))
    assert info.value.detail["field"] == "optimizer"
    with pytest.raises(BadInput) as info:
        run(params("labeled_fewshot", metric={"name": "passage_match", "kind": "builtin"}))
    assert info.value.detail["field"] == "metric.name"
    with pytest.raises(BadInput) as info:
        run(params("labeled_fewshot", train=[{"id": "x", "inputs": {"q": "?"}, "outputs": {}}]))
    assert info.value.detail["field"] == "train[0].inputs.question"


# --- stopping -----------------------------------------------------------------------------------

def test_cancel_keeps_the_best_so_far():
    cancel = threading.Event()
    events = Events(on_trial=lambda t: cancel.set() if t["n"] == 3 else None)
    result, events = run(params("bootstrap_random_search", {"num_candidate_programs": 4, "max_labeled_demos": 10}),
                         cancel=cancel, events=events)
    assert result["stopped"] == "cancelled"
    assert result["trials"] == 3  # the trial boundary after trial 3 is where it stopped
    trials = events.of("trial")
    best = max(trials, key=lambda t: t["score"])
    assert result["best_score"] == best["score"] == 1.0
    assert result["modules"] == trials[result["best_trial"]]["modules"]
    assert result["state"]["answer"]["demos"]  # what was learned is kept
    assert result["test_score"] is None
    check_consistent(result, events)


@pytest.mark.parametrize("optimizer,settings", [
    ("mipro_v2", {"num_trials": 6, "num_candidates": 2, "max_bootstrapped_demos": 1, "max_labeled_demos": 10}),
    ("copro", {"breadth": 3, "depth": 2}),
    ("simba", {"max_steps": 4, "num_candidates": 2, "bsize": 4}),
    ("gepa", {"max_metric_calls": 200}),
])
def test_cancel_mid_run_every_optimizer(optimizer, settings):
    cancel = threading.Event()
    events = Events(on_trial=lambda t: cancel.set() if t["n"] == 2 else None)
    result, events = run(params(optimizer, settings), cancel=cancel, events=events)
    assert result["stopped"] == "cancelled"
    assert result["trials"] == 2
    full = [t for t in events.of("trial") if t["results"]]
    assert result["best_score"] == max(t["score"] for t in full)
    check_consistent(result, events)


def test_cancel_before_anything_was_scored_returns_the_base_program():
    cancel = threading.Event()
    cancel.set()
    result, events = run(params("labeled_fewshot"), cancel=cancel)
    assert result["stopped"] == "cancelled" and result["best_trial"] is None and result["baseline_score"] is None
    assert only(result)["instructions"] == "Say north or South." and only(result)["demos"] == []
    assert result["lm_calls"] == 0


def test_budget_is_a_hard_stop():
    result, events = run(params("bootstrap_random_search", {"num_candidate_programs": 8}, lm=PRICED_LM, budget=2.0,
                                threads=1))
    assert result["stopped"] == "budget"
    assert result["cost_unknown"] is False
    per_call = result["cost"] / result["lm_calls"]
    assert 2.0 <= result["cost"] < 2.0 + 2 * per_call  # the call that reached it was the last
    assert events.of("progress")[-1]["cost"] == result["cost"]
    check_consistent(result, events)


# --- export / import_state ----------------------------------------------------------------------

COMPILED = {"name": "qa", "modules": [
    {"name": "answer", "type": "predict", "signature": "question -> answer", "instructions": "Answer in one word.",
     "demos": [{"question": "Capital of France?", "answer": "Paris"}]},
    {"name": "explain", "type": "chain_of_thought", "signature": "question, answer -> explanation",
     "instructions": "Explain briefly.", "demos": [{"question": "Q?", "answer": "A", "explanation": "E"}]},
]}


class PlainQA(dspy.Module):
    """The same structure written in plain DSPy, as a user would."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = dspy.Predict("question -> answer")
        self.explain = dspy.ChainOfThought("question, answer -> explanation")


def test_export_loads_in_plain_dspy(tmp_path):
    state = export.export({"program": COMPILED})["state"]
    assert set(state) == {"answer", "explain.predict", "metadata"}
    assert state["answer"]["lm"] is None
    path = tmp_path / "program.json"
    path.write_text(json.dumps(state))
    plain = PlainQA()
    plain.load(str(path))
    assert plain.answer.signature.instructions == "Answer in one word."
    assert [dict(d) for d in plain.answer.demos] == [{"question": "Capital of France?", "answer": "Paris"}]
    assert plain.explain.predict.signature.instructions == "Explain briefly."
    assert plain.explain.predict.demos[0]["explanation"] == "E"


def test_optimized_state_loads_in_plain_dspy(tmp_path):
    result, _ = run(params("labeled_fewshot", {"k": 3}, test=[]))
    path = tmp_path / "optimized.json"
    # export with the run's state: a one-module program is what its module's own save() writes,
    # metadata included (DSPy's load needs it)
    path.write_text(json.dumps(export.export({"program": PROGRAM, "state": result["state"]})["state"]))
    plain = dspy.Predict("question -> answer: Literal['north', 'south']")
    plain.load(str(path))
    assert len(plain.demos) == 3 and plain.signature.instructions == "Say north or South."


def test_import_state_round_trips():
    state = export.export({"program": COMPILED})["state"]
    bare = {"name": "qa", "modules": [{k: v for k, v in m.items() if k not in ("demos", "instructions")}
                                      for m in COMPILED["modules"]]}
    imported = importer.import_state({"program": bare, "state": state})["program"]
    answer, explain = imported["modules"]
    (self_state,) = answer["predictors"]
    assert self_state["name"] == "self" and self_state["instructions"] == "Answer in one word."
    assert self_state["demos"] == [{"question": "Capital of France?", "answer": "Paris"}]
    (predict,) = explain["predictors"]
    assert predict["instructions"] == "Explain briefly."
    assert predict["demos"] == [{"question": "Q?", "answer": "A", "explanation": "E"}]
    result, _ = run(params("labeled_fewshot", {"k": 2}, test=[]))
    again = importer.import_state({"program": PROGRAM, "state": result["state"]})["program"]
    assert again["modules"][0]["predictors"] == result["modules"]["answer"]["predictors"]


def test_import_state_mismatch_names_the_predictor():
    state = export.export({"program": COMPILED})["state"]
    with pytest.raises(BadInput) as info:
        importer.import_state({"program": PROGRAM, "state": state})
    assert info.value.detail["predictor"] in ("explain.predict",)
    with pytest.raises(BadInput) as info:
        importer.import_state({"program": COMPILED, "state": {"answer": state["answer"]}})
    assert info.value.detail["predictor"] == "explain.predict"


# --- over the protocol --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def proto_worker():
    w = Worker(threads=2)
    yield w
    w.close()


def test_protocol_optimize_export_import(proto_worker):
    w = proto_worker
    final, events = w.call(1, "optimize", params("labeled_fewshot", {"k": 10}), timeout=60)
    assert "result" in final, final
    names = [e["event"] for e in events]
    assert set(names) == {"progress", "trial"}
    result = final["result"]
    assert result["best_score"] == 1.0 and result["trials"] == len([n for n in names if n == "trial"]) - 1
    final, _ = w.call(2, "export", {"program": COMPILED})
    assert final["result"]["state"]["answer"]["demos"]
    final, _ = w.call(3, "import_state", {"program": PROGRAM, "state": result["state"]})
    assert final["result"]["program"]["modules"][0]["predictors"] == result["modules"]["answer"]["predictors"]
    final, _ = w.call(4, "optimize", params("copro", {"depth": 1, "nonsense": True}))
    assert final["error"]["code"] == "bad_input" and final["error"]["detail"]["field"] == "settings.nonsense"
    assert not [f for f in w.others if "_invalid" in f]  # DSPy's, tqdm's and GEPA's prints stay off the protocol


def test_protocol_cancel_returns_a_result(proto_worker):
    w = proto_worker
    slow = {**LM, "kwargs": {"sleep_ms": 20}}
    w.send(10, "optimize", params("bootstrap_random_search", {"num_candidate_programs": 16, "max_labeled_demos": 10},
                                  lm=slow))
    while True:
        frame = w.next(timeout=60)
        assert frame is not None
        if frame.get("id") == 10 and frame.get("event") == "trial" and frame["data"]["n"] >= 1:
            break
        assert "result" not in frame and "error" not in frame, frame
    w.send(11, "cancel", {"target": 10})
    final, events = w.until_done(10, timeout=60)
    assert final["result"]["stopped"] == "cancelled", final
    assert final["result"]["trials"] < 16 + 3
    assert final["result"]["best_score"] is not None
    cancelled, _ = w.until_done(11)
    assert cancelled["result"] == {"cancelled": True}


@pytest.mark.parametrize("optimizer,settings", [
    ("mipro_v2", {"num_trials": 2, "num_candidates": 2, "max_bootstrapped_demos": 1, "max_labeled_demos": 4}),
    ("bootstrap_random_search", {"num_candidate_programs": 1}),
    ("gepa", {"max_metric_calls": 30}),
])
def test_without_val_scores_on_train(optimizer, settings):
    result, events = run(params(optimizer, settings, val=[], test=[]))
    assert result["stopped"] is None
    assert [r["example"] for r in result["val_results"]["baseline"]] == [e["id"] for e in TRAIN]
    assert result["baseline_score"] == pytest.approx(3 / 10)
    check_consistent(result, events)


def test_lm_errors_are_reported_as_such():
    # Every baseline example failing is a broken configuration, not a score of 0.
    with pytest.raises(Exception) as info:
        run(params("labeled_fewshot", lm={**LM, "kwargs": {"fail_on": "hemisphere"}}))
    assert to_error(info.value)["code"] == "lm_unavailable"
    # So is a judge whose LM fails (not a bad metric).
    judge = {"kind": "judge", "signature": "question, answer, prediction -> correct: bool",
             "lm": {**LM, "kwargs": {"fail_on": "correct"}}}
    with pytest.raises(Exception) as info:
        run(params("labeled_fewshot", metric=judge))
    assert to_error(info.value)["code"] == "lm_unavailable"


def test_progress_is_throttled():
    slow = {**LM, "kwargs": {"sleep_ms": 15}}
    result, events = run(params("labeled_fewshot", {"k": 10}, lm=slow, threads=1))
    progress = events.of("progress")
    ticks = 0
    for before, after in zip(progress, progress[1:]):
        if (before["phase"], before["trial"]) == (after["phase"], after["trial"]):
            ticks += 1  # neither a phase change nor a trial: a throttled tick
    assert ticks >= 1  # LM calls do report progress between trials
    # At most one tick per 0.1 s interval (a forced event, such as a score
    # update, may land next to a tick, so the rate is checked, not each gap).
    span = progress[-1]["elapsed_s"] - progress[0]["elapsed_s"]
    assert ticks <= span / 0.1 + 2, f"{ticks} ticks in {span:.2f}s"
    assert [p["lm_calls"] for p in progress] == sorted(p["lm_calls"] for p in progress)
    check_consistent(result, events)
