"""Compatibility with plain DSPy: what DSPy's save() writes imports into Signet, renders the same
messages DSPy's adapter sends, and exports back into something plain DSPy loads with the same state.

Each shape is compiled in plain DSPy with BootstrapFewShot on the deterministic test LM, exactly as a
user would, then taken through Signet's worker methods.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import dspy
import pytest
from dspy.teleprompt import BootstrapFewShot

from signet_worker import export, importer, runner, testlm
from signet_worker.errors import BadInput

TOOLS = '''
def lookup(term: str) -> str:
    """Look a term up in the encyclopedia."""
    return f"{term} is a city in Europe."
'''

HOP = '''
import dspy


class Hop(dspy.Module):
    """A two-hop module, as in DSPy's multi-hop tutorials."""

    def __init__(self):
        super().__init__()
        self.first_hop = dspy.ChainOfThought("question -> query")
        self.second_hop = dspy.ChainOfThought("question, query -> answer")

    def forward(self, question):
        query = self.first_hop(question=question).query
        return self.second_hop(question=question, query=query)
'''

TRAIN = [
    dspy.Example(question="What is the capital of France?", answer="France").with_inputs("question"),
    dspy.Example(question="Where is Paris?", answer="Paris").with_inputs("question"),
    dspy.Example(question="Which city is Rome?", answer="Rome").with_inputs("question"),
]


def load_file(path: Path, name: str) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem + "_plain", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


class Three(dspy.Module):
    """Signet's three-module program written in plain DSPy, attribute per module."""

    def __init__(self) -> None:
        super().__init__()
        self.recall = dspy.Predict("question -> facts: list[str]")
        self.answer = dspy.ChainOfThought("question, facts: list[str] -> answer")
        self.polish = dspy.Predict("question, answer -> final_answer")

    def forward(self, question):
        facts = self.recall(question=question).facts
        answer = self.answer(question=question, facts=facts).answer
        return self.polish(question=question, answer=answer)


THREE = {"name": "three", "modules": [
    {"name": "recall", "type": "predict", "signature": "question -> facts: list[str]"},
    {"name": "answer", "type": "chain_of_thought", "signature": "question, facts: list[str] -> answer"},
    {"name": "polish", "type": "predict", "signature": "question, answer -> final_answer"},
]}


def metric(example: dspy.Example, prediction: Any, trace: Any = None) -> bool:
    return True  # keep every bootstrapped trace: the point is the state, not the score


def compile_plain(make: Callable[[], dspy.Module], train: list[dspy.Example]) -> dspy.Module:
    with dspy.context(lm=testlm.make_lm()):
        return BootstrapFewShot(metric=metric, max_bootstrapped_demos=2, max_labeled_demos=1).compile(
            make(), trainset=train)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "tools.py").write_text(TOOLS)
    (tmp_path / "hop.py").write_text(HOP)
    return tmp_path


def shapes(files: Path) -> dict[str, tuple[Callable[[], dspy.Module], dict[str, Any]]]:
    """name -> (plain DSPy constructor, import params for a new Signet program or an existing one)."""
    lookup = load_file(files / "tools.py", "lookup")
    hop = load_file(files / "hop.py", "Hop")
    return {
        "predict": (lambda: dspy.Predict("question -> answer"), {"name": "p"}),
        "chain_of_thought": (lambda: dspy.ChainOfThought("question -> answer"), {"name": "c"}),
        "react": (lambda: dspy.ReAct("question -> answer", tools=[lookup], max_iters=3),
                  {"name": "r", "source": "tools.py:lookup", "type": "react"}),
        "custom": (hop, {"name": "h", "source": "hop.py:Hop"}),
        "three": (Three, {"program": THREE}),
    }


def plain_state(module: dspy.Module) -> dict[str, Any]:
    state = module.dump_state()
    return {"self": state} if isinstance(module, dspy.Predict) else state


@pytest.mark.parametrize("shape", ["predict", "chain_of_thought", "react", "custom", "three"])
def test_save_import_render_export_round_trip(shape: str, files: Path, tmp_path: Path) -> None:
    make, params = shapes(files)[shape]
    compiled = compile_plain(make, TRAIN)
    if shape == "react":  # ReAct's max_iters is a constructor argument Signet keeps in config
        params = dict(params)
    saved_path = tmp_path / "compiled.json"
    compiled.save(str(saved_path))
    saved = json.loads(saved_path.read_text())
    assert any(d.get("augmented") for v in plain_state(compiled).values() for d in v["demos"]), "nothing bootstrapped"

    # 1. import: the whole state lands in the program's predictors, augmented flags and all
    result = importer.import_state({**params, "state": saved, "base_dir": str(files)})
    spec = result["program"]
    if shape == "react":
        spec["modules"][0].setdefault("config", {})["max_iters"] = 3
    stored = [p for m in spec["modules"] for p in m.get("predictors", [])]
    assert len(stored) == len(plain_state(compiled))
    assert sum(len(p["demos"]) for p in stored) == sum(len(v["demos"]) for v in plain_state(compiled).values())
    assert any(d.get("augmented") for p in stored for d in p["demos"])

    # 2. render: each predictor's messages are DSPy's adapter output for the same state and inputs
    inputs = {"question": "What is the capital of Italy?"}
    rendered = runner.render({"program": spec, "inputs": inputs, "lm": {"model": "signet/test"},
                              "base_dir": str(files)})["modules"]
    by_path = {r["path"]: r for r in rendered if r.get("path")}
    adapter = dspy.ChatAdapter()
    plain = plain_state(compiled)
    named = dict(compiled.named_predictors())
    assert len(by_path) == len(named)
    for (path, predictor), key in zip(named.items(), plain):
        entry = next(r for r in rendered if r.get("predictor") == path or r.get("path") == path
                     or (r.get("predictor") == "self" and path == "self"))
        given = dict(inputs)
        if shape == "react" and path == "react":
            with dspy.context(adapter=adapter):
                given["trajectory"] = compiled._format_trajectory({})
        values = {name: given.get(name, "{" + name + "}") for name in predictor.signature.input_fields}
        want = adapter.format(predictor.signature, predictor.demos, values)
        assert entry["messages"] == [{"role": m["role"], "content": m["content"]} for m in want], path
        assert key  # every predictor of the plain module was compared

    # 3. export: plain DSPy loads it into a fresh module of the user's own class, same dump_state()
    exported = export.export({"program": spec, "base_dir": str(files)})["state"]
    out = tmp_path / "exported.json"
    out.write_text(json.dumps(exported))
    fresh = make()
    fresh.load(str(out))
    assert fresh.dump_state() == compiled.dump_state()

    # 4. the standalone Python file rebuilds it in plain DSPy, without Signet on the path
    source = export.export({"program": spec, "base_dir": str(files), "python": True})["python"]
    script = tmp_path / "prog.py"
    script.write_text(source)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import json, runpy
        ns = runpy.run_path({str(script)!r})
        print(json.dumps(ns["program"].dump_state()))
    """)], capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == json.loads(json.dumps(compiled.dump_state()))


def test_react_instructions_survive_a_round_trip_once(files: Path) -> None:
    lookup = load_file(files / "tools.py", "lookup")
    agent = dspy.ReAct(dspy.Signature("question -> answer", "Answer like a librarian."), tools=[lookup])
    saved = {**agent.dump_state(), "metadata": {}}
    spec = importer.import_state({"name": "r", "source": "tools.py:lookup", "state": saved,
                                  "base_dir": str(files)})["program"]
    module = spec["modules"][0]
    assert module["instructions"] == "Answer like a librarian."  # the user's, without the agent text
    again = export.export({"program": spec, "base_dir": str(files)})["state"]
    text = again["react"]["signature"]["instructions"]
    assert text == agent.react.signature.instructions
    assert text.count("You are an Agent") == 1
    # Editing the module's instructions (and forgetting the stored ones, as Signet's editor does)
    # regenerates the agent text as DSPy's constructor would.
    module["instructions"] = "Answer like a pirate."
    for p in module["predictors"]:
        p["instructions"] = ""
    edited = export.export({"program": spec, "base_dir": str(files)})["state"]
    want = dspy.ReAct(dspy.Signature("question -> answer", "Answer like a pirate."), tools=[lookup])
    assert edited["react"]["signature"]["instructions"] == want.react.signature.instructions
    assert edited["extract.predict"]["signature"]["instructions"] == "Answer like a pirate."


def test_bare_predict_import_infers_its_signature() -> None:
    saved = {**dspy.Predict("question, context -> answer").dump_state(), "metadata": {}}
    result = importer.import_state({"name": "bare", "state": saved})
    module = result["program"]["modules"][0]
    assert module["type"] == "predict" and module["signature"] == "question, context -> answer"
    assert "instructions" not in module  # DSPy's default for the signature
    assert any("--signature" in w for w in result["warnings"])  # which fields are inputs was a guess


def test_copro_style_field_changes_and_bare_predict_import() -> None:
    predictor = dspy.Predict("question -> answer")
    predictor.signature = predictor.signature.with_updated_fields("answer", prefix="Final Answer:",
                                                                  desc="one word").with_instructions("Be brief.")
    saved = {**predictor.dump_state(), "metadata": {"dependency_versions": {"dspy": "0.0.1"}}}
    result = importer.import_state({"name": "bare", "state": saved, "signature": "question -> answer"})
    module = result["program"]["modules"][0]
    assert module["type"] == "predict" and module["signature"] == "question -> answer"
    (state,) = module["predictors"]
    assert state["name"] == "self"
    assert state["fields"][1] == {"name": "answer", "type": "str", "prefix": "Final Answer:", "description": "one word"}
    assert any("DSPy 0.0.1" in w for w in result["warnings"])
    exported = export.export({"program": result["program"]})["state"]
    assert {k: v for k, v in exported.items() if k != "metadata"} == predictor.dump_state()


def test_import_errors_name_the_key() -> None:
    cot = dspy.ChainOfThought("question -> answer").dump_state()
    spec = {"name": "x", "modules": [{"name": "a", "type": "predict", "signature": "question -> answer"},
                                     {"name": "b", "type": "predict", "signature": "answer -> verdict"}]}
    with pytest.raises(BadInput) as info:
        importer.import_state({"program": spec, "state": {"a": cot["predict"], "c": cot["predict"]}})
    assert "'c'" in info.value.message and info.value.detail["predictor"] == "c"
    with pytest.raises(BadInput) as info:
        importer.import_state({"program": spec, "state": {"a": cot["predict"]}})
    assert info.value.detail["predictor"] == "b"
    with pytest.raises(Exception) as info:  # a CoT state has a reasoning field a Predict lacks
        importer.import_state({"program": spec, "state": {"a": cot["predict"], "b": cot["predict"]}})
    assert "3 fields" in str(info.value) and "2" in str(info.value)
    with pytest.raises(BadInput) as info:
        importer.import_state({"name": "mine", "state": {"first.predict": cot["predict"], "second": cot["predict"]}})
    assert "--source" in info.value.message


def test_stored_predictor_state_is_what_runs() -> None:
    """A demo stored on the second predictor of a module changes that predictor's prompt only."""
    spec = {"name": "t", "modules": [{"name": "answer", "type": "chain_of_thought", "signature": "question -> answer",
                                      "predictors": [{"name": "predict", "instructions": "Stored instructions.",
                                                      "fields": [{"name": "answer", "prefix": "Reply:"}],
                                                      "demos": [{"question": "q1", "reasoning": "r", "answer": "a1",
                                                                 "augmented": True}]}]}]}
    spans: list[dict] = []
    runner.execute({"program": spec, "inputs": {"question": "q1"}, "lm": {"model": "signet/test"}},
                   emit=spans.append, cancel=None, lm_cache=__import__("signet_worker.lms").lms.LMCache())
    lm = [s for s in spans if s["kind"] == "lm" and "end" in s][0]
    system = lm["messages"][0]["content"]
    assert "Stored instructions." in system
    assert any("a1" in m["content"] for m in lm["messages"][1:-1])  # the stored demo is in the prompt
    bad = json.loads(json.dumps(spec))
    bad["modules"][0]["predictors"][0]["name"] = "self"
    with pytest.raises(Exception) as info:
        runner.render({"program": bad, "inputs": {"question": "q"}})
    assert "no predictor 'self'" in str(info.value) and "predict" in str(info.value)


def test_trusted_pickle_imports_its_state(tmp_path: Path) -> None:
    """A save_program=True directory (cloudpickled), loaded only because the caller trusts it."""
    cot = dspy.ChainOfThought("question, context -> answer")
    cot.predict.demos = [dspy.Example(question="q", context="c", reasoning="r", answer="a", augmented=True)]
    cot.save(str(tmp_path / "saved"), save_program=True)
    result = importer.import_state({"name": "pickled", "pickle": str(tmp_path / "saved")})
    module = result["program"]["modules"][0]
    assert module["type"] == "chain_of_thought" and module["signature"] == "question, context -> answer"
    (predict,) = module["predictors"]
    assert predict["demos"] == [{"question": "q", "context": "c", "reasoning": "r", "answer": "a", "augmented": True}]
    exported = export.export({"program": result["program"]})["state"]
    assert {k: v for k, v in exported.items() if k != "metadata"} == json.loads(json.dumps(cot.dump_state()))
    with pytest.raises(BadInput):
        importer.import_state({"name": "x", "pickle": str(tmp_path / "nothing-here")})
    # A state saved as .pkl: the state only.
    cot.save(str(tmp_path / "state.pkl"))
    again = importer.import_state({"program": result["program"], "pickle": str(tmp_path / "state.pkl")})
    assert again["program"]["modules"][0]["predictors"] == module["predictors"]
