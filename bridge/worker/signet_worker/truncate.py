"""Span payloads bounded: a field over the limit is cut with a marker saying how much, never dropped silently.

The limit reaches the worker as SIGNET_SPAN_PAYLOAD (bytes; the config's limits.span_payload).
"""

from __future__ import annotations

import json
import os
from typing import Any

DEFAULT_SPAN_PAYLOAD = 256 << 10

# The fields of a span that carry data; the others (ids, times, usage, cost) are small.
PAYLOAD_FIELDS = ("inputs", "outputs", "messages", "completion", "error")

# A value this small is kept whole past the budget: a message's role, a number, a flag.
SMALL = 64


def span_payload_limit() -> int:
    """The limit the worker was started with, else the default."""
    raw = os.environ.get("SIGNET_SPAN_PAYLOAD", "")
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_SPAN_PAYLOAD
    return value if value > 0 else DEFAULT_SPAN_PAYLOAD


def marker(dropped: int) -> str:
    return f"…[truncated {dropped} bytes]"


def cut_span(data: dict[str, Any], limit: int) -> dict[str, Any]:
    """data with each payload field cut to about limit bytes of text; the shape (dicts, lists, messages) is kept."""
    for key in PAYLOAD_FIELDS:
        if key in data and not _fits(data[key], limit):
            data[key], _ = _cut(data[key], limit)
    return data


def _fits(value: Any, budget: int) -> bool:
    """Whether `_cut(value, budget)` would keep value as it is: the bytes it counts, summed without
    copying anything, stay under budget (most payloads; _cut rebuilds every dict and list it walks)."""
    total = 0
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            total += len(v) if v.isascii() else len(v.encode())
        elif isinstance(v, dict):
            total += sum(len(str(k)) for k in v)
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif v is None or isinstance(v, bool):
            total += 5
        elif type(v) is int or type(v) is float:
            total += _size(v)
        else:
            return False  # anything else: let _cut decide
        if total >= budget:
            return False
    return True


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, default=str).encode())


def _cut(value: Any, budget: int) -> tuple[Any, int]:
    """value within budget bytes (its strings count their UTF-8 bytes), and the bytes it took."""
    if isinstance(value, str):
        raw = value.encode()
        if len(raw) <= max(budget, SMALL):
            return value, len(raw)
        kept = raw[:max(budget, 0)].decode(errors="ignore")
        return kept + marker(len(raw) - len(kept.encode())), max(budget, 0)
    if isinstance(value, dict):
        used = 0
        out: dict[Any, Any] = {}
        for k, item in value.items():
            out[k], n = _cut(item, budget - used)
            used += n + len(str(k))
        return out, used
    if isinstance(value, list):
        used = 0
        items: list[Any] = []
        for i, item in enumerate(value):
            if used >= budget and not isinstance(item, dict):
                # Numbers and nested lists past the budget: one marker for the rest.
                items.append(marker(_size(value[i:])))
                return items, used
            cut, n = _cut(item, budget - used)
            items.append(cut)
            used += n
        return items, used
    if value is None or isinstance(value, bool):
        return value, 5  # null, true, false: never cut
    n = len(str(value)) if type(value) is int else _size(value)  # an int's JSON is its str()
    if n > max(budget, SMALL):
        return marker(n), 0
    return value, n
