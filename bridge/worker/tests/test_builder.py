"""Program specs to dspy.Modules: every module type, errors, state, per-module LMs."""

from __future__ import annotations

import os
import textwrap
import time

import dspy
import pytest
from conftest import FACTS, THREE, lm_profile

from signet_worker import builder, lms, runner
from signet_worker.errors import BadInput, BadProgram, UserCodeError


def execute(program, inputs, lm=None, **params):
    spans = []
    result = runner.execute({"program": program, "inputs": inputs, "lm": lm or lm_profile(), **params},
                            emit=spans.append, cancel=None, lm_cache=lms.LMCache())
    return result, spans


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_predict_and_chain_of_thought():
    program = builder.build_program(FACTS)
    assert isinstance(program, dspy.Module)
    assert [n for n, _ in program.named_predictors()] == ["recall", "answer.predict"]
    assert isinstance(program.recall, dspy.Predict)
    assert isinstance(program.answer, dspy.ChainOfThought)
    assert list(program.answer.predict.signature.output_fields) == ["reasoning", "answer"]
    assert program.recall.signature.instructions.startswith("List two or three")
    result, _ = execute(FACTS, {"question": "What is the capital of France?"})
    assert result["outputs"]["facts"] == ["capital", "France"]
    assert result["outputs"]["answer"] == "France"
    assert "reasoning" in result["outputs"]


def test_three_modules_share_a_record():
    result, _ = execute(THREE, {"question": "What is the capital of France?"})
    assert set(result["outputs"]) == {"facts", "reasoning", "answer", "final_answer"}
    assert result["usage"]["signet/test"]["calls"] == 3


def test_field_descriptions_and_demos():
    spec = {"name": "qa", "modules": [{
        "name": "answer", "type": "predict", "signature": "question -> answer",
        "fields": {"question": "a short factual question", "answer": "often a single word"},
        "demos": [{"question": "What is the capital of France?", "answer": "Paris"}],
    }]}
    program = builder.build_program(spec)
    sig = program.answer.signature
    assert sig.input_fields["question"].json_schema_extra["desc"] == "a short factual question"
    assert sig.output_fields["answer"].json_schema_extra["desc"] == "often a single word"
    demo = program.answer.demos[0]
    assert isinstance(demo, dspy.Example) and list(demo.inputs().keys()) == ["question"]
    # The demo changes the test LM's answer.
    assert execute(spec, {"question": "What is the capital of France?"})[0]["outputs"]["answer"] == "Paris"


def test_react_with_a_user_tool(tmp_path):
    write(tmp_path, "tools.py", '''
        def get_weather(city: str) -> str:
            """Get the current weather in a city."""
            return f"Sunny in {city}"
    ''')
    spec = {"name": "agent", "modules": [{
        "name": "agent", "type": "react", "signature": "question -> answer",
        "config": {"tools": ["tools.py:get_weather"], "max_iters": 4},
    }]}
    program = builder.build_program(spec, base_dir=str(tmp_path))
    assert isinstance(program.agent, dspy.ReAct)
    assert "get_weather" in program.agent.tools
    result, spans = execute(spec, {"question": "What is the weather in Paris?"}, base_dir=str(tmp_path))
    assert result["outputs"]["answer"] == "Paris"
    assert result["outputs"]["trajectory"]["observation_0"] == "Sunny in Paris"
    tool_spans = [s for s in spans if s["kind"] == "tool" and "end" in s]
    assert [s["name"] for s in tool_spans] == ["get_weather", "finish"]
    assert all(s["module"] == "agent" for s in tool_spans)
    assert tool_spans[0]["outputs"] == {"result": "Sunny in Paris"}


def test_custom_module_class_and_factory(tmp_path):
    write(tmp_path, "mymod.py", '''
        import dspy

        class Shout(dspy.Module):
            def __init__(self, suffix="!"):
                super().__init__()
                self.suffix = suffix
                self.inner = dspy.Predict("text -> answer")

            def forward(self, text):
                out = self.inner(text=text)
                return dspy.Prediction(answer=out.answer + self.suffix)

        def make(suffix="?"):
            return Shout(suffix=suffix)
    ''')
    for source, config, expected in [("mymod.py:Shout", {"suffix": "!!"}, "Paris!!"), ("mymod.py:make", {}, "Paris?")]:
        spec = {"name": "c", "modules": [{"name": "shout", "type": "custom", "source": source, "config": config}]}
        program = builder.build_program(spec, base_dir=str(tmp_path))
        assert program.steps[0].inputs == ["text"]
        assert [n for n, _ in program.named_predictors()] == ["shout.inner"]
        result, spans = execute(spec, {"text": "Hello Paris"}, base_dir=str(tmp_path))
        assert result["outputs"] == {"answer": expected}
        assert {s["module"] for s in spans if s.get("module")} == {"shout"}


