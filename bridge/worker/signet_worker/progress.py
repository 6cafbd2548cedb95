"""Run control and progress of an optimization: stop signals, LM accounting, throttled progress events.

An optimizer runs for minutes inside DSPy code Signet does not control. The
only places the worker gets control back are DSPy's callbacks (every module,
adapter and LM call), the metric, and the optimizer hooks `optimize.py`
installs. `RunControl` is what all of them consult: it says whether the run
must stop (Go cancelled the request, the budget is spent, the user's metric
failed), and `check()` raises `Cancelled` (a BaseException, which DSPy's
`except Exception` handlers let through) when it must.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from .errors import BudgetRefused, Cancelled
from .tracing import Tracer

# At most one progress event per this many seconds, except phase changes and trials (always sent).
PROGRESS_EVERY = 0.1
PHASES = ("baseline", "bootstrap", "propose", "trials", "evaluate", "test", "done")
# The attribute a top-level call's result gets: what its LM calls cost (an example's cost in a trial).
COST_ATTR = "_signet_cost"


class StopSignal(threading.Event):
    """Set when the run must stop; the Tracer only asks `is_set()`, so the Go cancel is folded in."""

    def __init__(self, cancel: threading.Event | None):
        super().__init__()
        self._cancel = cancel

    def is_set(self) -> bool:
        return super().is_set() or (self._cancel is not None and self._cancel.is_set())


class RunControl:
    """Why and whether the run stops; counts metric calls."""

    def __init__(self, cancel: threading.Event | None, budget: float | None):
        self.signal = StopSignal(cancel)
        self._cancel = cancel
        self.budget = budget if budget and budget > 0 else None
        self._lock = threading.Lock()
        self._reason: str | None = None
        self.error: BaseException | None = None  # a metric's failure: the request's error
        self.metric_calls = 0
        self.on_metric: Callable[[], None] | None = None

    @property
    def reason(self) -> str | None:
        """"budget", "cancelled", "error" or None."""
        with self._lock:
            if self._reason is not None:
                return self._reason
        if self._cancel is not None and self._cancel.is_set():
            return "cancelled"
        return None

    def stop(self, reason: str) -> None:
        with self._lock:
            if self._reason is None:
                self._reason = reason
        self.signal.set()

    def fail(self, error: BaseException) -> None:
        with self._lock:
            if self.error is None:
                self.error = error
        self.stop("error")

    def should_stop(self) -> bool:
        return self.signal.is_set()

    def check(self) -> None:
        if self.signal.is_set():
            raise Cancelled()

    def metric_called(self) -> None:
        with self._lock:
            self.metric_calls += 1
        hook = self.on_metric
        if hook is not None:
            hook()

    def spent(self, cost: float) -> None:
        """The run's cost so far; reaching the budget stops it."""
        if self.budget is not None and cost >= self.budget:
            self.stop("budget")


