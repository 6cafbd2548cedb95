"""DSPy's disk cache opens at its first use, not at the worker's start, and then is DSPy's cache as before."""

from __future__ import annotations

import dspy
from diskcache import FanoutCache

from signet_worker import runner


def test_the_disk_cache_opens_at_first_use_and_keeps_entries(tmp_path):
    runner.configure_dspy(str(tmp_path), 100)
    cache = dspy.cache
    assert not cache.disk_cache.opened()
    assert not any(tmp_path.iterdir())  # no SQLite shard was created at start
    request = {"model": "signet/test", "messages": [{"role": "user", "content": "hi"}]}
    cache.put(request, {"answer": "hello"})
    assert cache.disk_cache.opened()
    key = cache.cache_key(request)
    assert key in cache.disk_cache
    cache.reset_memory_cache()
    assert cache.get(request) == {"answer": "hello"}  # from the disk tier
    other = FanoutCache(directory=str(tmp_path), shards=16)  # what another worker opens
    assert key in other
    other.close()
