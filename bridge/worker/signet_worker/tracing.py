"""DSPy callbacks to span events, usage and cost; the request's cancel point.

One `Tracer` per request, registered with `dspy.context(callbacks=[tracer])`.
DSPy's `with_callbacks` calls the start hook before it sets `ACTIVE_CALL_ID`
to the new call, so `ACTIVE_CALL_ID.get()` in a start hook is the parent span.

LM spans read the LM's own history entry for the call (DSPy appends it before
the end hook runs): the entry whose `messages` is the very list the LM was
called with. It carries the usage DSPy recorded and the cost the provider (or
DSPy's pricing metadata) reported. Each request runs on per-request LM copies,
so that history belongs to the request alone.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from dataclasses import dataclass
from time import time_ns
from typing import Any, Callable, Iterator, Protocol

from dspy.primitives.prediction import Prediction
from dspy.utils.callback import ACTIVE_CALL_ID, BaseCallback

from . import dispatch, runlock
from .errors import Cancelled
from .protocol import jsonable
from .truncate import cut_span, span_payload_limit

HISTORY_SCAN = 64
# Attribute an LM may carry naming its LM profile: optimizers call the request's LMs through copies
# (`lm.copy(rollout_id=..., temperature=1.0)`, deep copies of programs), whose ids the tracer never saw.
PROFILE_ATTR = "_signet_profile"


class _Span:
    __slots__ = ("data", "instance", "call_inputs", "urgent")

    def __init__(self, data: dict[str, Any], instance: Any, call_inputs: dict[str, Any] | None, urgent: bool):
        self.data = data
        self.instance = instance
        self.call_inputs = call_inputs or {}
        self.urgent = urgent


@dataclass
class Usage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"calls": self.calls, "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}


def messages_of(raw: Any) -> list[dict[str, str]]:
    """Chat messages as {role, content} with string content (parts joined)."""
    out = []
    for message in raw or []:
        if not isinstance(message, dict):
            message = jsonable(message)
            if not isinstance(message, dict):
                out.append({"role": "user", "content": str(message)})
                continue
        content = message.get("content")
        if content is None:
            content = ""
        elif not isinstance(content, str):
            parts = content if isinstance(content, list) else [content]
            texts = []
            for part in parts:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    texts.append(part["text"])
                else:
                    texts.append(str(jsonable(part)))
            content = "\n".join(texts)
        out.append({"role": str(message.get("role") or "user"), "content": content})
    return out


def _completion_text(output: Any) -> str:
    if isinstance(output, dict):
        text = output.get("text")
        return text if isinstance(text, str) else str(jsonable(output))
    return output if isinstance(output, str) else str(jsonable(output))


def _flat_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """Module/tool call arguments: `kwargs` spread out, positional `args` kept if any; JSON-safe."""
    out: dict[Any, Any] = {}
    for key, value in inputs.items():
        if key == "kwargs" and isinstance(value, dict):
            out.update(value)
        elif key == "args" and not value:
            continue
        else:
            out[key] = value
    for k, v in out.items():
        if type(k) is not str or type(v) is not str:  # most calls pass str keyword arguments only
            return {k if type(k) is str else str(k): v if type(v) is str else jsonable(v) for k, v in out.items()}
    return out


class SpanSink(Protocol):
    """Where a tracer's spans go. `start` gets a span as it opens; `end` gets it as it started and
    `delta`, what is new since its start (`id`, `end`, outputs, usage, cost, error...): the protocol
    sends only the delta (docs/protocol.md, "Spans"); the whole span is the start with the delta
    over it. `urgent` marks the events of an LM call that may cost (its profile is not free): the
    protocol sends them at once, so that a worker killed right after has reported the call. Neither
    may change `span` or `delta`, nor does the tracer once it handed them on (a sink may keep them:
    protocol.SpanStream batches them as they are). Payloads come whole: the
    sink cuts them to the limit (truncate.cut_span) as it encodes them, most need no cut and that
    is cheaper to tell from their encoding. An LM span's `messages` is the very list its format
    span's end delta carried, when the format rendered what the LM was called with
    (protocol.SpanStream sends it once)."""

    def start(self, span: dict[str, Any], urgent: bool) -> None: ...

    def end(self, span: dict[str, Any], delta: dict[str, Any], urgent: bool) -> None: ...


class _WholeSpans:
    """A SpanSink over a callable that takes each span whole, at its start and at its end (tests, tools),
    its payload fields cut to the limit as the protocol's writer cuts them."""

    def __init__(self, emit: Callable[[dict[str, Any]], None]):
        self._emit = emit
        self._limit = span_payload_limit()

    def start(self, span: dict[str, Any], urgent: bool) -> None:
        self._emit(cut_span(dict(span), self._limit))  # a copy: cut_span cuts in place

    def end(self, span: dict[str, Any], delta: dict[str, Any], urgent: bool) -> None:
        self._emit(cut_span({**span, **delta}, self._limit))