def test_custom_module_is_reloaded_when_the_file_changes(tmp_path):
    path = write(tmp_path, "m.py", '''
        import dspy
        class M(dspy.Module):
            def forward(self, x):
                return dspy.Prediction(y="one")
    ''')
    spec = {"name": "c", "modules": [{"name": "m", "type": "custom", "source": str(path) + ":M",
                                      "signature": "x -> y"}]}
    assert execute(spec, {"x": 1})[0]["outputs"] == {"y": "one"}
    assert execute(spec, {"x": 1})[0]["outputs"] == {"y": "one"}
    text = path.read_text().replace('"one"', '"two"')
    path.write_text(text)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    assert execute(spec, {"x": 1})[0]["outputs"] == {"y": "two"}


def test_retrieve(tmp_path):
    spec = {"name": "r", "modules": [{"name": "search", "type": "retrieve", "signature": "question -> context: list[str]"}]}
    with pytest.raises(BadProgram) as err:
        builder.build_program(spec)
    assert err.value.detail == {"module": "search", "field": "source"}
    assert "retriever" in err.value.message
    write(tmp_path, "ret.py", '''
        def search(query, k=2):
            return [f"passage {i} about {query}" for i in range(k)]
    ''')
    spec["modules"][0]["source"] = "ret.py:search"
    spec["modules"][0]["config"] = {"k": 3}
    spec["modules"].append({"name": "answer", "type": "predict", "signature": "question, context: list[str] -> answer"})
    result, _ = execute(spec, {"question": "Where is Rome?"}, base_dir=str(tmp_path))
    assert result["outputs"]["context"] == [f"passage {i} about Where is Rome?" for i in range(3)]
    assert result["outputs"]["answer"] == "Rome"


@pytest.mark.parametrize("module, field, fragment", [
    ({"name": "a", "type": "predict", "signature": "question answer"}, "signature", "->"),
    ({"name": "a", "type": "predict", "signature": "q -> a: NotAType"}, "signature", "NotAType"),
    ({"name": "a", "type": "magic", "signature": "q -> a"}, "type", "unknown type"),
    ({"name": "a", "type": "custom", "source": "does/not/exist.py:M"}, "source", "cannot read"),
    ({"name": "a", "type": "custom"}, "source", "needs source"),
    ({"name": "a", "type": "predict", "signature": "q -> a", "fields": {"zzz": "x"}}, "fields.zzz", "no field"),
    ({"name": "forward", "type": "predict", "signature": "q -> a"}, "name", "reserved"),
    ({"name": "a", "type": "react", "signature": "q -> a", "config": {"tools": ["nope.py:f"]}}, "config.tools", "cannot read"),
])
def test_bad_program_names_the_module(module, field, fragment):
    with pytest.raises(BadProgram) as err:
        builder.build_program({"name": "p", "modules": [module]})
    assert err.value.detail.get("module") == module["name"]
    assert err.value.detail.get("field") == field
    assert fragment in err.value.message


def test_missing_attribute_and_import_error(tmp_path):
    write(tmp_path, "broken.py", "raise RuntimeError('boom at import')\n")
    write(tmp_path, "fine.py", "X = 1\n")
    with pytest.raises(UserCodeError) as err:
        builder.build_program({"name": "p", "modules": [{"name": "m", "type": "custom", "source": "broken.py:M"}]},
                              base_dir=str(tmp_path))
    assert "boom at import" in err.value.message and "traceback" in err.value.detail
    with pytest.raises(BadProgram) as err2:
        builder.build_program({"name": "p", "modules": [{"name": "m", "type": "custom", "source": "fine.py:M"}]},
                              base_dir=str(tmp_path))
    assert "no 'M'" in err2.value.message
    with pytest.raises(BadProgram):
        builder.build_program({"name": "p", "modules": [{"name": "m", "type": "custom", "source": "fine.py:X"}]},
                              base_dir=str(tmp_path))


