"""Endpoint pools: one LM profile served by several OpenAI-compatible servers (docs/protocol.md, `LM.endpoints`).

A call goes to the least-loaded available endpoint (calls in flight / weight; between equals, the one
sent fewer calls per weight, so that idle endpoints take turns by weight), within each endpoint's
`max_concurrency` and requests per minute (`rpm`). A failing endpoint (refused connection, timeout, 5xx)
is ejected for the profile's `cooldown_s` (`COOLDOWN` by default), then tried again; a 429 backs it off
for the provider's `Retry-After` (seconds or an HTTP date). While every endpoint is capped or backing off, a call waits for
the first to free up; while every one is ejected, it probes the one whose cool-down ends first.

State lives in the worker process: N workers each balance their own share of the calls, and each
caps its own concurrency and rate (a profile's limits are per worker). `ping` reports every pool's
endpoints (`report()`), which Go sums over the workers (`signet lm status`, `/metrics`).
"""

from __future__ import annotations

import collections
import email.utils
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from .errors import BadInput

COOLDOWN = 30.0  # seconds an endpoint that failed is left out
DEFAULT_BACKOFF = 5.0  # seconds a 429 without a usable Retry-After backs an endpoint off
MAX_BACKOFF = 300.0  # a Retry-After beyond this is capped: the endpoint is retried then
_MINUTE = 60.0

HEALTHY, EJECTED, BACKING_OFF = "healthy", "ejected", "backing_off"


@dataclass(frozen=True)
class EndpointSpec:
    api_base: str
    api_key_env: str | None = None
    weight: float = 1.0
    max_concurrency: int = 0  # 0: no cap
    rpm: int = 0  # 0: no cap


