"""render: exactly the messages DSPy sends, without calling the LM."""

from __future__ import annotations

import textwrap

import pytest
from conftest import FACTS, lm_profile

from signet_worker import lms, runner
from signet_worker.errors import BadInput


def lm_messages(program, inputs, lm, **params):
    spans = []
    runner.execute({"program": program, "inputs": inputs, "lm": lm, **params}, emit=spans.append, cancel=None,
                   lm_cache=lms.LMCache())
    return [s for s in spans if s["kind"] == "lm" and "end" in s]


@pytest.mark.parametrize("adapter", ["chat", "json"])
def test_render_matches_what_the_lm_receives(adapter):
    spec = {"name": "facts", "modules": [
        dict(FACTS["modules"][0], demos=[{"question": "Where is Rome?", "facts": ["Rome is in Italy"]}]),
        FACTS["modules"][1],
    ]}
    lm = dict(lm_profile(), adapter=adapter)
    inputs = {"question": "What is the capital of France?"}
    sent = lm_messages(spec, inputs, lm)
    rendered = runner.render({"program": spec, "inputs": inputs, "lm": lm})["modules"]
    assert rendered[0]["module"] == "recall" and rendered[0]["placeholders"] == []
    assert rendered[0]["messages"] == sent[0]["messages"]
    assert len(rendered[0]["messages"]) == 4  # system, demo user, demo assistant, user
    # The second module's input comes from the first: it renders with a placeholder for it.
    assert rendered[1]["module"] == "answer" and rendered[1]["predictor"] == "predict"
    assert rendered[1]["placeholders"] == ["facts"] and "{facts}" in rendered[1]["messages"][-1]["content"]
    # Given the first module's output, the second renders too, with ChainOfThought's reasoning field.
    full = dict(inputs, facts=["capital", "France"])
    second = runner.render({"program": spec, "inputs": full, "lm": lm, "module": "answer"})["modules"]
    assert [m["module"] for m in second] == ["answer"]
    assert second[0]["messages"] == sent[1]["messages"]
    assert "reasoning" in second[0]["messages"][0]["content"]


def test_render_needs_no_key_and_no_lm(monkeypatch):
    monkeypatch.delenv("SIGNET_UNSET_KEY", raising=False)
    lm = {"model": "openai/gpt-4o-mini", "api_key_env": "SIGNET_UNSET_KEY"}
    out = runner.render({"program": FACTS, "inputs": {"question": "q"}, "lm": lm})
    assert out["modules"][0]["messages"][0]["role"] == "system"
    out = runner.render({"program": FACTS, "inputs": {"question": "q"}})
    assert out["modules"][0]["messages"]


def test_render_react_first_step(tmp_path):
    (tmp_path / "tools.py").write_text(textwrap.dedent('''
        def lookup(term: str) -> str:
            """Look a term up."""
            return term
    '''))
    spec = {"name": "a", "modules": [{"name": "agent", "type": "react", "signature": "question -> answer",
                                      "config": {"tools": ["tools.py:lookup"], "max_iters": 2}}]}
    inputs = {"question": "What is DSPy?"}
    sent = lm_messages(spec, inputs, lm_profile(), base_dir=str(tmp_path))
    out = runner.render({"program": spec, "inputs": inputs, "lm": lm_profile(), "base_dir": str(tmp_path)})
    assert out["modules"][0]["messages"] == sent[0]["messages"]


def test_render_unknown_module_and_state():
    with pytest.raises(BadInput):
        runner.render({"program": FACTS, "inputs": {}, "module": "nope"})
    from signet_worker import builder

    program = builder.build_program(FACTS)
    program.recall.signature = program.recall.signature.with_instructions("Optimized instructions.")
    out = runner.render({"program": FACTS, "inputs": {"question": "q"}, "state": program.dump_state()})
    assert "Optimized instructions." in out["modules"][0]["messages"][0]["content"]
