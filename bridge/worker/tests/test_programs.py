"""The cache of built programs: reused builds, nothing carried between requests, bounded."""

from __future__ import annotations

import json
import os
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import FACTS, THREE, lm_profile

from signet_worker import builder, lms, programs, runner
from signet_worker.errors import BadInput, to_error

QUESTION = {"question": "What is the capital of France?"}


def execute(cache: programs.ProgramCache, program: dict, inputs: dict, **params: Any) -> dict:
    return runner.execute({"program": program, "inputs": inputs, "lm": lm_profile(), **params},
                          emit=None, cancel=None, lm_cache=lms.LMCache(), cache=cache)


def state_with_demo(program: dict, predictor: str, demo: dict) -> dict:
    """The program's DSPy state (dump_state form) with one demo on `predictor`."""
    state = builder.build_program(program).dump_state()
    state[predictor]["demos"] = [demo]
    return state


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def fixed_module(tmp_path: Path) -> tuple[Path, dict]:
    """A user file with a custom module answering "one", and a program of it."""
    path = write(tmp_path, "answer.py", """
        import dspy

        class Fixed(dspy.Module):
            def forward(self, question):
                return dspy.Prediction(answer="one")
    """)
    return path, {"name": "f", "modules": [{"name": "fixed", "type": "custom", "source": "answer.py:Fixed",
                                            "signature": "question -> answer"}]}


def test_a_second_execute_reuses_the_build() -> None:
    cache = programs.ProgramCache()
    first = execute(cache, THREE, QUESTION)
    second = execute(cache, THREE, QUESTION)
    assert cache.builds == 1
    assert second["outputs"] == first["outputs"]
    assert second["usage"] == first["usage"]


def test_state_then_no_state_is_what_a_fresh_worker_gives() -> None:
    fresh = execute(programs.ProgramCache(), FACTS, QUESTION)
    cache = programs.ProgramCache()
    state = state_with_demo(FACTS, "answer.predict",
                            {**QUESTION, "facts": ["capital", "France"], "reasoning": "r", "answer": "Paris"})
    with_state = execute(cache, FACTS, QUESTION, state=state)
    assert with_state["outputs"]["answer"] == "Paris"
    after = execute(cache, FACTS, QUESTION)
    assert after["outputs"] == fresh["outputs"]
    assert after["outputs"]["answer"] == "France"
    # The same state again reuses its build and still answers from it.
    assert execute(cache, FACTS, QUESTION, state=state)["outputs"]["answer"] == "Paris"
    assert cache.builds == 2


def test_a_per_module_lm_does_not_stay_on_the_cached_program() -> None:
    cache = programs.ProgramCache()
    fresh = execute(programs.ProgramCache(), FACTS, QUESTION)
    upper = execute(cache, FACTS, QUESTION, module_lms={"answer": {**lm_profile(), "adapter": "json"}},
                    trace=True)
    assert upper["outputs"]["answer"] == "France"
    with cache.checkout(FACTS, None, None, None) as built:
        assert built.program._signet_overrides == {}
    again = execute(cache, FACTS, QUESTION)
    assert {k: v for k, v in again.items() if k != "duration_ms"} == \
        {k: v for k, v in fresh.items() if k != "duration_ms"}
    assert cache.builds == 1


def test_what_a_module_sets_on_itself_is_undone(tmp_path: Path) -> None:
    write(tmp_path, "counter.py", """
        import dspy

        class Counter(dspy.Module):
            def __init__(self):
                super().__init__()
                self.calls = 0
                self.seen = []

            def forward(self, question):
                self.calls += 1
                self.seen.append(question)
                return dspy.Prediction(calls=self.calls, seen=len(self.seen))
    """)
    program = {"name": "c", "modules": [{"name": "count", "type": "custom", "source": "counter.py:Counter",
                                         "signature": "question -> calls: int, seen: int"}]}
    cache = programs.ProgramCache()
    outs = [execute(cache, program, QUESTION, base_dir=str(tmp_path))["outputs"] for _ in range(3)]
    assert outs == [{"calls": 1, "seen": 1}] * 3
    assert cache.builds == 1


