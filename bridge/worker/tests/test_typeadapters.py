"""One TypeAdapter per type for DSPy's adapters: the same prompts and parses, built once."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import dspy
import pydantic
import pytest

from signet_worker import typeadapters


class Place(pydantic.BaseModel):
    city: str
    population: int | None = None


class Note:
    def __str__(self) -> str:
        return "a note"


class Survey(dspy.Signature):
    """Answer about the place."""

    question: str = dspy.InputField()
    place: Place = dspy.InputField()
    tags: list[str] = dspy.InputField()
    extra: dict = dspy.InputField()
    note: Optional[str] = dspy.InputField()
    answer: str = dspy.OutputField()
    score: float = dspy.OutputField()
    kind: Literal["city", "town"] = dspy.OutputField()
    facts: list[str] = dspy.OutputField()
    where: Place = dspy.OutputField()


INPUTS = {"question": "Where?", "place": Place(city="Lyon", population=500000), "tags": ["a", "b"],
          "extra": {"k": [1, 2.5, None], "n": Note()}, "note": None}
DEMOS = [dspy.Example(question="Which?", place=Place(city="Nice"), tags=[], extra={}, note="x", answer="Nice",
                      score=0.5, kind="city", facts=["sea"], where=Place(city="Nice", population=3))]
COMPLETIONS = {
    "chat": "[[ ## answer ## ]]\nLyon\n\n[[ ## score ## ]]\n0.9\n\n[[ ## kind ## ]]\ncity\n\n[[ ## facts ## ]]\n"
            "[\"food\", \"silk\"]\n\n[[ ## where ## ]]\n{\"city\": \"Lyon\", \"population\": 500000}\n\n"
            "[[ ## completed ## ]]",
    "json": '{"answer": "Lyon", "score": 0.9, "kind": "city", "facts": ["food", "silk"], '
            '"where": {"city": "Lyon", "population": 500000}}',
}
ADAPTERS = {"chat": dspy.ChatAdapter, "json": dspy.JSONAdapter}


@pytest.fixture
def memo():
    was = typeadapters.installed()
    typeadapters.install()
    yield
    if not was:
        typeadapters.uninstall()


def rendered(name: str) -> tuple[list[dict], dict]:
    adapter = ADAPTERS[name]()
    return adapter.format(Survey, DEMOS, INPUTS), adapter.parse(Survey, COMPLETIONS[name])


@pytest.mark.parametrize("name", ["chat", "json"])
def test_prompts_and_parses_are_dspy_s(name: str) -> None:
    typeadapters.uninstall()
    try:
        want = rendered(name)
    finally:
        typeadapters.install()
    assert rendered(name) == want
    assert rendered(name) == want  # and from the adapters it kept


def test_a_type_s_adapter_is_built_once(memo, monkeypatch) -> None:
    built: list[object] = []

    def counting(kind, *args, **kwargs):
        built.append(kind)
        return pydantic.TypeAdapter(kind, *args, **kwargs)

    monkeypatch.setattr(typeadapters, "_ORIGINAL", counting)
    monkeypatch.setattr(typeadapters, "_adapters", {})
    rendered("chat")
    first = len(built)
    assert first > 0, "formatting and parsing built no TypeAdapter: the memo is not what DSPy calls"
    rendered("chat")
    assert len(built) == first, f"the second call built {built[first:]}"


def test_what_the_memo_cannot_key_is_built_as_dspy_builds_it(memo, monkeypatch) -> None:
    monkeypatch.setattr(typeadapters, "_adapters", {})
    unhashable = Annotated[int, ["metadata in a list"]]
    with pytest.raises(TypeError):
        hash(unhashable)
    assert typeadapters.type_adapter(unhashable).validate_python("7") == 7
    assert typeadapters._adapters == {}
    with_config = typeadapters.type_adapter(dict, config=None)
    assert with_config is not typeadapters.type_adapter(dict, config=None)


def test_the_memo_is_bounded(memo, monkeypatch) -> None:
    monkeypatch.setattr(typeadapters, "_adapters", {})
    monkeypatch.setattr(typeadapters, "MAX_TYPES", 3)
    for kind in (int, str, float, bytes, bool):
        typeadapters.type_adapter(kind)
    assert len(typeadapters._adapters) <= 3
