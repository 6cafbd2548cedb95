"""Typed inputs: every value converted to its field's declared type, as DSPy gets it from Python code."""

from __future__ import annotations

import base64
import enum
import json
import struct
import textwrap
import zlib
from pathlib import Path
from typing import Literal, Optional

import dspy
import pydantic
import pytest
from conftest import lm_profile

from signet_worker import builder, lms, optimize, runner, typed
from signet_worker.errors import BadInput


def png_bytes() -> bytes:
    """A valid 1x1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def data_uri() -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes()).decode()


def convert(value, annotation):
    return typed.convert(value, annotation, field="x", module="m")


def bad(value, annotation) -> BadInput:
    with pytest.raises(BadInput) as info:
        convert(value, annotation)
    err = info.value
    assert err.code == "bad_input"
    assert err.detail["field"] == "x" and err.detail["module"] == "m"
    assert err.detail["expected"] in err.message
    return err


class Inner(pydantic.BaseModel):
    name: str
    score: int


class Outer(pydantic.BaseModel):
    title: str
    inner: Inner
    tags: list[str] = []


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


# --- conversions ------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, annotation, want", [
    ("3", int, 3),
    (3, int, 3),
    ("2.5", float, 2.5),
    ("true", bool, True),
    ("false", bool, False),
    ("[1, 2]", list[int], [1, 2]),
    (["a", "b"], list[str], ["a", "b"]),
    ('{"a": 1}', dict[str, int], {"a": 1}),
    ([1, "b"], tuple[int, str], (1, "b")),
    ("a", Literal["a", "b"], "a"),
    ("null", Optional[str], "null"),  # the type takes the string as it is
    ("", Optional[int], None),  # an empty cell of an Optional field
    ("7", Optional[int], 7),
    ("3", int | str, "3"),
    ("red", Colour, Colour.RED),
    ("anything", str, "anything"),
    (["left", "alone"], str, ["left", "alone"]),  # DSPy formats whatever a str field gets
])
def test_json_values_and_strings_become_the_declared_type(value, annotation, want):
    got = convert(value, annotation)
    assert got == want and type(got) is type(want)


def test_nested_pydantic_model_from_json_text_and_from_an_object():
    text = '{"title": "t", "inner": {"name": "n", "score": "4"}, "tags": ["x"]}'
    for value in (text, json.loads(text)):
        got = convert(value, Outer)
        assert isinstance(got, Outer) and isinstance(got.inner, Inner)
        assert got.inner.score == 4 and got.tags == ["x"]


def test_nested_pydantic_model_error_names_the_inner_field():
    err = bad({"title": "t", "inner": {"name": "n", "score": "many"}}, Outer)
    assert "inner.score" in err.message and "must be Outer" in err.message


def test_literal_rejection():
    err = bad("maybe", Literal["yes", "no"])
    assert "must be Literal['yes', 'no']" in err.message and "'yes' or 'no'" in err.message
    assert "'maybe'" in err.message


def test_a_string_that_is_not_an_int():
    err = bad("three", int)
    assert "valid integer" in err.message


def test_bad_json_for_a_list():
    err = bad("[1, 2", list[str])
    assert "must be list[str]" in err.message and "not valid JSON" in err.message


def test_json_of_the_wrong_shape_reports_what_the_json_held():
    err = bad("[1, 2]", list[str])
    assert "valid string" in err.message  # the items, not "the string is not a list"


def test_enum_rejection():
    assert "'red' or 'green'" in bad("blue", Colour).message


# --- dspy.History ---------------------------------------------------------------------------------

TURNS = [{"question": "What is the capital of France?", "answer": "Lyon"},
         {"question": "And of Spain?", "answer": "Madrid"}]


@pytest.mark.parametrize("value", [TURNS, {"messages": TURNS}, json.dumps(TURNS), json.dumps({"messages": TURNS})])
def test_history_from_a_list_of_turns_or_messages(value):
    got = convert(value, dspy.History)
    assert isinstance(got, dspy.History) and got.messages == TURNS


@pytest.mark.parametrize("value, fragment", [
    (["not a turn"], "turn 0 is a string"),
    ("[{", "not valid JSON"),
    (42, "list of turns"),
    ({"messages": TURNS, "extra": 1}, "extra"),
])
def test_history_errors(value, fragment):
    assert fragment in bad(value, dspy.History).message


def test_history_conversation_reaches_dspy_as_history():
    # The test LM copies the answer of an earlier turn whose inputs equal the current ones (rule a):
    # "Lyon" can only come from the history, rendered by DSPy as a conversation.
    spec = {"name": "chat", "modules": [{"name": "reply", "type": "predict",
                                          "signature": "question, history: dspy.History -> answer"}]}
    result = runner.execute({"program": spec, "lm": lm_profile(),
                             "inputs": {"question": "What is the capital of France?", "history": TURNS}},
                            emit=None, cancel=None, lm_cache=lms.LMCache())
    assert result["outputs"] == {"answer": "Lyon"}
    fresh = runner.execute({"program": spec, "lm": lm_profile(),
                            "inputs": {"question": "What is the capital of France?", "history": []}},
                           emit=None, cancel=None, lm_cache=lms.LMCache())
    assert fresh["outputs"] == {"answer": "France"}


# --- dspy.Image -----------------------------------------------------------------------------------

def test_image_from_a_data_uri():
    got = convert(data_uri(), dspy.Image)
    assert isinstance(got, dspy.Image) and got.url == data_uri()


def test_image_from_a_path(tmp_path, monkeypatch):
    (tmp_path / "dot.png").write_bytes(png_bytes())
    got = convert(str(tmp_path / "dot.png"), dspy.Image)
    assert isinstance(got, dspy.Image) and got.url == data_uri()
    monkeypatch.chdir(tmp_path)  # relative: from the worker's working directory
    assert convert("dot.png", dspy.Image).url == data_uri()


@pytest.mark.parametrize("value", ["https://example.org/cat.png", {"url": "https://example.org/cat.png"},
                                   '{"url": "https://example.org/cat.png"}'])
def test_image_from_a_url_is_kept_as_a_url(value):
    got = convert(value, dspy.Image)
    assert isinstance(got, dspy.Image) and got.url == "https://example.org/cat.png"


def test_images_inside_a_list_and_an_optional(tmp_path):
    (tmp_path / "dot.png").write_bytes(png_bytes())
    got = convert([str(tmp_path / "dot.png"), "https://example.org/cat.png"], list[dspy.Image])
    assert [i.url for i in got] == [data_uri(), "https://example.org/cat.png"]
    assert convert(None, Optional[dspy.Image]) is None
    assert convert(data_uri(), Optional[dspy.Image]).url == data_uri()


@pytest.mark.parametrize("value, fragment", [
    ("/etc/passwd", "path of an image file"),  # only image files are read
    ("missing.png", "no image file"),
    ("data:image/png,raw", "base64"),
    ({"url": "https://example.org/a.png", "alt": "x"}, "exactly one key"),
    (7, "data URI"),
])
def test_image_errors(value, fragment):
    assert fragment in bad(value, dspy.Image).message


def test_image_errors_inside_a_list_name_the_item():
    assert "item 1" in bad(["https://example.org/a.png", "/etc/passwd"], list[dspy.Image]).message


def test_render_shows_an_image_given_as_a_path(tmp_path):
    (tmp_path / "dot.png").write_bytes(png_bytes())
    spec = {"name": "see", "modules": [{"name": "look", "type": "predict",
                                         "signature": "picture: dspy.Image, question -> answer"}]}
    out = runner.render({"program": spec, "inputs": {"picture": str(tmp_path / "dot.png"), "question": "Colour?"},
                         "lm": {"model": "", "adapter": "chat"}})
    user = out["modules"][0]["messages"][-1]["content"]
    assert data_uri() in user and str(tmp_path) not in user


# --- where the types come from --------------------------------------------------------------------

def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_types_of_a_custom_module_come_from_forward_annotations(tmp_path):
    write(tmp_path, "counting.py", '''
        import dspy

        class Count(dspy.Module):
            def forward(self, n: int, words: list[str], note="kept"):
                return dspy.Prediction(total=n + len(words), kinds=[type(n).__name__, type(note).__name__])

        class Loose(dspy.Module):
            def forward(self, n):
                return dspy.Prediction(kind=type(n).__name__)
    ''')
    spec = {"name": "c", "modules": [{"name": "count", "type": "custom", "source": "counting.py:Count"}]}
    result = runner.execute({"program": spec, "lm": lm_profile(), "base_dir": str(tmp_path),
                             "inputs": {"n": "3", "words": '["a", "b"]', "note": "7"}},
                            emit=None, cancel=None, lm_cache=lms.LMCache())
    assert result["outputs"] == {"total": 5, "kinds": ["int", "str"]}  # note: no annotation, left alone
    loose = {"name": "c", "modules": [{"name": "loose", "type": "custom", "source": "counting.py:Loose"}]}
    result = runner.execute({"program": loose, "lm": lm_profile(), "base_dir": str(tmp_path), "inputs": {"n": "3"}},
                            emit=None, cancel=None, lm_cache=lms.LMCache())
    assert result["outputs"] == {"kind": "str"}


def test_the_first_module_that_types_a_field_decides():
    spec = {"name": "p", "modules": [
        {"name": "first", "type": "predict", "signature": "n -> a"},
        {"name": "second", "type": "predict", "signature": "n: int -> b"},
        {"name": "third", "type": "predict", "signature": "n: float -> c"},
    ]}
    program = builder.build_program(spec)
    assert typed.input_types(program) == {"n": ("second", int)}
    assert builder.check_inputs(program, {"n": "4"}) == {"n": 4}
    with pytest.raises(BadInput) as info:
        builder.check_inputs(program, {"n": "four"})
    assert info.value.detail == {"field": "n", "module": "second", "expected": "int"}


def test_execute_reports_a_bad_input_through_the_protocol(worker):
    spec = {"name": "p", "modules": [{"name": "pick", "type": "predict",
                                       "signature": "question, mood: Literal['calm', 'angry'] -> answer"}]}
    final, _ = worker.call(1, "execute", {"program": spec, "lm": lm_profile(),
                                          "inputs": {"question": "Why?", "mood": "sleepy"}})
    err = final["error"]
    assert err["code"] == "bad_input" and not err["retryable"]
    assert err["detail"] == {"field": "mood", "module": "pick", "expected": "Literal['calm', 'angry']"}
    assert "'sleepy'" in err["message"]


def test_optimize_examples_are_converted_and_errors_name_the_example():
    spec = {"name": "p", "modules": [{"name": "add", "type": "predict", "signature": "a: int, b: list[int] -> total: int"}]}
    program = builder.build_program(spec)
    data = optimize._dataset([{"id": "e1", "inputs": {"a": "1", "b": "[2, 3]"}, "outputs": {"total": 6}}], "train",
                             program)
    example = data.examples[0]
    assert example.a == 1 and example.b == [2, 3] and set(example.inputs().keys()) == {"a", "b"}
    with pytest.raises(BadInput) as info:
        optimize._dataset([{"inputs": {"a": "1", "b": "[2, 3]"}}, {"inputs": {"a": "x", "b": "[]"}}], "train", program)
    assert info.value.detail["field"] == "train[1].inputs.a"
    assert "'train[1].inputs.a'" in info.value.message


# --- outputs: pydantic models and dicts come back as JSON -----------------------------------------

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_pydantic_and_dict_outputs_come_back_as_json():
    # examples/typed/places.py: a dspy.History input and a pydantic `Place` output in a class signature.
    spec = {"name": "p", "modules": [
        {"name": "describe", "type": "custom", "source": "places.py:Describe"},
        {"name": "count", "type": "predict", "signature": "question -> counts: dict[str, int]"},
    ]}
    paris = {"city": "Paris", "population": 2100000, "tags": ["capital", "river"]}
    history = [{"question": "Tell me about Paris.", "place": paris}]
    result = runner.execute({"program": spec, "lm": lm_profile(), "base_dir": str(EXAMPLES / "typed"),
                             "inputs": {"question": "Tell me about Paris.", "history": history}},
                            emit=None, cancel=None, lm_cache=lms.LMCache())
    outputs = json.loads(json.dumps(result["outputs"]))  # what travels in the result frame
    assert outputs["place"] == paris  # from the history turn, parsed by DSPy into Place, dumped as JSON
    assert outputs["counts"] == {"about": 0}
    fresh = runner.execute({"program": spec, "lm": lm_profile(), "base_dir": str(EXAMPLES / "typed"),
                            "inputs": {"question": "Tell me about Rome 3.", "history": []}},
                           emit=None, cancel=None, lm_cache=lms.LMCache())
    assert fresh["outputs"]["place"] == {"city": "3", "population": 3, "tags": ["about", "Rome"]}


def test_the_input_types_follow_a_changed_program() -> None:
    # The types are kept per built program: a cached build reuses them, a changed spec gets its own.
    from signet_worker import programs

    def spec(signature: str) -> dict:
        return {"name": "t", "modules": [{"name": "m", "type": "predict", "signature": signature}]}

    cache = programs.ProgramCache()
    for signature, given, want in (("n: int -> answer", "3", 3), ("n: list[int] -> answer", "[3]", [3]),
                                   ("n: int -> answer", "4", 4), ("n: list[int] -> answer", "[4]", [4])):
        with cache.checkout(spec(signature), None, None, None) as built:
            assert builder.check_inputs(built.program, {"n": given}) == {"n": want}
    assert cache.builds == 2
