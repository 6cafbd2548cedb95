"""`signet/test`: a deterministic, rule-based LM that goes through DSPy's real adapters.

It is a real `dspy.LM` (so a `dspy.BaseLM`) built the way DSPy 3.4 documents
for custom LMs that are not deprecated: `dspy.LM(model, engine=TestEngine())`,
where the engine implements `complete(Request) -> Response` (lm15 types). DSPy's
adapter formats the prompt, the engine reads that prompt back - the output
fields and their types, the instructions, the demos and the current input - and
replies in the adapter's format, which DSPy's adapter then parses.

Rules, in order, per output field (no randomness):

a. a demo in the prompt whose input values equal the current input's: copy its
   value for that field (so few-shot demos change answers); the turns of a
   `dspy.History` input are demos too (DSPy renders them as the same pairs);
b. `Literal[...]`: the option that appears (whole word, case-insensitive) in the
   input text, else in the instructions, else the option sharing the most words
   with them, else the first option. ReAct's `next_tool_name` picks `finish` once
   the trajectory holds an observation, else the tool whose name and description
   share most words with the input;
c. instructions change `str` answers: "one word"/"single word" keeps the first
   word, "short"/"few words" at most three words; "uppercase"/"lowercase" change
   the case;
d. otherwise `str`: the last capitalised word or number of the first input
   ("What is the capital of France?" -> "France"); `list[...]`: two content words
   of the input; `int`/`float`: the first number in the input, else 0; `bool`:
   True; `dict` (ReAct's `next_tool_args`): the chosen tool's arguments filled
   by these rules; a `reasoning` field: "Looking at <first input>, ...";
   another type whose JSON schema the prompt states (a pydantic model,
   `dict[str, int]`): a value of that schema, its leaves filled by these rules.

Usage: prompt tokens are the whitespace-separated words of all messages,
completion tokens the words of the reply. No cost is reported.

Profile `kwargs`: `sleep_ms` (sleep per call), `crash_on` (if the substring is
in the prompt the process exits with status 3, simulating a worker crash),
`fail_on` (if the substring is in the prompt the call fails with a provider
server error, which the worker reports as `lm_unavailable`), `echo_env` (the
reply's last field ends with the value of that environment variable: a provider
that echoes a key back, for the redaction tests). When any of the first three
is set the LM does not use DSPy's cache, so each call really happens.
"""

from __future__ import annotations

import ast
import json
import os
import re
import sys
import textwrap
import time
from dataclasses import dataclass, field
from typing import Any

from . import runlock

MODEL = "signet/test"

_HEADER = re.compile(r"^\[\[ ## (\w+) ## \]\]\s*$")
_FIELD_LINE = re.compile(r"^(\d+)\. `([^`]+)` \(")
_TOOL_LINE = re.compile(r"^\((\d+)\) (\S+?)(?:, whose description is <desc>(.*)</desc>)?\.\s+It takes arguments (\{.*\})\.\s*$")
_SCHEMA_NOTE = re.compile(r"\{(\w+)\}\s+# note: the value you produce must adhere to the JSON schema: (\{.*\})\s*$")
_JSON_FIELD_LINE = re.compile(r'^\s*"(\w+)": (".*")\s*,?\s*$')
_OBJECTIVE = "In adhering to this structure, your objective is: "
_REQUIREMENTS = ("Respond with the corresponding output fields", "Respond with a JSON object in the following order of fields")
_NOT_SUPPLIED = ("Not supplied for this particular example.", "Not supplied for this conversation history message.")
_WORD = re.compile(r"-?\d+(?:\.\d+)?|[^\W\d_][\w'’-]*", re.UNICODE)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_STOP = frozenset(
    """a an and are as at be but by can could did do does for from had has have how i if in into is it its
    me my no not of on or our so than that the their them then there these they this those to too us was we
    were what when where which who whom whose why will with would you your yes list give tell name find""".split()
)


# --- reading the prompt back ------------------------------------------------------------------------

@dataclass
class FieldSpec:
    name: str
    type: str


@dataclass
class Prompt:
    adapter: str = "chat"
    inputs: list[FieldSpec] = field(default_factory=list)
    outputs: list[FieldSpec] = field(default_factory=list)
    instructions: str = ""
    tools: dict[str, tuple[str, dict]] = field(default_factory=dict)  # name -> (description, args schema)
    demos: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    current: dict[str, str] = field(default_factory=dict)
    schemas: dict[str, dict] = field(default_factory=dict)  # output field -> the JSON schema the prompt states


