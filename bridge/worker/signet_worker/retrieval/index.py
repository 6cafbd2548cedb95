"""The `index` method (docs/protocol.md, "index"): build an index directory; load one by dir.

A directory holds `bm25/` (bm25s's save), `embeddings/` (DSPy's `Embeddings.save()`: the owner's
exports and plain DSPy load it with `Embeddings.from_saved`), `ids.json` and, written last,
`index.json`. Directories are content-addressed (the owner names them by a hash of the passages and
the settings), so a loaded index is never stale: loaded ones are kept in a small LRU keyed by dir.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import dspy
import numpy as np

from ..errors import BadInput, Cancelled
from . import cache as cache_mod
from . import embedders
from .bm25 import BM25

FORMAT = 1
RETRIEVERS = ("bm25", "embeddings", "hybrid")
# DSPy's Embeddings searches by brute force below this many passages and builds a faiss index above.
FAISS_THRESHOLD = 20_000
EMBED_BATCH = 256
PROGRESS_EVERY = 0.2  # seconds between progress events (the last one is always sent)
LOADED = 4
TOKENIZER = "minilm-tokenizer.json"  # MiniLM's tokenizer, beside a minilm index (Apache-2.0)


@dataclass
class Corpus:
    ids: list[str]
    texts: list[str]


def read_passages(path: str) -> Corpus:
    """passages.jsonl: one {"id", "text"} per line; errors name the file and line."""
    if not isinstance(path, str) or not path:
        raise BadInput("index needs passages: the path of passages.jsonl", field="passages")
    ids: list[str] = []
    texts: list[str] = []
    seen: set[str] = set()
    try:
        handle = open(path, encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"passages {path}: {exc.strerror or exc}", field="passages") from exc
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                item = json.loads(line)
            except ValueError as exc:
                raise BadInput(f"{where}: not JSON: {exc}", field="passages", line=number) from exc
            if not isinstance(item, dict):
                raise BadInput(f"{where}: a passage must be an object with id and text", field="passages",
                               line=number)
            pid, text = item.get("id"), item.get("text")
            if isinstance(pid, (int, float)) and not isinstance(pid, bool):
                pid = str(pid)
            if not isinstance(pid, str) or not pid:
                raise BadInput(f"{where}: the passage has no id", field="passages", line=number)
            if not isinstance(text, str) or not text.strip():
                raise BadInput(f"{where}: passage {pid!r} has no text", field="passages", line=number)
            if pid in seen:
                raise BadInput(f"{where}: passage id {pid!r} appears twice", field="passages", line=number)
            seen.add(pid)
            ids.append(pid)
            texts.append(text)
    if not texts:
        raise BadInput(f"passages {path}: the corpus is empty", field="passages")
    return Corpus(ids, texts)


class _Progress:
    def __init__(self, emit: Callable[[str, dict], None] | None, total: int, clock: Callable[[], float]):
        self._emit, self._total, self._clock = emit, total, clock
        self._last = -PROGRESS_EVERY
        self._lock = threading.Lock()

    def __call__(self, done: int, last: bool = False) -> None:
        if self._emit is None:
            return
        with self._lock:
            now = self._clock()
            if not last and now - self._last < PROGRESS_EVERY:
                return
            self._last = now
        self._emit("progress", {"done": done, "total": self._total})


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def _dir_bytes(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def build(params: dict, *, emit: Callable[[str, dict], None] | None, cancel: threading.Event | None,
          clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    started = clock()
    out_dir = params.get("dir")
    if not isinstance(out_dir, str) or not out_dir:
        raise BadInput("index needs dir: the directory to write the index into", field="dir")
    retriever = params.get("retriever")
    if retriever not in RETRIEVERS:
        raise BadInput(f"retriever must be one of {', '.join(RETRIEVERS)}, got {retriever!r}", field="retriever")
    embedder = None
    if retriever != "bm25":
        if params.get("embedder") is None:
            raise BadInput(f"a {retriever} index needs an embedder", field="embedder")
        embedder = embedders.parse(params["embedder"], "embedder")
    corpus = read_passages(params.get("passages"))
    os.makedirs(out_dir, exist_ok=True)
    progress = _Progress(emit, len(corpus.texts), clock)
    tally = embedders.Tally()
    dim = None
    if retriever in ("bm25", "hybrid"):
        _check(cancel)
        BM25.build(corpus.texts).save(os.path.join(out_dir, "bm25"), corpus.texts)
        if retriever == "bm25":
            progress(len(corpus.texts))
    if embedder is not None:
        dim = _embed_corpus(corpus, embedder, os.path.join(out_dir, "embeddings"), tally, progress, cancel)
        if embedder.name == "minilm":  # an exported program embeds its queries with it (pyfile.py)
            shutil.copyfile(str(embedders.MINILM_TOKENIZER),
                            os.path.join(out_dir, TOKENIZER))
    _check(cancel)
    with open(os.path.join(out_dir, "ids.json"), "w", encoding="utf-8") as f:
        json.dump(corpus.ids, f)
    info = {"format": FORMAT, "retriever": retriever, "embedder": embedder.name if embedder else None,
            "passages": len(corpus.texts), "dim": dim}
    with open(os.path.join(out_dir, "index.json"), "w", encoding="utf-8") as f:
        json.dump(info, f)
    progress(len(corpus.texts), last=True)
    result: dict[str, Any] = {
        "passages": len(corpus.texts), "dim": dim, "seconds": round(clock() - started, 3),
        "bytes": _dir_bytes(out_dir), "usage": usage_of(embedder, tally), "cost": round(tally.cost, 12),
        "cost_unknown": tally.cost_unknown, "cache": {"hits": tally.hits, "misses": tally.misses},
    }
    return result


def usage_of(embedder: Any, tally: embedders.Tally) -> dict[str, dict[str, int]]:
    """The LM-style usage of a hosted embedder's calls (built-in embedders make no billed call)."""
    if embedder is None or embedder.model is None or not tally.calls:
        return {}
    return {embedder.model: {"calls": tally.calls, "prompt_tokens": tally.prompt_tokens, "completion_tokens": 0}}