GATE = """
    import threading
    import dspy

    BARRIER = threading.Barrier(2, timeout=60)

    class Gate(dspy.Module):
        def __init__(self):
            super().__init__()
            self.predict = dspy.Predict("question -> answer")

        def forward(self, question):
            BARRIER.wait()  # both requests are inside the program at once
            return self.predict(question=question)
"""


def gate_program(tmp_path: Path) -> dict:
    write(tmp_path, "gate.py", GATE)
    return {"name": "g", "modules": [{"name": "gate", "type": "custom", "source": "gate.py:Gate"}]}


def test_two_concurrent_requests_with_different_states(tmp_path: Path) -> None:
    program = gate_program(tmp_path)
    base = builder.build_program(program, str(tmp_path))
    states = []
    for answer in ("Lyon", "Nice"):
        state = base.dump_state()
        state["gate.predict"]["demos"] = [{**QUESTION, "answer": answer}]
        states.append(state)
    cache = programs.ProgramCache()
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(execute, cache, program, QUESTION, base_dir=str(tmp_path), state=s) for s in states]
        answers = [f.result(timeout=120)["outputs"]["answer"] for f in futures]
    assert answers == ["Lyon", "Nice"]


def test_two_concurrent_requests_on_one_key_get_two_instances(tmp_path: Path) -> None:
    program = gate_program(tmp_path)
    cache = programs.ProgramCache()
    with ThreadPoolExecutor(2) as pool:
        # One request alone first would wait at the barrier forever: the pair warms the cache.
        warm = [pool.submit(execute, cache, program, QUESTION, base_dir=str(tmp_path)) for _ in range(2)]
        assert [f.result(timeout=120)["outputs"]["answer"] for f in warm] == ["France", "France"]
        assert cache.builds == 2  # the second could not take the first's instance while it ran
        again = [pool.submit(execute, cache, program, QUESTION, base_dir=str(tmp_path)) for _ in range(2)]
        assert [f.result(timeout=120)["outputs"]["answer"] for f in again] == ["France", "France"]
    assert cache.builds == 2  # both instances were kept and reused


def test_a_changed_program_or_user_file_rebuilds(tmp_path: Path) -> None:
    cache = programs.ProgramCache()
    execute(cache, FACTS, QUESTION)
    changed = {**FACTS, "modules": [FACTS["modules"][0], {**FACTS["modules"][1],
                                                          "instructions": "Answer in uppercase."}]}
    assert execute(cache, changed, QUESTION)["outputs"]["answer"] == "FRANCE"
    assert cache.builds == 2

    path, program = fixed_module(tmp_path)
    assert execute(cache, program, QUESTION, base_dir=str(tmp_path))["outputs"]["answer"] == "one"
    path.write_text(path.read_text().replace('"one"', '"two"'))
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert execute(cache, program, QUESTION, base_dir=str(tmp_path))["outputs"]["answer"] == "two"
    assert cache.builds == 4


def test_the_cache_is_bounded() -> None:
    cache = programs.ProgramCache(max_programs=2)
    variants = [{**FACTS, "name": f"v{i}"} for i in range(3)]
    for v in variants:
        execute(cache, v, QUESTION)
    assert len(cache) == 2
    execute(cache, variants[2], QUESTION)  # the newest is kept
    assert cache.builds == 3
    execute(cache, variants[0], QUESTION)  # the oldest was dropped
    assert cache.builds == 4


def test_a_failed_build_caches_nothing() -> None:
    cache = programs.ProgramCache()
    bad = {"name": "bad", "modules": [{"name": "x", "type": "predict", "signature": "question ->"}]}
    for _ in range(2):
        try:
            execute(cache, bad, QUESTION)
        except Exception as exc:  # noqa: BLE001
            assert "no output field" in str(exc) or "signature" in str(exc)
        else:
            raise AssertionError("a signature without outputs must fail")
    assert len(cache) == 0 and cache.builds == 0