def _type_after(line: str, start: int) -> str:
    """The balanced parenthesised type that starts at line[start] == '('."""
    depth, quote, i = 0, None, start
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth == 0:
                return line[start + 1:i]
        i += 1
    return line[start + 1:].rstrip("):")


def _fields(block: str) -> list[FieldSpec]:
    out = []
    for line in block.splitlines():
        m = _FIELD_LINE.match(line)
        if m:
            out.append(FieldSpec(m.group(2), _type_after(line, m.end() - 1).strip()))
    return out


def _sections(content: str, known: set[str] | None = None) -> dict[str, str]:
    """`[[ ## name ## ]]` sections; headers of names not in `known` stay content (a nested trajectory)."""
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for line in content.splitlines():
        m = _HEADER.match(line.strip())
        if m and (known is None or m.group(1) in known or current is None):
            current = m.group(1)
            sections.setdefault(current, [])
        elif current is not None:
            sections[current].append(line)
    return {k: "\n".join(v).strip() for k, v in sections.items()}


def _strip_requirements(values: dict[str, str]) -> dict[str, str]:
    if not values:
        return values
    last = list(values)[-1]
    text = values[last]
    for marker in _REQUIREMENTS:
        cut = text.rfind(marker)
        if cut == 0:
            text = ""
        elif cut > 0 and text[:cut].endswith("\n\n"):
            text = text[:cut]
    values[last] = text.strip()
    return values


def _json_object(content: str) -> dict[str, Any]:
    try:
        value = json.loads(content)
    except ValueError:
        start, end = content.find("{"), content.rfind("}")
        try:
            value = json.loads(content[start:end + 1]) if 0 <= start < end else {}
        except ValueError:
            value = {}
    return value if isinstance(value, dict) else {}


def _schemas(system: str) -> dict[str, dict]:
    """The JSON schemas DSPy's adapters state for output fields of a non-primitive type."""
    out: dict[str, dict] = {}
    for line in system.splitlines():
        if "# note: the value you produce must adhere to the JSON schema" not in line:
            continue
        m = _JSON_FIELD_LINE.match(line)  # JSONAdapter: the note sits in a JSON string
        if m:
            try:
                line = json.loads(m.group(2))
            except ValueError:
                continue
        m = _SCHEMA_NOTE.search(line)
        if m:
            try:
                schema = json.loads(m.group(2))
            except ValueError:
                continue
            if isinstance(schema, dict):
                out[m.group(1)] = schema
    return out


def parse_prompt(messages: list[dict[str, str]]) -> Prompt:
    """Recover what the adapter asked for from the rendered messages."""
    p = Prompt()
    system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
    rest = messages[1:] if system else list(messages)
    if "Outputs will be a JSON object" in system:
        p.adapter = "json"
    in_at = system.find("Your input fields are:")
    out_at = system.find("Your output fields are:")
    end_at = system.find("All interactions will be structured")
    if in_at >= 0 and out_at > in_at:
        p.inputs = _fields(system[in_at:out_at])
    if out_at >= 0:
        p.outputs = _fields(system[out_at:end_at if end_at > out_at else len(system)])
    p.schemas = _schemas(system)
    obj = system.find(_OBJECTIVE)
    if obj >= 0:
        p.instructions = textwrap.dedent(system[obj + len(_OBJECTIVE):].lstrip("\n")).strip()
    for line in p.instructions.splitlines():
        m = _TOOL_LINE.match(line.strip())
        if m:
            try:
                args = ast.literal_eval(m.group(4))
            except (ValueError, SyntaxError):
                args = {}
            p.tools[m.group(2)] = (m.group(3) or "", args if isinstance(args, dict) else {})
    # Demos are user/assistant pairs before the final user message.
    last_user = max((i for i, m in enumerate(rest) if m["role"] == "user"), default=None)
    in_names = {f.name for f in p.inputs} or None
    out_names = ({f.name for f in p.outputs} | {"completed"}) if p.outputs else None
    if last_user is not None:
        p.current = _strip_requirements(_sections(rest[last_user]["content"], in_names))
        i = 0
        while i + 1 < last_user:
            user, assistant = rest[i], rest[i + 1]
            if user["role"] == "user" and assistant["role"] == "assistant":
                outs: dict[str, Any] = (
                    _json_object(assistant["content"]) if p.adapter == "json" else _sections(assistant["content"], out_names)
                )
                outs = {k: v for k, v in outs.items() if k != "completed" and not (isinstance(v, str) and v in _NOT_SUPPLIED)}
                # A history turn's user message ends with the reply requirements, as the current one does.
                p.demos.append((_strip_requirements(_sections(user["content"], in_names)), outs))
                i += 2
            else:
                i += 1
    return p


