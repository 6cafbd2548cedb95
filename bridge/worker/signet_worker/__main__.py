"""Entry point: `python -m signet_worker` (docs/protocol.md).

Order matters: the protocol fd is set aside and fd 1 / sys.stdout are pointed
at stderr before DSPy (or anything that might print) is imported.
"""

import os
import sys

from signet_worker import protocol  # imports no DSPy


def run() -> int:
    out_fd = protocol.isolate_stdout()
    in_fd = protocol.isolate_stdin()
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    cache_dir = os.environ.get("SIGNET_DSPY_CACHEDIR")
    if cache_dir:
        os.makedirs(cache_dir, exist_ok=True)
        os.environ["DSPY_CACHEDIR"] = cache_dir
    os.environ.setdefault("TQDM_DISABLE", "1")

    from signet_worker import server  # imports DSPy

    return server.main(in_fd, out_fd)


if __name__ == "__main__":
    sys.exit(run())
