"""Secrets (API keys) and their removal from anything the worker writes.

The values of every variable the config names as a profile's api_key_env
(SIGNET_SECRET_ENVS, registered at start by `register_env`) and any key a
profile reads (`lms.py`) are registered; anything shaped like a common key
(sk-..., Bearer <token>, AWS, GitHub, Google) goes too. Every line written
through Python's stderr (logging, print, warnings) and every error message
passes through `redact`, so a key that some library puts into an exception
message, a log record or a repr is gone before it is written. Protocol frames
are not redacted here: Go redacts every line a worker sends (frames and fd 2
alike) before it decodes it, with the same values (SIGNET_SECRET_ENVS is Go's
list; a profile's key is one of them) and these shapes, so a second pass here
only cost CPU. The shapes are Go's model/redact ones: keep the two in step.
"""

from __future__ import annotations

import json
import os
import re
import threading
from typing import Callable, TextIO

REPLACEMENT = "[redacted]"
_MIN_LEN = 8  # shorter values would redact ordinary text and protect nothing
SECRET_ENVS = "SIGNET_SECRET_ENVS"


def _key_like(s: str) -> bool:
    """A generated token: a digit, and a run of 16 letters and digits (dashed words have neither)."""
    longest = max((len(run) for run in re.findall(r"[A-Za-z0-9]+", s)), default=0)
    return longest >= 16 and any(c.isdigit() for c in s)


# (markers, expression, vet): a match contains a marker; group 1, when there is one, is what goes.
_SHAPES: tuple[tuple[tuple[str, ...], re.Pattern[str], Callable[[str], bool] | None], ...] = (
    (("sk-",), re.compile(r"\bsk-[A-Za-z0-9_-]{20,}", re.ASCII), _key_like),
    (("earer",), re.compile(r"\b[Bb]earer\s+([A-Za-z0-9._~+/-]{16,}=*)", re.ASCII), _key_like),
    (("AKIA", "ASIA"), re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", re.ASCII), None),
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b", re.ASCII), None),
    (("github_pat_",), re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,}", re.ASCII), None),
    (("AIza",), re.compile(r"\bAIza[0-9A-Za-z_-]{35}", re.ASCII), None),
)

# Whether a text holds any shape's marker (a frame usually holds none), in four scans that each skip
# along the text in C (a literal, or a regex with a literal prefix): one regex alternating all eleven
# markers tries every position and cost 3x as much on a spans frame. test_redact checks that every
# marker of _SHAPES is found here.
_A_MARKER = re.compile(r"A(?:KIA|SIA|Iza)")
_GH_MARKER = re.compile(r"g(?:h[pousr]_|ithub_pat_)")


def _any_marker(text: str) -> bool:
    return ("sk-" in text or "earer" in text or _A_MARKER.search(text) is not None
            or _GH_MARKER.search(text) is not None)


def _replace_shape(pattern: re.Pattern[str], vet: Callable[[str], bool] | None, text: str) -> str:
    def sub(m: re.Match[str]) -> str:
        group = 1 if pattern.groups else 0
        if vet is not None and not vet(m.group(group)):
            return m.group(0)
        start, end = m.start(group) - m.start(0), m.end(group) - m.start(0)
        whole = m.group(0)
        return whole[:start] + REPLACEMENT + whole[end:]

    return pattern.sub(sub, text)

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()


def register(value: str | None) -> None:
    """Remember a secret value so that it is redacted from all output."""
    global _secrets
    if not value or len(value) < _MIN_LEN:
        return
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    with _lock:
        merged = set(_secrets) | {f for f in forms if len(f) >= _MIN_LEN}
        # Longest first, so a secret that contains another is replaced whole.
        _secrets = tuple(sorted(merged, key=len, reverse=True))


def register_env() -> None:
    """Register the values of the variables SIGNET_SECRET_ENVS names (comma separated)."""
    for name in os.environ.get(SECRET_ENVS, "").split(","):
        if name.strip():
            register(os.environ.get(name.strip()))


def redact(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REPLACEMENT)
    if not _any_marker(text):
        return text
    for markers, pattern, vet in _SHAPES:
        if any(m in text for m in markers):
            text = _replace_shape(pattern, vet, text)
    return text


def known() -> tuple[str, ...]:
    return _secrets


class RedactingStream:
    """A text stream wrapper that redacts secrets before writing.

    Writes are passed through whole (no line buffering), so a secret split over
    two `write` calls could slip through; loggers and print() write whole
    records, which is what matters in practice.
    """

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._stream.fileno()

    def __getattr__(self, name: str):
        return getattr(self._stream, name)