# --- the rules -------------------------------------------------------------------------------------

def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _norm(words: list[str]) -> set[str]:
    return {w.lower() for w in words}


def _unwrap(type_: str) -> str:
    t = type_.strip()
    for prefix in ("Optional[", "Union["):
        if t.startswith(prefix) and t.endswith("]"):
            parts = _split_args(t[len(prefix):-1])
            parts = [x for x in parts if x.strip() not in ("NoneType", "None")]
            return _unwrap(parts[0]) if parts else "str"
    return t


def _split_args(inner: str) -> list[str]:
    parts, depth, quote, cur = [], 0, None, []
    for ch in inner:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if cur:
        parts.append("".join(cur).strip())
    return parts


def literal_options(type_: str) -> list[Any] | None:
    t = _unwrap(type_)
    if not (t.startswith("Literal[") and t.endswith("]")):
        return None
    options = []
    for part in _split_args(t[len("Literal["):-1]):
        try:
            options.append(ast.literal_eval(part))
        except (ValueError, SyntaxError):
            options.append(part.strip("'\""))
    return options or None


def _appears(option: Any, text: str) -> bool:
    needle = str(option).lower()
    return bool(needle) and re.search(r"(?<!\w)" + re.escape(needle) + r"(?!\w)", text.lower()) is not None


