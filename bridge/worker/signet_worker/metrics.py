"""Metrics of an optimization run (docs/protocol.md, `optimize`, "metric").

`build_metric` turns the request's `metric` object into a `Metric`: a callable
with the signature every DSPy optimizer accepts, GEPA's five-argument one
included (`metric(gold, pred, trace=None, pred_name=None, pred_trace=None)`).

A metric that raises is not an ordinary failed example here: DSPy's
optimizers swallow `Exception`s from metrics (Evaluate scores the example
0, BootstrapFewShot logs and moves on, SIMBA logs a warning), so a broken
user metric would silently score every candidate 0 and the run would "succeed".
The metric therefore records the failure on the run's `RunControl` and raises
`Cancelled` (a BaseException DSPy does not catch); `optimize` turns the
recorded failure into the request's error (`user_code` for the user's code).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import traceback
from typing import Any, Callable

import dspy
from dspy.evaluate import metrics as dspy_metrics

from . import userload
from .builder import SignetProgram
from .errors import BadInput, BadProgram, Cancelled, UserCodeError, WorkerError, to_error
from .progress import RunControl
from .retrieval.passage import retrieved_lists

BUILTINS = ("exact_match", "answer_exact_match", "f1", "passage_match", "semantic_f1", "recall@K")
RECALL = "recall@"
KINDS = ("builtin", "custom", "judge")
# A float score at or above this counts as a pass in per-example results (bool metrics pass when True).
PASS_THRESHOLD = 0.5


def score_of(value: Any) -> float:
    """A metric's return value as a number (bools as 0/1; a Prediction's `score` field)."""
    if isinstance(value, dspy.Prediction) and "score" in value:
        value = value["score"]
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return 1.0 if value else 0.0


def passed(value: Any) -> bool:
    if isinstance(value, dspy.Prediction) and "score" in value:
        value = value["score"]
    if isinstance(value, bool):
        return value
    return score_of(value) >= PASS_THRESHOLD


def example_of(inputs: dict[str, Any], labels: dict[str, Any]) -> dspy.Example:
    """A dataset example as the optimizers and Evaluate get it: labels and inputs, the inputs marked.

    A field both given and labelled (an input echoed as output) is an input: its given value wins.
    """
    return dspy.Example(**{**labels, **inputs}).with_inputs(*inputs.keys())


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return " ".join(_text(v) for v in value)
    return "" if value is None else str(value)


def _pred_value(pred: Any, name: str) -> Any:
    try:
        return pred[name]
    except (KeyError, TypeError, AttributeError):
        return getattr(pred, name, None)


class Metric:
    """The run's metric: DSPy's calling convention outside, one scoring function inside."""

    def __init__(self, name: str, fn: Callable[[dspy.Example, Any, Any], Any], control: RunControl,
                 user: bool = False):
        self.name = name
        self.__name__ = name  # Evaluate and the optimizers print metric.__name__
        self._fn = fn
        self._control = control
        self._user = user

    def __call__(self, example: dspy.Example, prediction: Any, trace: Any = None, pred_name: Any = None,
                 pred_trace: Any = None) -> Any:
        self._control.check()
        if prediction is None:
            return 0.0  # SIMBA scores a program that raised with prediction None; so does DSPy's Evaluate
        try:
            value = self._fn(example, prediction, trace)
        except Cancelled:
            raise
        except BaseException as exc:  # noqa: BLE001 - SystemExit from user code too
            self._control.fail(self._wrap(exc))
            raise Cancelled() from exc
        self._control.metric_called()
        return value

    def _wrap(self, exc: BaseException) -> BaseException:
        if isinstance(exc, WorkerError):
            return exc
        if not self._user and to_error(exc)["code"].startswith("lm_"):
            return exc  # the judge's LM failed: report it as the LM error it is
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        where = "the custom metric" if self._user else f"the metric {self.name}"
        if self._user:
            return UserCodeError(f"{where} raised {type(exc).__name__}: {exc}", field="metric.source", traceback=tb)
        return _MetricError(f"{where} failed: {type(exc).__name__}: {exc}", field="metric", traceback=tb)


class _MetricError(WorkerError):
    """A builtin or judge metric that cannot score the program's outputs (wrong fields, LM failure)."""

    code = "bad_input"


# --- builtins -----------------------------------------------------------------------------------

def _label_keys(example: dspy.Example) -> list[str]:
    return list(example.labels().keys())