PROBE = """
    import json
    import dspy

    class Probe(dspy.Module):
        def __init__(self):
            super().__init__()
            self.predict = dspy.Predict("question -> answer")

        def forward(self, question):
            lm = dspy.settings.lm
            seen = {"lm": id(lm), "history": len(lm.history), "kwargs": sorted(lm.kwargs),
                    "callbacks": len(lm.callbacks), "marker": getattr(lm, "marker", None)}
            out = self.predict(question=question)
            # What a request may leave on its LM: none of it may reach the next request.
            lm.kwargs["left_by_a_request"] = True
            lm.callbacks.append(object())
            lm.marker = "left by a request"
            return dspy.Prediction(answer=out.answer, seen=json.dumps(seen))
"""


def test_nothing_of_a_request_s_lm_reaches_the_next(tmp_path: Path) -> None:
    # The worker reuses a request's LM for a later request of the same profile (LMCache.lease): it
    # must come back with DSPy's fresh copy's history, callbacks and kwargs, and nothing else.
    write(tmp_path, "probe.py", PROBE)
    program = {"name": "p", "modules": [{"name": "probe", "type": "custom", "source": "probe.py:Probe",
                                         "signature": "question -> answer, seen"}]}
    cache, lm_cache = programs.ProgramCache(), lms.LMCache()
    seen = []
    for _ in range(3):
        result = runner.execute({"program": program, "inputs": QUESTION, "lm": lm_profile(), "base_dir": str(tmp_path)},
                                emit=None, cancel=None, lm_cache=lm_cache, cache=cache)
        assert result["usage"]["signet/test"]["prompt_tokens"] > 0
        seen.append(json.loads(result["outputs"]["seen"]))
    fresh = {"history": 0, "kwargs": sorted(lm_cache.bases()[0].kwargs), "callbacks": 0, "marker": None}
    assert [{k: v for k, v in s.items() if k != "lm"} for s in seen] == [fresh] * 3
    assert seen[0]["lm"] == seen[1]["lm"] == seen[2]["lm"]  # one LM, reused: the path above is the lease's


def test_a_leased_lm_written_after_its_release_comes_back_fresh() -> None:
    # A thread a request left running (user code) may still use its LM after the request has ended.
    cache = lms.LMCache()
    profile = lms.parse_profile(lm_profile())
    lease = cache.lease(profile)
    lm = lease.lm
    lease.release()
    lm.history.append({"stray": True})
    lm.kwargs["stray"] = 1
    again = cache.lease(profile)
    assert again.lm is lm
    assert again.lm.history == [] and "stray" not in again.lm.kwargs
    again.release()


def sent_key(program: dict, state: Any = None) -> str:
    """What Go sends as program_key: the SHA-256 of the program's JSON, a NUL, and the state's (bridge/api.go)."""
    import hashlib

    text = json.dumps(program).encode() + b"\0" + (json.dumps(state).encode() if state is not None else b"")
    return hashlib.sha256(text).hexdigest()


def test_a_sent_program_key_stands_for_program_and_state(tmp_path: Path) -> None:
    cache = programs.ProgramCache()
    path, program = fixed_module(tmp_path)

    def run(program: dict, key: str) -> str:
        return execute(cache, program, QUESTION, base_dir=str(tmp_path), program_key=key)["outputs"]["answer"]

    key = sent_key(program)
    assert run(program, key) == "one" and run(program, key) == "one"
    assert cache.builds == 1
    # An edited user file still builds anew: the worker adds what it reads from disk to the sent key.
    path.write_text(path.read_text().replace('"one"', '"two"'))
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert run(program, key) == "two"
    assert cache.builds == 2
    # A changed program comes with its own key and builds anew.
    changed = {**program, "modules": [{**program["modules"][0], "source": "answer.py:Other"}]}
    path.write_text(path.read_text() + "\nclass Other(dspy.Module):\n    def forward(self, question):\n"
                    "        return dspy.Prediction(answer='other')\n")
    assert run(changed, sent_key(changed)) == "other"
    # A sent key and a digest the worker makes itself never name one build.
    assert programs.key_of(program, None, None, None, key) != programs.key_of(program, None, None, None)


def test_a_malformed_program_key_is_bad_input() -> None:
    for bad in ("abc", 7, "G" * 64, "A" * 64):
        with pytest.raises(BadInput, match="program_key") as info:
            execute(programs.ProgramCache(), THREE, QUESTION, program_key=bad)
        assert to_error(info.value)["detail"]["field"] == "program_key"
