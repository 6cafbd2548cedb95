"""Reserving each LM call against the owner's budget gate (docs/protocol.md, "Budgets").

When a request's params say `"reserve": true`, every LM call of the request asks
Go before it starts: the worker sends a `reserve` event with the call's estimated
cost and blocks until Go answers with an `admit` control request; a refusal stops
the request with the error `budget`. After the call a `settle` event says what it
really cost. Go answers from its one budget gate, so the month's caps hold however
many calls are in flight: each call is admitted only while what is spent, what the
calls in flight hold and this call's estimate stay within the cap.

`Reservations` is the worker's side of the handshake: request threads wait in
`ask`, the reader thread delivers Go's answers with `answer`, and a cancel wakes
the request's waiters.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import BudgetRefused, Cancelled

EVENT_RESERVE = "reserve"
EVENT_SETTLE = "settle"
# Characters per token in the estimate of a prompt (a common rule of thumb for English text).
CHARS_PER_TOKEN = 4
# Without max_tokens anywhere, a completion is estimated at this many tokens.
DEFAULT_COMPLETION_TOKENS = 1000
# How many recent call costs estimate a call of a profile without prices.
RECENT_CALLS = 20


@dataclass
class _Waiter:
    done: threading.Event = field(default_factory=threading.Event)
    admit: bool = False
    message: str = ""
    cancelled: bool = False


class Reservations:
    """The reservations requests are waiting on, answered by the reader thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[tuple[int, str], _Waiter] = {}

    def ask(self, req_id: int, call: str, send: Callable[[], None], cancel: threading.Event | None) -> None:
        """Send a reservation (`send`) and wait for Go's answer; raise if refused or cancelled."""
        waiter = _Waiter()
        with self._lock:
            self._waiting[(req_id, call)] = waiter
        try:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            send()
            waiter.done.wait()
        finally:
            with self._lock:
                self._waiting.pop((req_id, call), None)
        if waiter.cancelled:
            raise Cancelled()
        if not waiter.admit:
            raise BudgetRefused(waiter.message or "the budget gate refused an LM call")

    def answer(self, target: int, call: str, admit: bool, message: str) -> bool:
        """Go's answer to a reservation; False when nobody waits for it (the request ended)."""
        with self._lock:
            waiter = self._waiting.get((target, call))
        if waiter is None:
            return False
        waiter.admit, waiter.message = admit, message
        waiter.done.set()
        return True

    def cancel(self, target: int) -> None:
        """Wake the waiters of a cancelled request: they raise Cancelled."""
        with self._lock:
            waiters = [w for (req_id, _), w in self._waiting.items() if req_id == target]
        for waiter in waiters:
            waiter.cancelled = True
            waiter.done.set()


class _Recent:
    """Recent costs of calls by LM profile: the estimate of a profile without prices."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._costs: dict[str, collections.deque[float]] = {}

    def add(self, key: str, cost: float) -> None:
        with self._lock:
            self._costs.setdefault(key, collections.deque(maxlen=RECENT_CALLS)).append(cost)

    def mean(self, key: str) -> float:
        with self._lock:
            costs = self._costs.get(key)
            return sum(costs) / len(costs) if costs else 0.0


RECENT = _Recent()


def prompt_chars(messages: Any, prompt: Any) -> int:
    if isinstance(prompt, str) and messages is None:
        return len(prompt)
    total = 0
    for message in messages or []:
        content = message.get("content") if isinstance(message, dict) else message
        if isinstance(content, list):
            total += sum(len(str(part.get("text", part)) if isinstance(part, dict) else str(part)) for part in content)
        elif content is not None:
            total += len(str(content))
    return total


def estimate(profile: Any, lm: Any, inputs: dict[str, Any]) -> float:
    """What one LM call may cost (USD): its prompt at the profile's input price plus its whole token
    limit at the output price; for a profile without prices, the mean of its recent calls here."""
    if profile is None or not getattr(profile, "priced", False):
        return RECENT.mean(profile.key()) if profile is not None else 0.0
    kwargs = inputs.get("kwargs") or {}
    limit = kwargs.get("max_tokens") or kwargs.get("max_completion_tokens")
    if not limit:
        lm_kwargs = getattr(lm, "kwargs", None) or {}
        limit = lm_kwargs.get("max_tokens") or lm_kwargs.get("max_completion_tokens") or profile.max_tokens
    if not isinstance(limit, int) or limit <= 0:
        limit = DEFAULT_COMPLETION_TOKENS
    prompt_tokens = -(-prompt_chars(inputs.get("messages"), inputs.get("prompt")) // CHARS_PER_TOKEN)
    return profile.price(prompt_tokens, limit)


class CallGate:
    """One request's side of the gate: reserve before each LM call, settle after it."""

    def __init__(self, reservations: Reservations, req_id: int, emit: Callable[[str, dict], None],
                 cancel: threading.Event | None):
        self._reservations = reservations
        self._req_id = req_id
        self._emit = emit
        self._cancel = cancel

    def reserve(self, call: str, profile: Any, lm: Any, inputs: dict[str, Any]) -> None:
        est = round(estimate(profile, lm, inputs), 12)
        self._reservations.ask(self._req_id, call,
                               lambda: self._emit(EVENT_RESERVE, {"call": call, "estimate": est}), self._cancel)

    def settle(self, call: str, profile: Any, cost: float | None, billed: bool) -> None:
        """A reserved call ended: what it cost (None: unknown, Go keeps the estimate held); `billed` is
        false for a cache hit or a call that raised, which say nothing of what a call costs."""
        if billed and cost is not None and profile is not None and not getattr(profile, "priced", False):
            RECENT.add(profile.key(), cost)
        self._emit(EVENT_SETTLE, {"call": call, "cost": cost})