class Rules:
    """Answers for one prompt."""

    def __init__(self, prompt: Prompt):
        self.p = prompt
        values = [prompt.current[f.name] for f in prompt.inputs if f.name in prompt.current]
        if not values:
            values = list(prompt.current.values())
        self.first = values[0] if values else ""
        visible = [prompt.current[f.name] for f in prompt.inputs if f.name in prompt.current and f.name != "trajectory"]
        self.text = " ".join(visible or values)
        self.instr = prompt.instructions
        self.demo = self._matching_demo()

    def _matching_demo(self) -> dict[str, Any] | None:
        if not self.p.current:
            return None
        for demo_inputs, demo_outputs in self.p.demos:
            if demo_outputs and all(demo_inputs.get(k, "").strip() == v.strip() for k, v in self.p.current.items()):
                return demo_outputs
        return None

    # d: plain values
    def word_answer(self) -> str:
        for text in (self.first, self.text):
            found = [w for w in _words(text) if w[0].isupper() or _NUMBER.fullmatch(w)]
            if found:
                return found[-1]
        words = _words(self.first) or _words(self.text)
        return words[-1] if words else "unknown"

    def number(self) -> float:
        m = _NUMBER.search(self.text) or _NUMBER.search(self.first)
        return float(m.group(0)) if m else 0.0

    def content_words(self, n: int = 2) -> list[str]:
        seen, out = set(), []
        for w in _words(self.text) + _words(self.first):
            key = w.lower()
            if key in _STOP or len(w) < 3 or key in seen or _NUMBER.fullmatch(w):
                continue
            seen.add(key)
            out.append(w)
            if len(out) == n:
                break
        while len(out) < n:
            out.append(f"item{len(out) + 1}")
        return out

    # c: instructions
    def shaped(self, answer: str) -> str:
        low = self.instr.lower()
        words = answer.split()
        if "one word" in low or "single word" in low:
            words = words[:1]
        elif "short" in low or "few words" in low:
            words = words[:3]
        answer = " ".join(words)
        if "uppercase" in low or "upper case" in low:
            answer = answer.upper()
        elif "lowercase" in low or "lower case" in low:
            answer = answer.lower()
        return answer

    # b: choices
    def choose(self, options: list[Any]) -> Any:
        for text in (self.text, self.instr):
            for option in options:
                if _appears(option, text):
                    return option
        pool = _norm(_words(self.text + " " + self.instr))
        scores = [len(_norm(_words(str(o).replace("_", " "))) & pool) for o in options]
        best = max(scores)
        return options[scores.index(best)] if best > 0 else options[0]

    def choose_tool(self, options: list[Any]) -> Any:
        trajectory = self.p.current.get("trajectory", "")
        others = [o for o in options if o != "finish"]
        if not others or "observation_" in trajectory:
            return "finish" if "finish" in options else options[0]
        pool = _norm(_words(self.text))
        def score(name: Any) -> int:
            desc = self.p.tools.get(str(name), ("", {}))[0]
            return len(_norm(_words(str(name).replace("_", " ") + " " + desc)) & pool)
        scores = [score(o) for o in others]
        return others[scores.index(max(scores))]

    def tool_args(self, tool: Any) -> dict[str, Any]:
        _, schema = self.p.tools.get(str(tool), ("", {}))
        args: dict[str, Any] = {}
        for name, spec in schema.items():
            kind = spec.get("type") if isinstance(spec, dict) else None
            if kind == "integer":
                args[name] = int(self.number())
            elif kind == "number":
                args[name] = self.number()
            elif kind == "boolean":
                args[name] = True
            elif kind == "array":
                args[name] = self.content_words()
            else:
                args[name] = self.word_answer()
        return args

    def value(self, spec: FieldSpec, done: dict[str, Any]) -> Any:
        if self.demo is not None and spec.name in self.demo:
            return self.demo[spec.name]  # a: copied verbatim
        t = _unwrap(spec.type)
        options = literal_options(t)
        if options:
            if "finish" in options and self.p.tools:
                return self.choose_tool(options)
            return self.choose(options)
        if spec.name == "reasoning" and t == "str":
            first = " ".join(self.first.split())
            if len(first) > 120:
                first = first[:117] + "..."
            return f"Looking at {first}, the answer follows from its key terms."
        if t == "str":
            return self.shaped(self.word_answer())
        if t == "bool":
            return True
        if t == "int":
            return int(self.number())
        if t == "float":
            return self.number()
        if t.startswith(("list[", "List[", "tuple[", "set[")) or t == "list":
            inner = _split_args(t[t.find("[") + 1:-1])[0] if "[" in t else "str"
            if _unwrap(inner) in ("int", "float"):
                n = self.number()
                return [int(n) if inner == "int" else n]
            return self.content_words()
        schema = self.p.schemas.get(spec.name)
        if t.startswith(("dict[", "Dict[")) or t == "dict":
            tool = done.get("next_tool_name")
            if tool is not None and self.p.tools:
                return self.tool_args(tool)
            return self.from_schema(schema, schema.get("$defs") or {}) if schema else {}
        if schema:
            return self.from_schema(schema, schema.get("$defs") or {})
        return self.shaped(self.word_answer())

    def from_schema(self, schema: Any, defs: dict[str, Any], depth: int = 0) -> Any:
        """A value of a JSON schema (pydantic's), its leaves filled by the rules for plain values."""
        if depth > 8 or not isinstance(schema, dict):
            return None
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return self.from_schema(defs.get(ref.rsplit("/", 1)[-1]), defs, depth + 1)
        if schema.get("enum"):
            return self.choose(list(schema["enum"]))
        if "const" in schema:
            return schema["const"]
        for key in ("anyOf", "oneOf"):
            options = [o for o in schema.get(key) or [] if isinstance(o, dict) and o.get("type") != "null"]
            if options:
                return self.from_schema(options[0], defs, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), None)
        if kind == "object" or "properties" in schema:
            props = schema.get("properties") or {}
            if props:
                return {name: self.from_schema(sub, defs, depth + 1) for name, sub in props.items()}
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                return {w.lower(): self.from_schema(extra, defs, depth + 1) for w in self.content_words(1)}
            return {}
        if kind == "array":
            items = schema.get("items")
            if not isinstance(items, dict) or items.get("type", "string") == "string" and not (
                    items.get("$ref") or items.get("enum")):
                return self.content_words()
            return [self.from_schema(items, defs, depth + 1)]
        if kind == "integer":
            return int(self.number())
        if kind == "number":
            return self.number()
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self.shaped(self.word_answer())


