"""Secrets the worker has read (API keys) and their removal from anything it writes.

A key is registered the moment `lms.py` reads it from the environment. Every
protocol frame and every line written through Python's stderr passes through
`redact`, so a key that some library puts into an exception message, a log
record or a repr never leaves the process.
"""

from __future__ import annotations

import json
import threading
from typing import TextIO

REPLACEMENT = "[redacted]"
_MIN_LEN = 4  # shorter values would redact ordinary text and protect nothing

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


def redact(text: str) -> str:
    secrets = _secrets
    if not secrets:
        return text
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REPLACEMENT)
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