def exact_match(example: dspy.Example, pred: Any, trace: Any = None) -> bool:
    """Every labelled output field equals the prediction's, after DSPy's normalize_text."""
    keys = _label_keys(example)
    if not keys:
        return False
    for key in keys:
        gold = example[key]
        got = _text(_pred_value(pred, key))
        golds = gold if isinstance(gold, list) and all(isinstance(g, str) for g in gold) else [_text(gold)]
        if not any(dspy_metrics.normalize_text(got) == dspy_metrics.normalize_text(g) for g in golds):
            return False
    return True


def _first_output(outputs: list[str]) -> Callable[[dspy.Example, Any, Any], float]:
    def f1(example: dspy.Example, pred: Any, trace: Any = None) -> float:
        keys = _label_keys(example)
        name = outputs[0] if outputs and outputs[0] in keys else (keys[0] if keys else None)
        if name is None:
            return 0.0
        gold = example[name]
        golds = [_text(g) for g in gold] if isinstance(gold, list) else [_text(gold)]
        return float(dspy_metrics.F1(_text(_pred_value(pred, name)), golds))

    return f1


@functools.lru_cache(maxsize=1)
def _semantic_f1_made() -> dspy.Module:
    """A SemanticF1 never called, only copied: making one makes its signatures anew (most of a millisecond);
    DSPy's deepcopy gives a module in the same fresh state for a tenth of that."""
    return dspy.evaluate.SemanticF1()


def _semantic_f1(lm: Any, inputs: list[str], outputs: list[str]) -> Callable[[dspy.Example, Any, Any], Any]:
    judge = _semantic_f1_made().deepcopy()

    def semantic_f1(example: dspy.Example, pred: Any, trace: Any = None) -> Any:
        # SemanticF1 reads example.question/response and pred.response: map the program's first input
        # and first output onto them, whatever they are called.
        question = _text(example.get(inputs[0])) if inputs else ""
        name = outputs[0] if outputs else _label_keys(example)[0]
        gold = dspy.Example(question=question, response=_text(example.get(name)))
        got = dspy.Prediction(response=_text(_pred_value(pred, name)))
        with dspy.context(lm=lm) if lm is not None else contextlib.nullcontext():
            return judge(gold, got, trace).score

    return semantic_f1


def recall_k(value: str) -> int | None:
    """K of a `recall@K` metric name, None for any other name."""
    if not value.startswith(RECALL):
        return None
    digits = value[len(RECALL):]
    if not digits.isdigit() or int(digits) < 1:
        raise BadInput(f"metric {value!r}: K in recall@K must be a positive integer (e.g. recall@3)",
                       field="metric.name")
    return int(digits)


def _recall(k: int, outputs: list[str]) -> Callable[[dspy.Example, Any, Any], float]:
    """Share of the gold passages (labels that are not program outputs: ids or texts) among the first k
    passages of each retrieve output."""

    def recall(example: dspy.Example, pred: Any, trace: Any = None) -> float:
        golds: list[str] = []
        for key in _label_keys(example):
            if key in outputs:
                continue
            value = example[key]
            golds += [_text(v) for v in value] if isinstance(value, (list, tuple)) else [_text(value)]
        if not golds:
            return 0.0
        found = [p for passages in retrieved_lists(pred) for p in passages[:k]]
        ids = {p.id for p in found}
        texts = {dspy_metrics.normalize_text(str(p)) for p in found}
        matched = sum(1 for g in golds if g in ids or dspy_metrics.normalize_text(g) in texts)
        return matched / len(golds)

    return recall


def _passage_match(example: dspy.Example, pred: Any, trace: Any = None) -> bool:
    """DSPy's answer_passage_match over the retrieve outputs (else over an output named context)."""
    lists = retrieved_lists(pred)
    if lists:
        pred = dspy.Prediction(context=[str(p) for passages in lists for p in passages])
    elif _pred_value(pred, "context") is None:
        raise BadInput("passage_match needs a retrieve module's passages or an output field named context",
                       field="metric.name")
    return dspy.evaluate.answer_passage_match(example, pred, trace)


@functools.lru_cache(maxsize=64)
def _signature(text: str) -> Any:
    """dspy.Signature(text), made once per text: a signature is a pydantic model class made on the fly
    (most of a millisecond) and never changes, and an evaluation builds its judge once per example."""
    return dspy.Signature(text)


