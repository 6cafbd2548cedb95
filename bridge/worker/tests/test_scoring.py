"""`execute` with a metric: an evaluated example, scored in the request that ran it."""

from __future__ import annotations

import dspy
import pytest
from conftest import lm_profile

from signet_worker import lms, runner
from signet_worker.errors import BadInput, UserCodeError

QA = {"name": "qa", "modules": [{"name": "answer", "type": "predict", "signature": "question -> answer"}]}
FRANCE = {"question": "What is the capital of France?"}
PRICED = {**lm_profile(), "price_in": 10, "price_out": 30}


def execute(metric, labels, inputs=None, lm=None, **params):
    spans: list[dict] = []
    result = runner.execute({"program": QA, "inputs": inputs or FRANCE, "lm": lm or lm_profile(), "metric": metric,
                             "labels": labels, **params}, emit=spans.append, cancel=None, lm_cache=lms.LMCache())
    return result, spans


def test_builtin_metric_scores_against_the_labels():
    # The test LM answers a capital question with the country: "France".
    right, spans = execute({"name": "exact_match", "kind": "builtin"}, {"answer": "france"})
    wrong, _ = execute({"name": "exact_match", "kind": "builtin"}, {"answer": "Paris"})
    assert right["score"] == 1.0 and wrong["score"] == 0.0
    assert right["outputs"] == {"answer": "France"}
    ends = {s["id"]: s for s in spans if "end" in s}
    (root,) = [s for s in ends.values() if "parent" not in s]
    (metric,) = [s for s in ends.values() if s["name"] == "metric exact_match"]
    assert metric["parent"] == root["id"] and metric["kind"] == "module"
    assert metric["inputs"] == {"answer": "france"} and metric["outputs"] == {"score": 1.0}
    # answer_exact_match is DSPy's own, called as DSPy's Evaluate calls it.
    example = dspy.Example(question=FRANCE["question"], answer="france").with_inputs("question")
    dspy_value = dspy.evaluate.answer_exact_match(example, dspy.Prediction(answer="France"))
    got, _ = execute({"name": "answer_exact_match", "kind": "builtin"}, {"answer": "france"})
    assert got["score"] == float(dspy_value) == 1.0


def test_without_a_metric_there_is_no_score():
    result = runner.execute({"program": QA, "inputs": FRANCE, "lm": lm_profile()}, emit=None, cancel=None,
                            lm_cache=lms.LMCache())
    assert "score" not in result
    with pytest.raises(BadInput, match="labels are only read with a metric"):
        runner.execute({"program": QA, "inputs": FRANCE, "lm": lm_profile(), "labels": {"answer": "x"}}, emit=None,
                       cancel=None, lm_cache=lms.LMCache())


def test_judge_calls_are_charged_to_the_execution():
    plain = runner.execute({"program": QA, "inputs": FRANCE, "lm": PRICED}, emit=None, cancel=None,
                           lm_cache=lms.LMCache())
    judged, spans = execute({"name": "judge", "kind": "judge", "signature": "question, answer, prediction -> correct: bool"},
                            {"answer": "Paris"}, lm=PRICED)
    assert judged["score"] == 1.0  # the test LM's bool answers are True
    assert judged["usage"]["signet/test"]["calls"] == 2 and plain["usage"]["signet/test"]["calls"] == 1
    assert judged["cost"] > plain["cost"] > 0
    ends = [s for s in spans if "end" in s]
    (metric,) = [s for s in ends if s["name"] == "metric judge"]
    assert [s["name"] for s in ends if s.get("parent") == metric["id"]] == ["Predict"], "the judge nests under the metric"
    assert len([s for s in ends if s["kind"] == "lm"]) == 2  # the program's LM call and the judge's


def test_each_judge_prompts_with_its_own_signature():
    # Judge signatures are made once per text and kept: each request's judge still asks with its own.
    def judge_messages(signature: str) -> str:
        _, spans = execute({"name": "judge", "kind": "judge", "signature": signature}, {"answer": "Paris"})
        lm_spans = [s for s in spans if "end" in s and s["kind"] == "lm"]
        return lm_spans[-1]["messages"][-1]["content"]  # the judge's call comes after the program's

    for _ in range(2):
        with_question = judge_messages("question, answer, prediction -> correct: bool")
        without = judge_messages("answer, prediction -> verdict: bool")
        assert "[[ ## question ## ]]" in with_question and "[[ ## correct ## ]]" in with_question
        assert "[[ ## question ## ]]" not in without and "[[ ## verdict ## ]]" in without


def test_semantic_f1_scores_alike_request_after_request():
    # Each request's SemanticF1 is a copy of one never called: none of a judge's state reaches the next.
    results = [execute({"name": "semantic_f1", "kind": "builtin"}, {"answer": "France"})[0] for _ in range(3)]
    assert all(r["usage"]["signet/test"]["calls"] == 2 for r in results)
    assert len({r["score"] for r in results}) == 1


def test_metric_lm_profile_is_priced_apart():
    judge_lm = {**lm_profile(), "price_in": 1000, "price_out": 1000}
    free, _ = execute({"name": "judge", "kind": "judge", "signature": "answer, prediction -> correct: bool"},
                      {"answer": "Paris"})
    dear, _ = execute({"name": "judge", "kind": "judge", "signature": "answer, prediction -> correct: bool",
                       "lm": judge_lm}, {"answer": "Paris"})
    assert free["cost"] == 0 and dear["cost"] > 0


def test_custom_metric_errors_fail_the_request(tmp_path):
    (tmp_path / "m.py").write_text(
        "def strict(example, pred, trace=None):\n    return example.gold == pred.answer\n"
        "def broken(example, pred):\n    raise KeyError('gold')\n")
    ok, _ = execute({"name": "strict", "kind": "custom", "source": "m.py:strict"}, {"gold": "France"},
                    base_dir=str(tmp_path))
    assert ok["score"] == 1.0
    with pytest.raises(UserCodeError, match="the custom metric raised KeyError"):
        execute({"name": "broken", "kind": "custom", "source": "m.py:broken"}, {"gold": "France"},
                base_dir=str(tmp_path))


def test_bad_metric_fails_before_the_program_runs():
    spans: list[dict] = []
    with pytest.raises(BadInput, match="unknown builtin metric"):
        runner.execute({"program": QA, "inputs": FRANCE, "lm": lm_profile(), "metric": {"name": "bleu", "kind": "builtin"}},
                       emit=spans.append, cancel=None, lm_cache=lms.LMCache())
    assert spans == []
    with pytest.raises(BadInput, match="labels must be an object"):
        execute({"name": "exact_match", "kind": "builtin"}, ["answer"])
