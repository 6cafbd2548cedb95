"""What the endpoint balancer (lmpool.py) adds to one LM call: acquire + release, no HTTP.

Usage (in bridge/worker): PYTHONPATH=. python tests/bench_lmpool.py [calls]
Prints, for pools of 2 and 8 endpoints with and without an rpm cap, the best of 5 rounds of `calls`
sequential acquire/release pairs, in microseconds per call.
"""

from __future__ import annotations

import sys
import timeit

from signet_worker import lmpool


def main(calls: int) -> None:
    for n in (2, 8):
        for rpm in (0, 10**9):
            pool = lmpool.Pool("bench", [lmpool.Endpoint(lmpool.EndpointSpec(f"http://e{i}/v1", weight=1 + i % 2,
                                                                             rpm=rpm), None) for i in range(n)])

            def one() -> None:
                endpoint = pool.acquire(1.0)
                pool.release(endpoint, latency=0.01, usage={"prompt_tokens": 1, "completion_tokens": 1})

            best = min(timeit.repeat(one, number=calls, repeat=5))
            print(f"{n} endpoints, rpm {'on ' if rpm else 'off'}: {best / calls * 1e6:.1f} us per call")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
