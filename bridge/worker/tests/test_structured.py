"""The `json_schema` adapter (schema from the signature, sent as response_format), keyless api_base, `free`."""

from __future__ import annotations

import json
from typing import Any, Literal, Optional

import dspy
import pydantic
import pytest
from conftest import FACTS, lm_profile

from signet_worker import lms, runner, structured
from signet_worker.errors import BadInput, to_error

SENTIMENT = {
    "name": "sentiment",
    "modules": [{"name": "classify", "type": "chain_of_thought",
                 "signature": "review -> sentiment: Literal['positive', 'negative', 'neutral']",
                 "instructions": "Decide whether the review is positive, negative or neutral."}],
}


def execute(program, inputs, lm, lm_cache=None):
    spans = []
    result = runner.execute({"program": program, "inputs": inputs, "lm": lm}, emit=spans.append, cancel=None,
                            lm_cache=lm_cache or lms.LMCache())
    return result, [s for s in spans if "end" in s]


def error_of(program, inputs, lm):
    try:
        execute(program, inputs, lm)
    except BaseException as exc:  # noqa: BLE001
        return to_error(exc)
    raise AssertionError("no error")


# --- the schema builder -------------------------------------------------------------------------------

def test_schema_plain_string():
    schema = structured.output_schema(dspy.Signature("question -> answer"))
    assert schema == {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"],
                      "additionalProperties": False}