def _judge(signature_text: str, lm: Any, outputs: list[str]) -> Callable[[dspy.Example, Any, Any], Any]:
    try:
        signature = _signature(signature_text)
    except Exception as exc:
        raise BadInput(f"metric.signature {signature_text!r}: {exc}", field="metric.signature") from exc
    if len(signature.output_fields) < 1:
        raise BadInput("metric.signature needs an output field (e.g. correct: bool)", field="metric.signature")
    out_name = next(iter(signature.output_fields))
    judge = dspy.Predict(signature)

    def judged(example: dspy.Example, pred: Any, trace: Any = None) -> Any:
        kwargs: dict[str, Any] = {}
        for name in signature.input_fields:
            if name == "prediction":
                kwargs[name] = (_pred_value(pred, outputs[0]) if len(outputs) == 1
                                else {o: _pred_value(pred, o) for o in outputs})
            elif name in example:
                kwargs[name] = example[name]
            else:
                kwargs[name] = _pred_value(pred, name)
        with dspy.context(lm=lm) if lm is not None else contextlib.nullcontext():
            verdict = judge(**kwargs)[out_name]
        return verdict if isinstance(verdict, bool) else score_of(verdict)

    return judged


def _custom(source: Any, base_dir: str | None) -> Callable[[dspy.Example, Any, Any], Any]:
    try:
        ref = userload.parse_ref(source, base_dir, module="metric", field="metric.source")
        fn = userload.load(ref, module="metric", field="metric.source")
    except BadProgram as exc:
        raise BadInput(exc.message, field="metric.source") from exc
    if not callable(fn):
        raise BadInput(f"metric.source {source} is not callable", field="metric.source")
    try:
        params = inspect.signature(fn).parameters
        takes_trace = "trace" in params or len(params) >= 3 or any(
            p.kind is p.VAR_POSITIONAL for p in params.values())
    except (TypeError, ValueError):
        takes_trace = True

    def custom(example: dspy.Example, pred: Any, trace: Any = None) -> Any:
        return fn(example, pred, trace) if takes_trace else fn(example, pred)

    return custom


def build_metric(spec: Any, control: RunControl, *, inputs: list[str], outputs: list[str],
                 base_dir: str | None, judge_lm: Any, retrieves: bool = False) -> Metric:
    """The run's Metric; `judge_lm` is the LM for semantic_f1 and judge (metric.lm, else the task LM)."""
    if not isinstance(spec, dict):
        raise BadInput("metric must be an object with name and kind", field="metric")
    kind = spec.get("kind") or "builtin"
    name = spec.get("name") or ""
    if kind not in KINDS:
        raise BadInput(f"metric.kind must be one of {', '.join(KINDS)}, got {kind!r}", field="metric.kind")
    if kind == "custom":
        source = spec.get("source")
        if not isinstance(source, str) or not source:
            raise BadInput("a custom metric needs source: path/to/file.py:function", field="metric.source")
        return Metric(name or source, _custom(source, base_dir), control, user=True)
    if kind == "judge":
        text = spec.get("signature")
        if not isinstance(text, str) or "->" not in text:
            raise BadInput("a judge metric needs signature: \"question, answer, prediction -> correct: bool\"",
                           field="metric.signature")
        return Metric(name or "judge", _judge(text, judge_lm, outputs), control)
    k = recall_k(name)
    if k is not None:
        return Metric(name, _recall(k, outputs), control)
    if name not in BUILTINS:
        raise BadInput(f"unknown builtin metric {name!r} (want {', '.join(BUILTINS)})", field="metric.name")
    if name == "exact_match":
        fn: Callable[[dspy.Example, Any, Any], Any] = exact_match
    elif name == "answer_exact_match":
        if "answer" not in outputs:
            raise BadInput("answer_exact_match needs an output field named answer", field="metric.name")
        fn = dspy.evaluate.answer_exact_match
    elif name == "passage_match":
        if "context" not in outputs and not retrieves:
            raise BadInput("passage_match needs a retrieve module or an output field named context (the passages)",
                           field="metric.name")
        fn = _passage_match
    elif name == "f1":
        fn = _first_output(outputs)
    else:
        fn = _semantic_f1(judge_lm, inputs, outputs)
    return Metric(name, fn, control)


def retrieves(program: SignetProgram) -> bool:
    """Whether the program has a retrieve module (whose passages passage_match and recall@K read)."""
    return any(step.type == "retrieve" for step in program.steps)


def program_fields(program: SignetProgram) -> tuple[list[str], list[str]]:
    """(program inputs, declared outputs in module order, last module's first) for metric field mapping."""
    outputs: list[str] = []
    for step in reversed(program.steps):
        for name in step.outputs:
            if name not in outputs:
                outputs.append(name)
    return program.program_inputs(), outputs