def _chat_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def reply(messages: list[dict[str, str]]) -> str:
    """The test LM's reply to rendered messages."""
    prompt = parse_prompt(messages)
    rules = Rules(prompt)
    values: dict[str, Any] = {}
    for spec in prompt.outputs:
        values[spec.name] = rules.value(spec, values)
    if prompt.adapter == "json":
        return json.dumps(values, ensure_ascii=False)
    parts = [f"[[ ## {name} ## ]]\n{_chat_value(value)}" for name, value in values.items()]
    parts.append("[[ ## completed ## ]]")
    return "\n\n".join(parts)


# --- the engine -------------------------------------------------------------------------------------

def _request_messages(request: Any) -> list[dict[str, str]]:
    out = []
    system = getattr(request, "system", None)
    if system is not None:
        text = system if isinstance(system, str) else "".join(getattr(p, "text", "") or "" for p in system)
        out.append({"role": "system", "content": text})
    for message in request.messages:
        text = message.text
        if text is None:
            text = "".join(getattr(p, "text", "") or "" for p in message.parts)
        out.append({"role": message.role, "content": text})
    return out


def count_words(text: str) -> int:
    return len(text.split())


_COMPLETED = "\n\n[[ ## completed ## ]]"


def _echo(text: str, value: str) -> str:
    """The reply with value at the end of its last field (ChatAdapter's format), else appended."""
    if _COMPLETED in text:
        return text.replace(_COMPLETED, f" {value}{_COMPLETED}", 1)
    return f"{text}\n{value}"


class TestEngine:
    """A DSPy engine (`complete(Request) -> Response`) answering by the rules above."""

    __test__ = False  # not a pytest test class
    # Its answer is computed in this process, not waited for: a call keeps the worker's run lock
    # (runlock.py), and lets it go only while it sleeps.
    computes_here = True

    def __init__(self, sleep_ms: float = 0, crash_on: str | None = None, fail_on: str | None = None,
                 echo_env: str | None = None):
        self.sleep_ms = float(sleep_ms or 0)
        self.crash_on = crash_on or None
        self.fail_on = fail_on or None
        self.echo_env = echo_env or None

    def complete(self, request):
        from dspy.lm15 import Message, Response, ServerError, TextPart, Usage

        messages = _request_messages(request)
        prompt = "\n\n".join(m["content"] for m in messages)
        if self.crash_on and self.crash_on in prompt:
            sys.stderr.write(f"signet/test: crash_on {self.crash_on!r} matched; exiting with status 3\n")
            sys.stderr.flush()
            os._exit(3)
        if self.sleep_ms > 0:
            runlock.pause()
            try:
                time.sleep(self.sleep_ms / 1000.0)
            finally:
                runlock.resume()
        if self.fail_on and self.fail_on in prompt:
            raise ServerError(f"signet/test: fail_on {self.fail_on!r} matched (simulated provider outage)",
                              provider="signet", status=503)
        text = reply(messages)
        if self.echo_env:
            text = _echo(text, os.environ.get(self.echo_env, ""))
        prompt_tokens = sum(count_words(m["content"]) for m in messages)
        completion_tokens = count_words(text)
        return Response(
            id=None,
            model=MODEL,
            message=Message.assistant([TextPart(text)]),
            finish_reason="stop",
            usage=Usage(input_tokens=prompt_tokens, output_tokens=completion_tokens,
                        total_tokens=prompt_tokens + completion_tokens),
        )

    def stream(self, request):
        from dspy.lm15 import response_to_events

        return response_to_events(self.complete(request))

    def close(self) -> None:
        pass

    def dump_state(self) -> dict[str, Any]:
        return {"sleep_ms": self.sleep_ms, "crash_on": self.crash_on, "fail_on": self.fail_on,
                "echo_env": self.echo_env}

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> "TestEngine":
        return cls(**state)


def make_lm(profile=None, **overrides):
    """A `dspy.LM` for `signet/test` from an LM profile (or keyword overrides, for tests)."""
    import dspy

    kwargs = dict(getattr(profile, "kwargs", None) or {})
    kwargs.update(overrides)
    engine = TestEngine(kwargs.get("sleep_ms", 0), kwargs.get("crash_on"), kwargs.get("fail_on"), kwargs.get("echo_env"))
    special = engine.sleep_ms > 0 or engine.crash_on or engine.fail_on
    cache = bool(getattr(profile, "cache", False)) and not special
    return dspy.LM(
        MODEL,
        engine=engine,
        cache=cache,
        num_retries=0,
        temperature=getattr(profile, "temperature", None),
        max_tokens=getattr(profile, "max_tokens", None),
    )