class OptTracer(Tracer):
    """The execute Tracer without span events: usage, cost, LM-call count, the budget stop."""

    def __init__(self, *, control: RunControl, profiles: dict[int, Any], on_lm: Callable[[], None] | None = None,
                 gate: Any = None):
        super().__init__(emit=None, cancel=control.signal, program=None, modules={}, profiles=profiles, gate=gate)
        self._control = control
        self._on_lm = on_lm
        self.lm_calls = 0
        # Per thread: the depth of module calls and the cost of its LM calls. DSPy's Evaluate runs an
        # example's program call wholly in one thread, so a top-level call's cost is its thread's delta.
        self._local = threading.local()

    def _thread(self) -> threading.local:
        local = self._local
        if not hasattr(local, "depth"):
            local.depth, local.cost, local.unknown, local.starts = 0, 0.0, 0, []
        return local

    def on_module_start(self, call_id, instance, inputs):
        super().on_module_start(call_id, instance, inputs)  # a cancel raises here: no call to count
        local = self._thread()
        local.depth += 1
        local.starts.append((local.cost, local.unknown))

    def on_module_end(self, call_id, outputs, exception=None):
        local = self._thread()
        start, unknown = local.starts.pop() if local.starts else (local.cost, local.unknown)
        local.depth = max(local.depth - 1, 0)
        # A call with an LM call of unknown cost has no cost of its own: it stays unknown, not 0.
        if local.depth == 0 and outputs is not None and exception is None and local.unknown == unknown:
            try:
                setattr(outputs, COST_ATTR, local.cost - start)
            except (AttributeError, TypeError):
                pass  # a result that takes no attributes: its cost stays unknown
        super().on_module_end(call_id, outputs, exception)

    def _reserve(self, call_id: str, lm: Any, inputs: dict[str, Any]) -> None:
        """A call the monthly caps refuse stops the run as its own budget does: with its best so far."""
        try:
            super()._reserve(call_id, lm, inputs)
        except BudgetRefused:
            self._control.stop("budget")
            raise Cancelled() from None

    def _account(self, span: Any, outputs: Any) -> dict[str, Any]:
        fields = super()._account(span, outputs)
        local = self._thread()
        local.cost += float(fields.get("cost") or 0.0)
        if fields.get("cost_unknown"):
            local.unknown += 1
        with self._lock:
            self.lm_calls += 1
            cost = self.cost
        # Set before the end hook's cancel check, so the call that reaches the budget is the last one.
        self._control.spent(cost)
        if self._on_lm is not None:
            self._on_lm()
        return fields

    def totals(self) -> tuple[int, int, int, float]:
        """(lm_calls, prompt tokens, completion tokens, cost)."""
        with self._lock:
            tin = sum(u.prompt_tokens for u in self.usage.values())
            tout = sum(u.completion_tokens for u in self.usage.values())
            return self.lm_calls, tin, tout, self.cost

    def spent(self) -> dict[str, Any]:
        """What the run's LM calls cost so far: a failed run's `detail.spent` (docs/protocol.md)."""
        lm_calls, _, _, cost = self.totals()
        return {"lm_calls": lm_calls, "cost": round(cost, 12), "cost_unknown": self.cost_unknown,
                "usage": self.usage_totals()}

    def usage_totals(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {model: {"calls": u.calls, "prompt_tokens": u.prompt_tokens,
                            "completion_tokens": u.completion_tokens,
                            "total_tokens": u.prompt_tokens + u.completion_tokens}
                    for model, u in self.usage.items()}


class Progress:
    """Builds and throttles `progress` events."""

    def __init__(self, emit: Callable[[dict[str, Any]], None] | None, tracer: OptTracer | None = None,
                 interval: float | None = None):
        self._emit = emit
        self.tracer = tracer
        self._interval = PROGRESS_EVERY if interval is None else interval
        self._lock = threading.Lock()
        self._last = 0.0
        self.started = time.monotonic()
        self.phase: str | None = None
        self.trial = 0
        self.trials: int | None = None
        self.score: float | None = None
        self.best_score: float | None = None
        # Fraction of the optimizer's work done, when the optimizer says (GEPA's metric-call budget).
        self.fraction: float | None = None
        # Or work counted elsewhere, done of total (BootstrapFewShot's training examples tried).
        self._done: Callable[[], int] | None = None
        self._total = 0

    def follow(self, done: Callable[[], int] | None, total: int = 0) -> None:
        """Measure the phase's progress as done() of total, until followed with None."""
        with self._lock:
            self._done, self._total = done, total

    def set_phase(self, phase: str, trials: int | None = None) -> None:
        with self._lock:
            changed = phase != self.phase
            self.phase = phase
            if trials is not None:
                self.trials = trials
        if changed or trials is not None:
            self.send(force=True)

    def set_trials(self, trials: int | None) -> None:
        with self._lock:
            self.trials = trials

    def on_trial(self, n: int, score: float | None, best: float | None) -> None:
        with self._lock:
            self.trial = n
            self.score = score
            self.best_score = best
        self.send(force=True)

    def tick(self) -> None:
        self.send(force=False)

    def data(self) -> dict[str, Any]:
        lm_calls, tin, tout, cost = self.tracer.totals() if self.tracer is not None else (0, 0, 0, 0.0)
        elapsed = time.monotonic() - self.started
        with self._lock:
            fraction = self.fraction
            if fraction is None and self._done is not None and self._total > 0:
                fraction = min(1.0, self._done() / self._total)
            if fraction is None and self.trials and self.phase == "trials":
                fraction = min(1.0, self.trial / self.trials)
            eta = elapsed * (1 - fraction) / fraction if fraction and fraction > 0 else None
            return {
                "phase": self.phase, "trial": self.trial, "trials": self.trials, "score": self.score,
                "best_score": self.best_score, "lm_calls": lm_calls, "tokens_in": tin, "tokens_out": tout,
                "cost": round(cost, 12), "elapsed_s": round(elapsed, 3),
                "eta_s": round(eta, 3) if eta is not None else None,
            }

    def send(self, force: bool) -> None:
        if self._emit is None:
            return
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last < self._interval:
                return
            self._last = now
        self._emit(self.data())