def _embed_corpus(corpus: Corpus, embedder: embedders.Embedder, path: str, tally: embedders.Tally,
                  progress: _Progress, cancel: threading.Event | None) -> int:
    store = cache_mod.from_env()
    done = 0

    def embed_batch(texts: list[str]) -> np.ndarray:
        nonlocal done
        _check(cancel)
        rows = cache_mod.embed(embedder, list(texts), "passage", store, tally)
        done += len(texts)
        progress(done)
        return rows

    retriever = dspy.retrievers.Embeddings(
        corpus=corpus.texts, embedder=dspy.Embedder(embed_batch, batch_size=EMBED_BATCH, caching=False),
        k=5, brute_force_threshold=FAISS_THRESHOLD)
    retriever.save(path)
    return int(retriever.corpus_embeddings.shape[1])


# --- loading ----------------------------------------------------------------------------------

@dataclass
class Loaded:
    dir: str
    retriever: str
    embedder: str | None
    ids: list[str]
    texts: list[str]
    bm25: BM25 | None
    embeddings: Any  # dspy.retrievers.Embeddings, or None


_loaded: collections.OrderedDict[str, Loaded] = collections.OrderedDict()
_loaded_lock = threading.Lock()


def load(path: str, field: str = "indexes") -> Loaded:
    """The index in `path`, from the in-process LRU or from disk."""
    with _loaded_lock:
        found = _loaded.get(path)
        if found is not None:
            _loaded.move_to_end(path)
            return found
    found = _read(path, field)
    with _loaded_lock:
        _loaded[path] = found
        _loaded.move_to_end(path)
        while len(_loaded) > LOADED:
            _loaded.popitem(last=False)
    return found


def _read(path: str, field: str) -> Loaded:
    try:
        with open(os.path.join(path, "index.json"), encoding="utf-8") as f:
            info = json.load(f)
        with open(os.path.join(path, "ids.json"), encoding="utf-8") as f:
            ids = json.load(f)
    except (OSError, ValueError) as exc:
        raise BadInput(f"index {path} is missing or incomplete ({exc}): rebuild it with signet index",
                       field=field) from exc
    retriever = info.get("retriever")
    bm25 = embeddings = None
    texts: list[str] = []
    if retriever in ("embeddings", "hybrid"):
        embeddings = dspy.retrievers.Embeddings.from_saved(os.path.join(path, "embeddings"), embedder=None)
        texts = list(embeddings.corpus)
    if retriever in ("bm25", "hybrid"):
        bm25 = BM25.load(os.path.join(path, "bm25"), len(ids))
        if not texts:
            texts = _bm25_corpus(os.path.join(path, "bm25"))
    return Loaded(path, retriever, info.get("embedder"), list(ids), texts, bm25, embeddings)


def _bm25_corpus(path: str) -> list[str]:
    texts = []
    with open(os.path.join(path, "corpus.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                texts.append(json.loads(line)["text"])
    return texts
