"""The deterministic test LM, through DSPy's real adapters and parsers."""

from __future__ import annotations

from typing import Literal, Optional

import dspy
import pydantic
import pytest

from signet_worker import testlm


@pytest.fixture
def lm():
    return testlm.make_lm()


ADAPTERS = [dspy.ChatAdapter, dspy.JSONAdapter]


def run(lm, sig, adapter=dspy.ChatAdapter, demos=(), module=dspy.Predict, **inputs):
    pred = module(sig)
    target = pred.predict if isinstance(pred, dspy.ChainOfThought) else pred
    target.demos = list(demos)
    with dspy.context(lm=lm, adapter=adapter()):
        return pred(**inputs)


def test_is_a_real_dspy_lm(lm):
    assert isinstance(lm, dspy.BaseLM)
    assert lm.model == "signet/test"


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_str_is_last_capitalised_word(lm, adapter):
    assert run(lm, "question -> answer", adapter, question="What is the capital of France?").answer == "France"


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_str_number_and_fallback(lm, adapter):
    assert run(lm, "question -> answer", adapter, question="how much is 40 plus 2").answer == "2"
    assert run(lm, "question -> answer", adapter, question="all lower case words").answer == "words"


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_typed_outputs(lm, adapter):
    out = run(lm, "question -> facts: list[str], n: int, x: float, ok: bool", adapter,
              question="How tall was the Eiffel Tower in 1889?")
    assert out.facts == ["tall", "Eiffel"]
    assert out.n == 1889 and out.x == 1889.0 and out.ok is True
    out = run(lm, "question -> n: int", adapter, question="no digits here")
    assert out.n == 0


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_literal_from_input_instructions_overlap_first(lm, adapter):
    sig = "review -> sentiment: Literal['positive', 'negative', 'neutral']"
    assert run(lm, sig, adapter, review="A NEGATIVE experience overall.").sentiment == "negative"
    # Not in the input: from the instructions.
    with_instr = dspy.Signature(sig, "If unsure, say neutral.")
    assert run(lm, with_instr, adapter, review="It arrived on Tuesday.").sentiment == "neutral"
    # Nowhere: the first option.
    assert run(lm, sig, adapter, review="It arrived on Tuesday.").sentiment == "positive"
    # Word overlap.
    sig2 = "text -> label: Literal['red apple', 'green pear']"
    assert run(lm, sig2, adapter, text="a pear from the tree").label == "green pear"


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_instructions_change_the_answer(lm, adapter):
    q = {"question": "Who wrote Les Miserables, Victor Hugo?"}
    plain = run(lm, "question -> answer", adapter, **q).answer
    upper = run(lm, dspy.Signature("question -> answer", "Answer in uppercase."), adapter, **q).answer
    lower = run(lm, dspy.Signature("question -> answer", "Answer in lowercase."), adapter, **q).answer
    assert plain == "Hugo"
    assert upper == "HUGO"
    assert lower == "hugo"


def test_one_word_and_short(lm):
    demo_free = dspy.Signature("question -> answer", "Answer with a single word, in uppercase.")
    demos = [dspy.Example(question="Q1", answer="the big red dog").with_inputs("question")]
    # Demo answers are copied verbatim, not shaped.
    assert run(lm, demo_free, demos=demos, question="Q1").answer == "the big red dog"
    assert run(lm, demo_free, question="Is it Paris").answer == "PARIS"


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_demos_change_the_answer(lm, adapter):
    demos = [dspy.Example(question="What is the capital of France?", answer="Paris").with_inputs("question")]
    q = "What is the capital of France?"
    assert run(lm, "question -> answer", adapter, question=q).answer == "France"
    assert run(lm, "question -> answer", adapter, demos=demos, question=q).answer == "Paris"
    # A demo with other inputs is not copied.
    assert run(lm, "question -> answer", adapter, demos=demos, question="What is the capital of Spain?").answer == "Spain"


class Town(pydantic.BaseModel):
    name: str
    size: Literal["small", "large"]
    rivers: list[str]
    mayor: Optional["Person"] = None


class Person(pydantic.BaseModel):
    name: str
    age: int


Town.model_rebuild()


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_values_of_the_json_schema_the_prompt_states(lm, adapter):
    sig = dspy.Signature({"question": (str, dspy.InputField()), "town": (Town, dspy.OutputField()),
                          "counts": (dict[str, int], dspy.OutputField())})
    out = run(lm, sig, adapter, question="Is Lyon a large town with 2 rivers?")
    assert out.town == Town(name="2", size="large", rivers=["Lyon", "large"], mayor=Person(name="2", age=2))
    assert out.counts == {"lyon": 2}


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_history_turns_count_as_demos(lm, adapter):
    history = dspy.History(messages=[{"question": "What is the capital of France?", "answer": "Lyon"}])
    sig = "question, history: dspy.History -> answer"
    assert run(lm, sig, adapter, question="What is the capital of France?", history=history).answer == "Lyon"
    assert run(lm, sig, adapter, question="What is the capital of Spain?", history=history).answer == "Spain"


def test_chain_of_thought_reasoning(lm):
    out = run(lm, "question -> answer", module=dspy.ChainOfThought, question="What is the capital of France?")
    assert out.reasoning.startswith("Looking at What is the capital of France?")
    assert out.answer == "France"


def test_react_calls_a_tool_then_finishes(lm):
    calls = []

    def get_weather(city: str) -> str:
        """Get the current weather in a city."""
        calls.append(city)
        return f"Sunny in {city}"

    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    react = dspy.ReAct("question -> answer", tools=[add, get_weather], max_iters=5)
    with dspy.context(lm=lm):
        out = react(question="What is the weather in Paris?")
    assert calls == ["Paris"]
    assert out.trajectory["tool_name_0"] == "get_weather"
    assert out.trajectory["tool_name_1"] == "finish"
    assert out.answer == "Paris"


def test_usage_counts_words(lm):
    with dspy.context(lm=lm):
        dspy.Predict("question -> answer")(question="What is the capital of France?")
    entry = lm.history[-1]
    words = sum(len(m["content"].split()) for m in entry["messages"])
    assert entry["usage"]["prompt_tokens"] == words
    assert entry["usage"]["completion_tokens"] == len(entry["outputs"][0].split())
    assert entry["cost"] is None  # the test LM reports no cost


def test_sleep_and_fail_on():
    import time

    from dspy.utils.exceptions import LMServerError

    slow = testlm.make_lm(sleep_ms=150)
    t = time.monotonic()
    with dspy.context(lm=slow):
        dspy.Predict("q -> a")(q="x")
    assert time.monotonic() - t >= 0.15
    failing = testlm.make_lm(fail_on="BOOM")
    with dspy.context(lm=failing), pytest.raises(LMServerError):
        dspy.Predict("q -> a")(q="please BOOM")


def test_reply_is_deterministic():
    messages = [{"role": "system", "content": "Your input fields are:\n1. `q` (str):\nYour output fields are:\n"
                 "1. `a` (str):\nAll interactions will be structured in the following way.\n\n"
                 "In adhering to this structure, your objective is: \n        Answer."},
                {"role": "user", "content": "[[ ## q ## ]]\nWhere is Rome?\n\nRespond with the corresponding output "
                 "fields, starting with the field `[[ ## a ## ]]`, and then ending with the marker for "
                 "`[[ ## completed ## ]]`."}]
    assert testlm.reply(messages) == testlm.reply(messages) == "[[ ## a ## ]]\nRome\n\n[[ ## completed ## ]]"
