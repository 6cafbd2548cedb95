"""Entry point: `python -m signet_worker` (docs/protocol.md).

Order matters: the watch on Signet's life starts first (a worker stuck importing
DSPy must die with Signet too); the protocol fd is set aside and fd 1 / sys.stdout
are pointed at stderr before DSPy (or anything that might print) is imported.
"""

import os
import sys

from signet_worker import parentwatch, protocol, redact  # import no DSPy


def run() -> int:
    parentwatch.watch_parent()
    redact.register_env()  # before anything can print a key
    out_fd = protocol.isolate_stdout()
    in_fd = protocol.isolate_stdin()
    prepare()

    from signet_worker import server  # imports DSPy (the zygote's children have it already)

    return server.main(in_fd, out_fd)


def prepare() -> None:
    """Set what must be set before DSPy is imported (the zygote does it too, before its imports)."""
    # DSPy's disk cache holds raw prompts and completions, and user code may
    # write files: nothing the worker creates is readable by others.
    os.umask(0o077)
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    cache_dir = os.environ.get("SIGNET_DSPY_CACHEDIR")
    if cache_dir:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        os.chmod(cache_dir, 0o700)  # one an older Signet made 0755: closed to others with all it holds
        os.environ["DSPY_CACHEDIR"] = cache_dir
    os.environ.setdefault("TQDM_DISABLE", "1")


if __name__ == "__main__":
    sys.exit(run())
