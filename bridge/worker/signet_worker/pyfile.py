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


def _constructor(spec: dict[str, Any], step: Step, base_dir: str | None) -> tuple[str, set[str]]:
    """The expression that builds one module, and the helpers it needs ("load", "retrieve")."""
    kind = spec["type"]
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
    for step in program.steps:
        expr, extra = _constructor(modules[step.name], step, base_dir)
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
        "import os",
        "import sys",
        "from typing import Any",
        "",
        "import dspy",
    ]
    if "load" in needs:
        out.append(_LOADER.rstrip("\n"))
    if "retrieve" in needs:
        out.append(_RETRIEVE.rstrip("\n"))
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