def test_missing_input_is_bad_input():
    with pytest.raises(BadInput) as err:
        execute(FACTS, {"questio": "typo"})
    assert err.value.detail["field"] == "question"


def test_state_round_trip_with_dspy_dump_and_load():
    program = builder.build_program(FACTS)
    program.recall.demos = [dspy.Example(question="What is the capital of France?",
                                         facts=["Paris is the capital", "France is in Europe"]).with_inputs("question")]
    program.answer.predict.signature = program.answer.predict.signature.with_instructions("Answer in uppercase.")
    state = program.dump_state()
    assert set(state) == {"recall", "answer.predict"}
    # The state goes in through the protocol and changes the answers.
    result, _ = execute(FACTS, {"question": "What is the capital of France?"}, state=state)
    assert result["outputs"]["facts"] == ["Paris is the capital", "France is in Europe"]
    assert result["outputs"]["answer"] == "FRANCE"
    # And loads into plain DSPy.
    fresh = builder.build_program(FACTS)
    fresh.load_state(state)
    assert fresh.answer.predict.signature.instructions == "Answer in uppercase."
    with pytest.raises(BadInput):
        execute(FACTS, {"question": "q"}, state={"recall": state["recall"]})


def test_module_lm_override():
    spec = {"name": "p", "modules": [
        {"name": "a", "type": "predict", "signature": "question -> answer"},
        {"name": "b", "type": "predict", "signature": "answer -> echo"},
    ]}
    other = {"model": "signet/test", "cache": False, "adapter": "json", "price_in": 1.0, "price_out": 1.0}
    result, spans = execute(spec, {"question": "Where is Oslo?"}, module_lms={"b": other})
    adapters = {s["module"]: s["name"] for s in spans if s["kind"] == "adapter" and s["name"].endswith(".format")}
    assert adapters == {"a": "ChatAdapter.format", "b": "JSONAdapter.format"}
    lm_spans = {s["module"]: s for s in spans if s["kind"] == "lm" and "end" in s}
    assert "cost" not in lm_spans["a"] and lm_spans["b"]["cost"] > 0
    assert result["cost_unknown"] is True  # module a's LM reports no cost and has no prices
    with pytest.raises(BadInput):
        execute(spec, {"question": "x"}, module_lms={"zzz": other})


def test_validate_describes_modules():
    result = runner.validate({"program": FACTS})
    assert result["modules"] == [
        {"name": "recall", "type": "predict", "inputs": ["question"], "outputs": ["facts"]},
        {"name": "answer", "type": "chain_of_thought", "inputs": ["question", "facts"], "outputs": ["answer"]},
    ]
    assert result["inputs"] == ["question"]


def test_custom_module_without_signature_uses_forward_parameters(tmp_path):
    write(tmp_path, "free.py", '''
        import dspy

        class WithDefault(dspy.Module):
            def forward(self, question, hint="none"):
                return dspy.Prediction(seen=f"{question}|{hint}", extra=1)

        class TakesAll(dspy.Module):
            def forward(self, **record):
                return dspy.Prediction(keys=sorted(record))
    ''')
    spec = {"name": "p", "modules": [
        {"name": "first", "type": "custom", "source": "free.py:WithDefault"},
        {"name": "second", "type": "custom", "source": "free.py:TakesAll"},
    ]}
    described = runner.validate({"program": spec, "base_dir": str(tmp_path)})
    assert described["modules"][0]["inputs"] == ["question"] and described["modules"][0]["outputs"] == []
    assert described["inputs"] == ["question"]
    result, _ = execute(spec, {"question": "q", "hint": "h"}, base_dir=str(tmp_path))
    assert result["outputs"] == {"seen": "q|h", "extra": 1, "keys": ["extra", "hint", "question", "seen"]}


def test_dspy_disk_cache_is_bounded_and_in_the_given_dir(tmp_path):
    import dspy
    from signet_worker import runner

    runner.configure_dspy(str(tmp_path), 100, 12345678)
    cache = dspy.cache
    assert cache.disk_cache_dir == str(tmp_path)
    assert cache.disk_cache.directory == str(tmp_path)
    # FanoutCache spreads the limit over its shards.
    assert sum(shard.size_limit for shard in cache.disk_cache._shards) <= 12345678 + len(cache.disk_cache._shards)