def parse_endpoints(raw: Any, where: str) -> tuple[EndpointSpec, ...]:
    """Check and convert a profile's `endpoints`; errors are `bad_input` naming the field."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        raise BadInput(f"{where}.endpoints must be a non-empty list", field=f"{where}.endpoints")
    out = []
    for i, item in enumerate(raw):
        at = f"{where}.endpoints[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("api_base"), str) or not item["api_base"]:
            raise BadInput(f"{at} must be an object with an api_base", field=f"{at}.api_base")
        key = item.get("api_key_env")
        if key is not None and not isinstance(key, str):
            raise BadInput(f"{at}.api_key_env must be a string", field=f"{at}.api_key_env")
        numbers = {}
        for name, kind, default in (("weight", float, 1.0), ("max_concurrency", int, 0), ("rpm", int, 0)):
            value = item.get(name)
            if value is None or value == 0:
                numbers[name] = default
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise BadInput(f"{at}.{name} must be a positive number", field=f"{at}.{name}")
            numbers[name] = kind(value)
        out.append(EndpointSpec(api_base=item["api_base"], api_key_env=key or None, **numbers))
    return tuple(out)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (`now` is wall time)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


class Endpoint:
    """One server of a pool and what this worker has seen of it (guarded by the pool's lock)."""

    def __init__(self, spec: EndpointSpec, client: Any):
        self.spec = spec
        self.client = client  # what the LM posts with (an httpx.Client); the pool only holds it
        self.inflight = 0
        self.picked = 0  # calls sent here: between equally loaded endpoints, the one with fewer per weight goes
        self.calls = 0  # ended without an error
        self.errors = 0
        self.rate_limited = 0  # 429s
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.latency_total = 0.0  # seconds, over `calls`
        self.ejected_until = 0.0
        self.backoff_until = 0.0
        self.last_error = ""
        self.started: collections.deque[float] = collections.deque()  # start times within the last minute (rpm only)

    def state(self, now: float) -> str:
        if now < self.ejected_until:
            return EJECTED
        if now < self.backoff_until:
            return BACKING_OFF
        return HEALTHY

    def _free_at(self, now: float) -> float:
        """When this endpoint can take a call (now or later), its caps and back-off considered."""
        at = max(now, self.backoff_until)
        while self.started and self.started[0] <= now - _MINUTE:
            self.started.popleft()
        if self.spec.rpm and len(self.started) >= self.spec.rpm:
            at = max(at, self.started[len(self.started) - self.spec.rpm] + _MINUTE)
        return at

    def report(self, now: float) -> dict[str, Any]:
        return {
            "api_base": self.spec.api_base, "state": self.state(now), "inflight": self.inflight,
            "calls": self.calls, "errors": self.errors, "rate_limited": self.rate_limited,
            "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
            "latency_s": self.latency_total, "last_error": self.last_error,
        }


class NoEndpoint(Exception):
    """Every endpoint stayed busy, capped or backing off for the whole wait."""


class Pool:
    """The endpoints of one profile in this worker; `acquire` one for a call, `release` it with the outcome."""

    def __init__(self, name: str, endpoints: list[Endpoint], clock: Callable[[], float] = time.monotonic,
                 cooldown: float = COOLDOWN):
        if not endpoints:
            raise ValueError("a pool needs at least one endpoint")
        self.name = name
        self.endpoints = endpoints
        self._clock = clock
        self._cooldown = cooldown
        self._cond = threading.Condition()

    def pick(self) -> tuple[Endpoint | None, float]:
        """The endpoint a call would take now (counted as started), or None and how long to wait."""
        with self._cond:
            return self._pick(self._clock())

    def _pick(self, now: float) -> tuple[Endpoint | None, float]:
        best, best_load, wait = None, (0.0, 0.0), float("inf")
        live = [e for e in self.endpoints if now >= e.ejected_until]
        if not live:  # every one failed lately: probe the one whose cool-down ends first
            live = [min(self.endpoints, key=lambda e: e.ejected_until)]
        for e in live:
            free = e._free_at(now)
            if e.spec.max_concurrency and e.inflight >= e.spec.max_concurrency:
                free = float("inf")  # until a call of its own ends (release notifies)
            if free > now:
                wait = min(wait, free - now)
                continue
            load = (e.inflight / e.spec.weight, e.picked / e.spec.weight)
            if best is None or load < best_load:
                best, best_load = e, load
        if best is None:
            return None, wait
        best.inflight += 1
        best.picked += 1
        if best.spec.rpm:
            best.started.append(now)
        return best, 0.0

    def acquire(self, timeout: float) -> Endpoint:
        """An endpoint for one call, waiting up to `timeout` seconds while none can take it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                endpoint, wait = self._pick(self._clock())
                if endpoint is not None:
                    return endpoint
                left = deadline - time.monotonic()
                if left <= 0:
                    raise NoEndpoint(f"no endpoint of LM pool {self.name!r} could take a call within {timeout:g}s "
                                     f"(every one is at its max_concurrency, its rpm or backing off after a 429)")
                self._cond.wait(min(wait, left))

    def release(self, endpoint: Endpoint, *, latency: float, usage: dict[str, Any] | None = None) -> None:
        """The call ended with a reply."""
        with self._cond:
            endpoint.inflight -= 1
            endpoint.calls += 1
            endpoint.latency_total += latency
            usage = usage or {}
            endpoint.prompt_tokens += _int(usage.get("prompt_tokens"))
            endpoint.completion_tokens += _int(usage.get("completion_tokens"))
            self._cond.notify_all()

    def failed(self, endpoint: Endpoint, error: str, *, rate_limited: bool = False,
               retry_after: float | None = None) -> None:
        """The call failed at this endpoint: a 429 backs it off, anything else ejects it."""
        with self._cond:
            now = self._clock()
            endpoint.inflight -= 1
            endpoint.errors += 1
            endpoint.last_error = error[:300]
            if rate_limited:
                endpoint.rate_limited += 1
                hint = DEFAULT_BACKOFF if retry_after is None else retry_after
                endpoint.backoff_until = now + min(hint, MAX_BACKOFF)
            else:
                endpoint.ejected_until = now + self._cooldown
            self._cond.notify_all()

    def ended(self, endpoint: Endpoint) -> None:
        """The call ended neither with a reply nor with the endpoint's fault (a 4xx of the request's own)."""
        with self._cond:
            endpoint.inflight -= 1
            endpoint.errors += 1
            self._cond.notify_all()

    def report(self) -> dict[str, Any]:
        with self._cond:
            now = self._clock()
            return {"pool": self.name, "endpoints": [e.report(now) for e in self.endpoints]}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


# Every pool this worker has built, by identity (name and endpoints), for `ping` to report; kept
# across LMCache evictions so that counts do not restart.
_POOLS: dict[tuple, Pool] = {}
_POOLS_LOCK = threading.Lock()


def shared(name: str, identity: tuple, make: Callable[[], Pool]) -> Pool:
    """The process's pool for this profile (its endpoints and keys: `identity`), made once."""
    key = (name, identity)
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = make()
        return pool


def report() -> list[dict[str, Any]]:
    """Every pool's endpoints, as `ping` answers them."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
    return [p.report() for p in pools]
