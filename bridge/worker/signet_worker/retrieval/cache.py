"""The embedding cache: a SQLite file in the workspace shared by the workers (docs/protocol.md,
"Embedding cache").

Keyed by (embedder name, sha256 of the text, kind), valued by the float32 vector and the time it
was written. An entry older than the TTL is a miss and is deleted; above the entry limit the oldest
entries are deleted. WAL mode and a busy timeout let several worker processes share the file; one
connection per cache behind a lock makes it safe for the request threads of one worker.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from typing import Callable

import numpy as np

from .embedders import Embedder, Tally

DEFAULT_ENTRIES = 10_000
DEFAULT_TTL = 86_400.0
BUSY_TIMEOUT_MS = 5_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    embedder TEXT NOT NULL,
    digest TEXT NOT NULL,
    kind TEXT NOT NULL,
    vector BLOB NOT NULL,
    written REAL NOT NULL,
    PRIMARY KEY (embedder, digest, kind)
);
CREATE INDEX IF NOT EXISTS embeddings_written ON embeddings (written);
"""


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Cache:
    def __init__(self, path: str, entries: int = DEFAULT_ENTRIES, ttl: float = DEFAULT_TTL,
                 clock: Callable[[], float] = time.time):
        self.path = path
        self.entries = max(1, int(entries))
        self.ttl = float(ttl)
        self._clock = clock
        self._lock = threading.Lock()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
                                   isolation_level=None)
        self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(_SCHEMA)

    def get(self, embedder: str, kind: str, texts: list[str]) -> list[np.ndarray | None]:
        """Each text's cached vector, or None (absent or expired: expired rows are deleted)."""
        keys = [digest(t) for t in texts]
        found: dict[str, tuple[bytes, float]] = {}
        oldest = self._clock() - self.ttl
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT digest, vector, written FROM embeddings WHERE embedder = ? AND kind = ? "
                    f"AND digest IN ({marks})", (embedder, kind, *chunk)).fetchall()
                found.update((d, (v, w)) for d, v, w in rows)
            expired = [d for d, (_, written) in found.items() if written < oldest]
            if expired:
                self._db.executemany("DELETE FROM embeddings WHERE embedder = ? AND kind = ? AND digest = ?",
                                     [(embedder, kind, d) for d in expired])
        out: list[np.ndarray | None] = []
        for key in keys:
            hit = found.get(key)
            out.append(None if hit is None or hit[1] < oldest else np.frombuffer(hit[0], dtype=np.float32))
        return out

    def put(self, embedder: str, kind: str, texts: list[str], vectors: np.ndarray) -> None:
        now = self._clock()
        rows = [(embedder, digest(t), kind, np.asarray(v, dtype=np.float32).tobytes(), now)
                for t, v in zip(texts, vectors)]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?, ?)", rows)
                count = self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
                if count > self.entries:
                    self._db.execute("DELETE FROM embeddings WHERE rowid IN (SELECT rowid FROM embeddings "
                                     "ORDER BY written, rowid LIMIT ?)", (count - self.entries,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def embed(embedder: Embedder, texts: list[str], kind: str, cache: Cache | None, tally: Tally) -> np.ndarray:
    """`embedder.embed` through the cache: only the misses are embedded; hits and misses counted."""
    if cache is None:
        tally.misses += len(texts)
        return embedder.embed(texts, kind, tally)
    cached = cache.get(embedder.name, kind, texts)
    missing = [i for i, v in enumerate(cached) if v is None]
    tally.hits += len(texts) - len(missing)
    tally.misses += len(missing)
    if missing:
        fresh = embedder.embed([texts[i] for i in missing], kind, tally)
        cache.put(embedder.name, kind, [texts[i] for i in missing], fresh)
        for i, row in zip(missing, fresh):
            cached[i] = row
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([np.asarray(v, dtype=np.float32) for v in cached])


_shared: dict[tuple[str, int, float], Cache] = {}
_shared_lock = threading.Lock()


def from_env() -> Cache | None:
    """The worker's cache from SIGNET_EMBED_CACHE(_ENTRIES, _TTL); None when no file is set."""
    path = os.environ.get("SIGNET_EMBED_CACHE", "")
    if not path:
        return None
    entries = _env_number("SIGNET_EMBED_CACHE_ENTRIES", DEFAULT_ENTRIES)
    ttl = _env_number("SIGNET_EMBED_CACHE_TTL", DEFAULT_TTL)
    key = (path, int(entries), float(ttl))
    with _shared_lock:
        cache = _shared.get(key)
        if cache is None:
            cache = _shared[key] = Cache(path, int(entries), float(ttl))
    return cache


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        return default
    return value if value > 0 else default
