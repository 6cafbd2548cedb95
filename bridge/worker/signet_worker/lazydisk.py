"""DSPy's disk cache, opened at its first use instead of at the worker's start.

Opening DSPy's FanoutCache (16 SQLite shards) takes 0.15-0.4 s, which every worker paid before its hello,
four at once on a pool's start. The cache behaves the same; only its opening moves to the first LM call
that misses the in-memory cache (or anything else that touches it).
"""

from __future__ import annotations

import threading
from typing import Any


class LazyDiskCache:
    """Stands for `diskcache.FanoutCache(**kwargs)`: opens it on first use, once, whatever the thread."""

    def __init__(self, **kwargs: Any):
        self._kwargs = kwargs
        self._cache: Any = None
        self._lock = threading.Lock()

    def opened(self) -> bool:
        return self._cache is not None

    def _open(self) -> Any:
        cache = self._cache
        if cache is None:
            with self._lock:
                if self._cache is None:
                    from diskcache import FanoutCache

                    self._cache = FanoutCache(**self._kwargs)
                cache = self._cache
        return cache

    def __contains__(self, key: object) -> bool:
        return key in self._open()

    def __getattr__(self, name: str) -> Any:
        # Only for what this class lacks (get, set, delete, directory...): the real cache's.
        if name in ("_kwargs", "_cache", "_lock"):
            raise AttributeError(name)  # not set yet (a copy in the making): never open the cache for it
        return getattr(self._open(), name)
