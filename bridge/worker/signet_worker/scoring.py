"""An execute request's metric: one example of an evaluation (docs/protocol.md, `execute`, "metric").

`dspy.Evaluate` runs the program on each example and calls `metric(example, prediction)`. Signet
runs an evaluation as one execution per example, so the worker does that for one example inside
the `execute` request: the same `Metric` the optimizers use (metrics.py), the same `dspy.Example`
with its inputs marked, and the metric's own LM calls (a judge) traced and charged to the request.

A metric that raises fails the request with the metric's error (`user_code` for the user's code,
the LM's code for a judge whose LM failed, which Go may retry); the evaluation scores that example
`failure_score`, as `Evaluate` does.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from . import lms
from .builder import SignetProgram
from .errors import BadInput, Cancelled
from .metrics import Metric, build_metric, example_of, program_fields, retrieves, score_of
from .progress import RunControl
from .tracing import Tracer


@dataclass
class Scoring:
    metric: Metric
    control: RunControl
    labels: dict[str, Any]
    extra: list[Metric] = field(default_factory=list)  # `metrics`: reported beside the score

    def score(self, inputs: dict[str, Any], prediction: Any, tracer: Tracer) -> float:
        """metric(example, prediction, trace=None) as a number, under a `metric` span."""
        return self._one(self.metric, inputs, prediction, tracer)

    def scores(self, inputs: dict[str, Any], prediction: Any, tracer: Tracer) -> dict[str, float]:
        """Each extra metric's score by its name, each under its own `metric` span."""
        return {m.name: self._one(m, inputs, prediction, tracer) for m in self.extra}

    def _one(self, metric: Metric, inputs: dict[str, Any], prediction: Any, tracer: Tracer) -> float:
        example = example_of(inputs, self.labels)
        with tracer.span("metric " + metric.name, inputs=self.labels) as outputs:
            try:
                value = metric(example, prediction, None)
            except Cancelled:
                if self.control.error is not None:
                    raise self.control.error from None
                raise
            score = score_of(value)
            outputs["score"] = score
        return score


def build(params: dict, program: SignetProgram, *, task_lm: Any, lm_cache: lms.LMCache, profiles: dict[int, Any],
          cancel: threading.Event | None, base_dir: str | None) -> Scoring | None:
    """The request's Scoring, or None without a metric. Bad specs fail here, before any LM call.

    The judge's LM (metric.lm, else the task LM) is registered in `profiles`, so the Tracer prices it.
    """
    spec = params.get("metric")
    labels = params.get("labels")
    if spec is None:
        if labels is not None:
            raise BadInput("labels are only read with a metric", field="labels")
        if params.get("metrics"):
            raise BadInput("metrics are only read after a metric", field="metrics")
        return None
    if not isinstance(spec, dict):
        raise BadInput("metric must be an object with name and kind", field="metric")
    if labels is None:
        labels = {}
    if not isinstance(labels, dict):
        raise BadInput("labels must be an object mapping field names to values", field="labels")
    judge_lm = task_lm
    if spec.get("lm") is not None:
        profile = lms.parse_profile(spec["lm"], "metric.lm")
        judge_lm = lm_cache.for_request(profile)
        profiles[id(judge_lm)] = profile
    control = RunControl(cancel, None)
    inputs, outputs = program_fields(program)

    def one(spec: Any) -> Metric:
        return build_metric(spec, control, inputs=inputs, outputs=outputs, base_dir=base_dir, judge_lm=judge_lm,
                            retrieves=retrieves(program))

    metric = one(spec)
    extra_specs = params.get("metrics") or []
    if not isinstance(extra_specs, list):
        raise BadInput("metrics must be a list of metric objects", field="metrics")
    extra = []
    for i, extra_spec in enumerate(extra_specs):
        try:
            extra.append(one(extra_spec))
        except BadInput as exc:  # name which of the metrics is wrong
            raise BadInput(f"metrics[{i}]: {exc.message}", field=f"metrics[{i}]") from exc
    return Scoring(metric, control, labels, extra)