def test_schema_chain_of_thought_literal():
    cot = dspy.ChainOfThought("review -> sentiment: Literal['positive', 'negative', 'neutral']")
    schema = structured.output_schema(cot.predict.signature)
    assert list(schema["properties"]) == ["reasoning", "sentiment"]  # reasoning first, as DSPy orders it
    assert schema["required"] == ["reasoning", "sentiment"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["reasoning"] == {"type": "string"}
    assert schema["properties"]["sentiment"] == {"type": "string", "enum": ["positive", "negative", "neutral"]}


def test_schema_list_and_scalars():
    sig = dspy.Signature("question, facts: list[str] -> facts_out: list[str], n: int, score: float, ok: bool")
    props = structured.output_schema(sig)["properties"]
    assert props["facts_out"] == {"type": "array", "items": {"type": "string"}}
    assert props["n"] == {"type": "integer"}
    assert props["score"] == {"type": "number"}
    assert props["ok"] == {"type": "boolean"}
    assert "question" not in props and "facts" not in props  # inputs are not part of the reply


class Person(pydantic.BaseModel):
    name: str = pydantic.Field(description="full name")
    age: int = 0


def test_schema_nested_models_optional_and_open_dict():
    sig = dspy.Signature({"people": (list[Person], dspy.OutputField()), "note": (Optional[str], dspy.OutputField()),
                          "extra": (dict[str, Any], dspy.OutputField()), "q": (str, dspy.InputField())})
    schema = structured.output_schema(sig)
    assert schema["required"] == ["people", "note", "extra"]
    assert schema["properties"]["people"] == {"type": "array", "items": {"$ref": "#/$defs/Person"}}
    person = schema["$defs"]["Person"]
    assert person["required"] == ["name", "age"] and person["additionalProperties"] is False
    assert person["properties"] == {"name": {"type": "string"}, "age": {"type": "integer"}}  # no titles/defaults
    assert schema["properties"]["note"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert schema["properties"]["extra"] == {"type": "object", "additionalProperties": True}  # left open
    json.dumps(schema)


def test_schema_field_named_like_keywords():
    sig = dspy.Signature("q -> title, description, properties: list[str]")
    schema = structured.output_schema(sig)
    assert list(schema["properties"]) == ["title", "description", "properties"]
    assert schema["properties"]["properties"] == {"type": "array", "items": {"type": "string"}}


def test_schema_becomes_a_llama_cpp_grammar():
    grammar = pytest.importorskip("llama_cpp.llama_grammar")  # the local-LM extra; pure Python converter
    for sig in (dspy.ChainOfThought("review -> sentiment: Literal['positive', 'negative', 'neutral']").predict.signature,
                dspy.Signature("question -> facts: list[str]"),
                dspy.Signature({"people": (list[Person], dspy.OutputField()), "q": (str, dspy.InputField())})):
        gbnf = grammar.json_schema_to_gbnf(json.dumps(structured.output_schema(sig)))
        assert "root ::=" in gbnf
    gbnf = grammar.json_schema_to_gbnf(json.dumps(structured.output_schema(
        dspy.Signature("review -> sentiment: Literal['positive', 'negative', 'neutral']"))))
    assert '"\\"positive\\""' in gbnf  # the enum is in the grammar


def test_response_format_shapes():
    sig = dspy.Signature("question -> answer")
    schema = structured.output_schema(sig)
    assert structured.response_format(sig, dspy.LM("openai/x")) == {"type": "json_object", "schema": schema}
    test_lm = lms.build_lm(lms.parse_profile(lm_profile()))
    assert structured.response_format(sig, test_lm) == {
        "type": "json_schema", "json_schema": {"name": "outputs", "schema": schema}}


def test_dspy_still_has_the_hook():
    # JSONSchemaAdapter overrides this (private) JSONAdapter method; a DSPy upgrade that moves it must fail here.
    assert "_prepare_response_format" in vars(dspy.JSONAdapter)
    assert structured.JSONSchemaAdapter.parse is dspy.JSONAdapter.parse


# --- profiles -----------------------------------------------------------------------------------------

def test_profile_adapter_and_free():
    p = lms.parse_profile({"model": "openai/x", "api_base": "http://127.0.0.1:1/v1", "adapter": "json_schema",
                           "free": True})
    assert p.adapter == "json_schema" and p.free and p.priced and p.price(1000, 1000) == 0.0
    assert isinstance(lms.make_adapter(p), structured.JSONSchemaAdapter)
    assert p.engine() == "litellm"
    assert lms.parse_profile({"model": "openai/x", "adapter": "json"}).engine() is None
    assert lms.parse_profile({"model": "signet/test", "adapter": "json_schema"}).engine() is None
    own = lms.parse_profile({"model": "openai/x", "adapter": "json_schema", "kwargs": {"engine": "auto"}})
    assert own.engine() is None
    assert p.key() != lms.parse_profile({"model": "openai/x", "api_base": "http://127.0.0.1:1/v1"}).key()
    assert not lms.parse_profile({"model": "openai/x", "free": None}).free
    with pytest.raises(BadInput) as e:
        lms.parse_profile({"model": "openai/x", "adapter": "xml"})
    assert "json_schema" in e.value.message and e.value.detail["field"] == "lm.adapter"
    with pytest.raises(BadInput) as e:
        lms.parse_profile({"model": "openai/x", "free": "yes"})
    assert e.value.detail["field"] == "lm.free"
    with pytest.raises(BadInput) as e:
        lms.parse_profile({"model": "openai/x", "free": True, "price_in": 0.1})
    assert e.value.detail["field"] == "lm.free"
    assert lms.parse_profile({"model": "openai/x", "free": True, "price_in": 0}).free  # zero prices agree


# --- through the runner, with the test LM -----------------------------------------------------------

def test_json_schema_with_the_test_lm():
    lm = dict(lm_profile(), adapter="json_schema")
    result, spans = execute(SENTIMENT, {"review": "A negative experience, it broke at once."}, lm)
    assert result["outputs"]["sentiment"] == "negative" and result["outputs"]["reasoning"]
    adapter_spans = [s["name"] for s in sorted(spans, key=lambda s: s["start"]) if s["kind"] == "adapter"]
    assert adapter_spans.count("JSONSchemaAdapter.parse") == 1  # one span per parse, as for JSONAdapter
    assert set(adapter_spans) == {"JSONSchemaAdapter.format", "JSONSchemaAdapter.parse"}
    (lm_span,) = [s for s in spans if s["kind"] == "lm"]
    fmt = lm_span["inputs"]["response_format"]  # the call's LM kwargs are in the trace
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["schema"]["properties"]["sentiment"]["enum"] == ["positive", "negative", "neutral"]
    assert "Outputs will be a JSON object" in lm_span["messages"][0]["content"]  # JSONAdapter's prompt


def test_json_schema_two_modules_and_module_override():
    lm = dict(lm_profile(), adapter="json_schema")
    result, spans = execute(FACTS, {"question": "What is the capital of France?"}, lm)
    assert isinstance(result["outputs"]["facts"], list) and result["outputs"]["answer"]
    schemas = [s["inputs"]["response_format"]["json_schema"]["schema"] for s in spans if s["kind"] == "lm"]
    assert sorted(list(s["properties"]) for s in schemas) == [["facts"], ["reasoning", "answer"]]
    # only one module on json_schema: the other keeps ChatAdapter and sends no response_format
    cache = lms.LMCache()
    spans = []
    runner.execute({"program": FACTS, "inputs": {"question": "q?"}, "lm": lm_profile(),
                    "module_lms": {"answer": dict(lm_profile(), adapter="json_schema")}},
                   emit=spans.append, cancel=None, lm_cache=cache)
    by_module = {s["module"]: s for s in spans if s["kind"] == "lm" and "end" in s}
    assert "response_format" not in (by_module["recall"].get("inputs") or {})
    assert by_module["answer"]["inputs"]["response_format"]["type"] == "json_schema"


def test_render_json_schema_is_jsonadapter_prompt():
    params = {"program": SENTIMENT, "inputs": {"review": "fine"}}
    json_msgs = runner.render(dict(params, lm={"model": "", "adapter": "json"}))
    schema_msgs = runner.render(dict(params, lm={"model": "", "adapter": "json_schema"}))
    assert json_msgs == schema_msgs


def test_free_costs_zero_with_the_test_lm():
    result, spans = execute(FACTS, {"question": "What is the capital of France?"}, dict(lm_profile(), free=True))
    assert result["cost"] == 0 and result["cost_unknown"] is False
    assert result["usage"]["signet/test"]["calls"] == 2  # still counted
    assert all("cost" not in s for s in spans if s["kind"] == "lm")
    unpriced, _ = execute(FACTS, {"question": "What is the capital of France?"}, lm_profile())
    assert unpriced["cost_unknown"] is True  # without free the test LM's cost is unknown


# --- on the wire: a fake OpenAI-compatible server -------------------------------------------------------

def local_lm(fake, adapter="json_schema", **extra):
    lm = {"model": "openai/smollm2", "api_base": fake.api_base, "cache": False, "adapter": adapter,
          "temperature": 0.0, "max_tokens": 64, "free": True, "kwargs": {"num_retries": 0, "timeout": 5}}
    lm.update(extra)
    return lm


def test_json_schema_on_the_wire(fake_openai, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-ambient-must-not-leak")
    fake_openai.reply = json.dumps({"reasoning": "It praises the product.", "sentiment": "positive"})
    result, spans = execute(SENTIMENT, {"review": "Great!"}, local_lm(fake_openai))
    assert result["outputs"] == {"reasoning": "It praises the product.", "sentiment": "positive"}
    assert result["cost"] == 0 and result["cost_unknown"] is False  # free, though no price is known for it
    (body,) = fake_openai.bodies
    cot = dspy.ChainOfThought("review -> sentiment: Literal['positive', 'negative', 'neutral']")
    assert body["response_format"] == {"type": "json_object",
                                       "schema": structured.output_schema(cot.predict.signature)}
    assert body["response_format"]["schema"]["properties"]["sentiment"]["enum"] == ["positive", "negative", "neutral"]
    assert body["max_tokens"] == 64 and body["temperature"] == 0  # the name llama.cpp's servers read
    assert body["model"] == "smollm2"
    assert "authorization" not in fake_openai.headers[0]  # no api_key_env: no key at all, never the ambient one


def test_json_schema_unparseable_reply_is_lm_output(fake_openai):
    fake_openai.reply = '{"reasoning": "hm", "sentiment": "delighted"}'  # not one of the Literal's values
    err = error_of(SENTIMENT, {"review": "Great!"}, local_lm(fake_openai))
    assert err["code"] == "lm_output", err
    assert fake_openai.requests == 1  # JSONAdapter has no fallback: a failure is a failure
    fake_openai.reply = "not json at all"
    assert error_of(SENTIMENT, {"review": "Great!"}, local_lm(fake_openai))["code"] == "lm_output"


def test_keyless_api_base_with_the_chat_adapter(fake_openai, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-ambient-must-not-leak")
    qa = {"name": "qa", "modules": [{"name": "answer", "type": "predict", "signature": "question -> answer"}]}
    result, _ = execute(qa, {"question": "q"}, local_lm(fake_openai, adapter="chat"))
    assert result["outputs"] == {"answer": "Paris"}
    assert "response_format" not in fake_openai.bodies[0]
    assert "authorization" not in fake_openai.headers[0]


def test_named_key_still_wins(fake_openai, monkeypatch):
    monkeypatch.setenv("SIGNET_LOCAL_KEY", "sk-local")
    fake_openai.reply = '{"answer": "Paris"}'
    qa = {"name": "qa", "modules": [{"name": "answer", "type": "predict", "signature": "question -> answer"}]}
    execute(qa, {"question": "q"}, local_lm(fake_openai, api_key_env="SIGNET_LOCAL_KEY"))
    assert fake_openai.headers[0].get("authorization") == "Bearer sk-local"


def test_literal_type_stays_literal():
    # the sentiment demo's annotation survives the signature parser as a real Literal (the enum comes from it)
    sig = dspy.Signature("review -> sentiment: Literal['positive', 'negative', 'neutral']")
    assert sig.output_fields["sentiment"].annotation == Literal["positive", "negative", "neutral"]