class Tracer(BaseCallback):
    """Turns DSPy hooks into span events; accumulates usage and cost; raises Cancelled."""

    def __init__(
        self,
        *,
        emit: SpanSink | Callable[[dict[str, Any]], None] | None,
        cancel: threading.Event | None = None,
        program: Any = None,
        modules: dict[int, tuple[str, str]] | None = None,
        profiles: dict[int, Any] | None = None,
        gate: Any = None,
    ):
        if emit is not None and not hasattr(emit, "end"):
            emit = _WholeSpans(emit)
        self._sink: SpanSink | None = emit
        # With no one to send spans to, their payloads (inputs, messages, outputs) are not built at all.
        self._tracing = emit is not None
        self._gate = gate  # a budget.CallGate: each LM call reserved before it starts, settled after
        self._cancel = cancel
        self._program = program
        self._modules = modules or {}
        self._profiles = profiles or {}
        # A format span's output list (by id, kept alive) -> the messages its end carried: the LM call
        # DSPy makes next gets that very list, the same messages (see on_lm_start).
        self._rendered: dict[int, tuple[Any, list[dict[str, str]]]] = {}
        self._lock = threading.Lock()
        self._open: dict[str, _Span] = {}
        self._module_of: dict[str, str] = {}
        self._reserved: dict[str, Any] = {}  # LM call id -> its profile, for the calls the gate admitted
        self._waiting: set[str] = set()  # calls that let the run lock go (runlock.py) until they end
        self.root_id: str | None = None
        self.usage: dict[str, Usage] = {}
        self.cost = 0.0
        self.cost_unknown = False
        self.embed_hits = 0
        self.embed_misses = 0

    # -- plumbing -------------------------------------------------------------------------------------

    def _check_cancel(self) -> None:
        if self._cancel is not None and self._cancel.is_set():
            raise Cancelled()

    def _start(self, call_id: str, kind: str, name: str, module: str | None, instance: Any = None,
               call_inputs: dict | None = None, *, model: str | None = None, messages: Any = None,
               inputs: Any = None, completion: str | None = None, urgent: bool = False) -> None:
        cancel = self._cancel
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        if not self._tracing and kind != "lm":
            return  # untraced: only LM calls are kept (their usage and cost); the rest is a cancel point
        parent = ACTIVE_CALL_ID.get()
        if parent is None and self.root_id is not None and call_id != self.root_id:
            # A thread DSPy started without copying the context (e.g. user threads): hang it on the root.
            parent = self.root_id
        if module is None and parent is not None:
            module = self._module_of.get(parent)
        data: dict[str, Any] = {"id": call_id, "kind": kind, "name": name, "start": time_ns()}
        if parent:
            data["parent"] = parent
        if module:
            data["module"] = module
        # The payload fields named, not **fields: no dict built and walked per span.
        if model is not None:
            data["model"] = model
        if messages is not None:
            data["messages"] = messages
        if inputs is not None:
            data["inputs"] = inputs
        if completion is not None:
            data["completion"] = completion
        # One dict operation each, atomic as it is (the GIL): hooks of other threads may run meanwhile.
        self._open[call_id] = _Span(data, instance, call_inputs, urgent)
        if module:
            self._module_of[call_id] = module
        if self._sink is not None:
            self._sink.start(data, urgent)

    def _untraced_end(self, exception: BaseException | None) -> None:
        """What _end does for a span an untraced request never opened (all but LM calls): a cancel point."""
        if not isinstance(exception, Cancelled):
            self._check_cancel()

    def _end(self, call_id: str, exception: BaseException | None, **fields: Any) -> _Span | None:
        span = self._open.pop(call_id, None)
        if span is None:
            if not self._tracing and not isinstance(exception, Cancelled):
                self._check_cancel()
            return None
        delta = {"id": call_id, "end": time_ns()}
        for key, value in fields.items():
            if value is not None:
                delta[key] = value
        if exception is not None:
            delta["error"] = "cancelled" if isinstance(exception, Cancelled) else f"{type(exception).__name__}: {exception}"
        if self._sink is not None:
            self._sink.end(span.data, delta, span.urgent)
        if exception is None or not isinstance(exception, Cancelled):
            self._check_cancel()
        return span

    @contextlib.contextmanager
    def span(self, name: str, inputs: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """A span of Signet's own around work DSPy has no hook for (an evaluated example's metric).

        It hangs on the program's root span; the DSPy calls made inside it (a judge's) nest under it.
        The caller fills the dict it yields with the span's outputs.
        """
        call_id = dispatch.call_id()
        self._start(call_id, "module", name, None, inputs=jsonable(inputs) if inputs else None)
        token = ACTIVE_CALL_ID.set(call_id)
        outputs: dict[str, Any] = {}
        failure: BaseException | None = None
        try:
            yield outputs
        except BaseException as exc:
            failure = exc
            raise
        finally:
            ACTIVE_CALL_ID.reset(token)
            self._end(call_id, failure, outputs=jsonable(outputs) if failure is None else None)

    @contextlib.contextmanager
    def retrieval(self, name: str, inputs: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """A `retrieval` span (a retrieve module's search) under the module span that runs it.

        The caller fills the dict it yields: `retrieval` (model.Retrieval's JSON) and, for a hosted
        embedder, `model` and `tally` (an embedders.Tally), charged here like an LM call's usage.
        """
        call_id = dispatch.call_id()
        self._start(call_id, "retrieval", name, None, inputs=jsonable(inputs))
        filled: dict[str, Any] = {}
        failure: BaseException | None = None
        try:
            yield filled
        except BaseException as exc:
            failure = exc
            raise
        finally:
            self._end(call_id, failure, **self._account_retrieval(filled))

    def _account_retrieval(self, filled: dict[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {"retrieval": filled.get("retrieval")}
        tally = filled.get("tally")
        if tally is None:
            return fields
        with self._lock:
            self.embed_hits += tally.hits
            self.embed_misses += tally.misses
            model = filled.get("model")
            if model and tally.calls:
                u = self.usage.setdefault(model, Usage())
                u.calls += tally.calls
                u.prompt_tokens += tally.prompt_tokens
                self.cost += tally.cost
                self.cost_unknown = self.cost_unknown or tally.cost_unknown
        if filled.get("model") and tally.calls:
            fields.update(model=filled["model"], usage={"calls": tally.calls, "prompt_tokens": tally.prompt_tokens,
                                                        "completion_tokens": 0})
            if tally.cost_unknown:
                fields["cost_unknown"] = True
            elif tally.cost:
                fields["cost"] = tally.cost
        return fields

    def embed_cache(self) -> dict[str, int] | None:
        """The request's embedding cache hits and misses (model.EmbedCache), None when both are 0."""
        with self._lock:
            if not self.embed_hits and not self.embed_misses:
                return None
            return {"hits": self.embed_hits, "misses": self.embed_misses}

    # -- modules -------------------------------------------------------------------------------------

    def on_module_start(self, call_id, instance, inputs):
        if not self._tracing:
            self._check_cancel()  # untraced: a cancel point, no span (see _start)
            return
        if self._program is not None and instance is self._program:
            if self.root_id is None:
                self.root_id = call_id
            name, module = getattr(instance, "signet_name", type(instance).__name__), None
        elif id(instance) in self._modules:
            module, path = self._modules[id(instance)]
            rel = path[len(module) + 1:] if path.startswith(module + ".") else ""
            name = f"{type(instance).__name__}({rel})" if rel else type(instance).__name__
        else:
            name, module = type(instance).__name__, None
        self._start(call_id, "module", name, module, instance, inputs=_flat_inputs(inputs))

    def on_module_end(self, call_id, outputs, exception=None):
        if not self._tracing:
            self._untraced_end(exception)
            return
        self._end(call_id, exception, outputs=self._outputs(outputs) if exception is None else None)

    @staticmethod
    def _outputs(outputs: Any) -> dict[str, Any] | None:
        if outputs is None:
            return None
        if type(outputs) is Prediction and "model_dump" not in outputs._store:
            # What jsonable does with a Prediction (no model_dump: toDict), without the AttributeError
            # Example.__getattr__ raises for model_dump first; fields all str (most), a copy is all it is.
            store = outputs._store
            if all(type(k) is str and (type(v) is str or type(v) is list and all(type(i) is str for i in v))
                   for k, v in store.items()):
                return {k: v if type(v) is str else list(v) for k, v in store.items()}
            try:
                value = jsonable(outputs.toDict(), 1)
            except Exception:
                value = jsonable(outputs)
        else:
            value = jsonable(outputs)
        return value if isinstance(value, dict) else {"output": value}

    # -- adapters ------------------------------------------------------------------------------------

    def on_adapter_format_start(self, call_id, instance, inputs):
        if not self._tracing:
            self._check_cancel()
            return
        demos = inputs.get("demos") or []
        data = {"signature": _signature_text(inputs.get("signature")), "demos": len(demos),
                "inputs": jsonable(inputs.get("inputs") or {})}
        self._start(call_id, "adapter", f"{type(instance).__name__}.format", None, instance, inputs=data)

    def on_adapter_format_end(self, call_id, outputs, exception=None):
        if not self._tracing:
            self._untraced_end(exception)
            return
        if outputs is None or exception is not None:
            self._end(call_id, exception)
            return
        messages = messages_of(outputs)
        self._rendered[id(outputs)] = (outputs, messages)
        self._end(call_id, exception, messages=messages)

    def on_adapter_parse_start(self, call_id, instance, inputs):
        if not self._tracing:
            self._check_cancel()
            return
        completion = inputs.get("completion")
        self._start(call_id, "adapter", f"{type(instance).__name__}.parse", None, instance,
                    completion=completion if isinstance(completion, str) else None)

    def on_adapter_parse_end(self, call_id, outputs, exception=None):
        if not self._tracing:
            self._untraced_end(exception)
            return
        self._end(call_id, exception, outputs=self._outputs(outputs) if exception is None else None)

    # -- tools ---------------------------------------------------------------------------------------

    def on_tool_start(self, call_id, instance, inputs):
        self._wait(call_id)
        module = self._modules.get(id(instance), (None, ""))[0]
        self._start(call_id, "tool", str(getattr(instance, "name", None) or type(instance).__name__), module,
                    instance, inputs=_flat_inputs(inputs) if self._tracing else None)

    def on_tool_end(self, call_id, outputs, exception=None):
        try:
            self._end(call_id, exception,
                      outputs={"result": jsonable(outputs)} if exception is None and self._tracing else None)
        finally:
            self._waited(call_id)

    # -- LMs -----------------------------------------------------------------------------------------

    def on_lm_start(self, call_id, instance, inputs):
        if not getattr(getattr(instance, "_engine_spec", None), "computes_here", False):
            self._wait(call_id)  # an LM in this process (the test LM) keeps the run lock
        self._reserve(call_id, instance, inputs)
        model = str(getattr(instance, "model", type(instance).__name__))
        messages = inputs.get("messages")
        prompt = inputs.get("prompt")
        if not self._tracing:
            self._start(call_id, "lm", model, None, instance, call_inputs={"messages": messages, "prompt": prompt})
            return
        shown = messages if messages is not None else ([{"role": "user", "content": prompt}] if isinstance(prompt, str) else None)
        kwargs = {k: v for k, v in (inputs.get("kwargs") or {}).items() if not str(k).startswith("api_")}
        profile = self.profile_of(instance)
        # A call that may cost is sent at once, start and end (SpanSink); a free one has nothing to charge.
        self._start(call_id, "lm", model, None, instance, call_inputs={"messages": messages, "prompt": prompt},
                    model=model, messages=self._rendered_messages(messages, shown),
                    inputs=jsonable(kwargs) if kwargs else None,
                    urgent=profile is None or not getattr(profile, "free", False))

    def _rendered_messages(self, messages: Any, shown: Any) -> list[dict[str, str]] | None:
        """The messages an LM call is sent: its format span's own list when a format rendered them
        (the sink may then send that list once), else converted here."""
        if messages is not None:
            rendered = self._rendered.pop(id(messages), None)
            if rendered is not None and rendered[0] is messages:
                return rendered[1]
        return messages_of(shown) if shown is not None else None

    def on_lm_end(self, call_id, outputs, exception=None):
        try:
            span = self._open.get(call_id)
            fields: dict[str, Any] = {}
            if span is not None and exception is None:
                fields = self._account(span, outputs)
            self._settle(call_id, exception, fields)
            self._end(call_id, exception, **fields)
        finally:
            self._waited(call_id)

    def _wait(self, call_id: str) -> None:
        """A call that waits (an LM's, a tool's) lets the worker's run lock go until it ends (runlock.py)."""
        runlock.pause()
        with self._lock:
            self._waiting.add(call_id)

    def _waited(self, call_id: str) -> None:
        if call_id not in self._waiting:
            return  # most calls (an LM computing here) never waited: no lock to take
        with self._lock:
            if call_id not in self._waiting:
                return
            self._waiting.discard(call_id)
        runlock.resume()

    def _reserve(self, call_id: str, lm: Any, inputs: dict[str, Any]) -> None:
        """Ask the gate before an LM call starts (no span yet: a refused call never began)."""
        if self._gate is None:
            return
        profile = self.profile_of(lm)
        if profile is not None and getattr(profile, "free", False):
            return  # costs exactly nothing: nothing to reserve
        self._gate.reserve(call_id, profile, lm, inputs)
        with self._lock:
            self._reserved[call_id] = profile

    def _settle(self, call_id: str, exception: BaseException | None, fields: dict[str, Any]) -> None:
        """Tell the gate what a reserved call cost: a call that raised was not billed."""
        if call_id not in self._reserved:
            return  # not reserved (no gate, a free LM): no lock to take
        with self._lock:
            if call_id not in self._reserved:
                return
            profile = self._reserved.pop(call_id)
        if exception is not None:
            self._gate.settle(call_id, profile, 0.0, billed=False)
        elif fields.get("cost_unknown"):
            self._gate.settle(call_id, profile, None, billed=True)
        else:
            self._gate.settle(call_id, profile, float(fields.get("cost") or 0.0), billed=not fields.get("cache_hit"))

    def _account(self, span: _Span, outputs: Any) -> dict[str, Any]:
        lm = span.instance
        model = str(getattr(lm, "model", "unknown"))
        entry = _history_entry(lm, span.call_inputs.get("messages"), span.call_inputs.get("prompt"))
        fields: dict[str, Any] = {}
        if isinstance(outputs, list) and outputs and self._tracing:
            fields["completion"] = _completion_text(outputs[0])
            if len(outputs) > 1:
                fields["outputs"] = {"completions": [_completion_text(o) for o in outputs]}
        usage = (entry or {}).get("usage") or {}
        prompt_tokens = _int(usage.get("prompt_tokens"))
        completion_tokens = _int(usage.get("completion_tokens"))
        # DSPy records a cache hit with empty usage (nothing billed) and the original cost.
        cache_hit = entry is not None and not usage and bool(getattr(lm, "cache", False))
        profile = self.profile_of(lm)
        cost: float | None
        if cache_hit or (profile is not None and getattr(profile, "free", False)):
            cost = 0.0  # a free profile (a local model) costs nothing, whatever DSPy recorded
        elif entry is None:
            cost = None
        elif profile is not None and getattr(profile, "priced", False):
            cost = profile.price(prompt_tokens, completion_tokens)
        elif isinstance(entry.get("cost"), (int, float)):
            cost = float(entry["cost"])
        else:
            cost = None
        with self._lock:
            if not cache_hit:
                u = self.usage.setdefault(model, Usage())
                u.calls += 1
                u.prompt_tokens += prompt_tokens
                u.completion_tokens += completion_tokens
            if cost is None:
                self.cost_unknown = True
            else:
                self.cost += cost
        if not cache_hit:
            fields["usage"] = {"calls": 1, "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
        if cost:
            fields["cost"] = cost
        elif cost is None:
            fields["cost_unknown"] = True
        if cache_hit:
            fields["cache_hit"] = True
        return fields

    def profile_of(self, lm: Any) -> Any:
        """The LM profile an LM was built from; optimizers' copies of it carry it as `PROFILE_ATTR`."""
        profile = self._profiles.get(id(lm))
        return profile if profile is not None else getattr(lm, PROFILE_ATTR, None)

    # -- results -------------------------------------------------------------------------------------

    def usage_dict(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {model: u.as_dict() for model, u in self.usage.items()}


# A signature class -> (its model_fields, its `signature` text): DSPy builds that text from the fields
# on each read (3.5 us, each adapter format span). A class whose fields were replaced is read again.
_signature_texts: weakref.WeakKeyDictionary[type, tuple[Any, str]] = weakref.WeakKeyDictionary()


def _signature_text(signature: Any) -> str:
    """`signature.signature` ("question -> answer"), else str(signature), as a format span shows it."""
    if not isinstance(signature, type):
        text = getattr(signature, "signature", None) if signature is not None else None
        return text or str(signature)
    fields = getattr(signature, "model_fields", None)
    cached = _signature_texts.get(signature)
    if cached is not None and cached[0] is fields:
        return cached[1]
    text = getattr(signature, "signature", None) or str(signature)
    if fields is not None:
        _signature_texts[signature] = (fields, text)
    return text


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _history_entry(lm: Any, messages: Any, prompt: Any) -> dict | None:
    history = getattr(lm, "history", None)
    if not history:
        return None
    for entry in reversed(history[-HISTORY_SCAN:]):  # a slice: a copy another thread's append leaves be
        if not isinstance(entry, dict):
            continue
        if messages is not None and entry.get("messages") is messages:
            return entry
        if messages is None and prompt is not None and entry.get("prompt") is prompt:
            return entry
    return None


# DSPy finds the Tracer's hooks through a memo (see dispatch.py): once per process, before any run.
dispatch.install(Tracer)
