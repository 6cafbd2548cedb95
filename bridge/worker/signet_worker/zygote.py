"""The zygote: import the worker once, then fork each pool worker from it (docs/protocol.md, "The zygote").

`python -m signet_worker.zygote [--litellm]`, started by the bridge with fd 3 the parent-death pipe
(SIGNET_PARENT_FD) and fd 4 (SIGNET_ZYGOTE_FD, default 4) one end of a SOCK_SEQPACKET unix socketpair. Each message is one JSON object, with descriptors
attached by SCM_RIGHTS:

- zygote -> bridge, once imported: {"ready": true, "pid": P, "litellm": true|false (LiteLLM is loaded)}.
- {"op": "fork", "env": {...}} with 4 descriptors (the child's stdin, stdout, stderr and parent-death
  pipe) -> {"pid": P} with one descriptor, a pidfd of the child; or {"error": "..."}.
- {"op": "reap", "pid": P} -> {"code": N} or {"signal": N}; or {"error": "..."}.

Why a pidfd and an explicit reap: the bridge signals a worker's process group by its pid, which must not
happen once that pid could be reused. The zygote opens the pidfd while the child cannot have been reaped
(only the zygote reaps it), and reaps it only when the bridge asks, which the bridge does after it has
seen the pidfd readable (the child ended) and stopped signalling it. If the zygote dies, its children
live on (their end comes from the parent-death pipe, not from the zygote) and the bridge still follows
them through their pidfds.

No thread may run here before a fork: the parent-death pipe is polled by the main loop, not watched by
a thread as in a worker. DSPy's disk cache is opened lazily (`dspy.cache` on first use): the worker
configures it after the fork (server.main), so no child shares an open file with another.
"""

from __future__ import annotations

import array
import gc
import json
import os
import random
import select
import socket
import sys
import threading
from typing import Any

from signet_worker import parentwatch

SOCK_FD_ENV = "SIGNET_ZYGOTE_FD"
MAX_MESSAGE = 1 << 20  # an environment fits many times over


def main(argv: list[str]) -> int:
    from signet_worker.__main__ import prepare

    prepare()
    import dspy  # noqa: F401  (the point: imported once, shared by every child)

    from signet_worker import server  # noqa: F401  (everything a worker imports at start)

    import cachetools  # noqa: F401  (what DSPy's cache imports when the worker configures it)
    import diskcache  # noqa: F401

    if "--litellm" in argv:
        import litellm  # noqa: F401  (a profile of the pool needs it: import it once too)
    if "cache" in vars(sys.modules["dspy"]):
        raise RuntimeError("DSPy's cache was opened before the fork: children would share its files")
    death_fd = int(os.environ.get(parentwatch.PARENT_FD_ENV, "3"))
    sock = socket.socket(fileno=int(os.environ.pop(SOCK_FD_ENV, "4")))
    # What the imports allocated stays in shared pages: no collection in a child touches it.
    gc.collect()
    gc.freeze()
    _send(sock, {"ready": True, "pid": os.getpid(), "litellm": "litellm" in sys.modules})
    return serve(sock, death_fd)


def serve(sock: socket.socket, death_fd: int) -> int:
    """Answer requests until the bridge closes the socket; die with the bridge."""
    poller = select.poll()
    poller.register(death_fd, select.POLLIN)
    poller.register(sock.fileno(), select.POLLIN)
    while True:
        ready = [fd for fd, _ in poller.poll()]
        if death_fd in ready and not os.read(death_fd, 1):
            parentwatch._die()  # EOF: the bridge is gone
        if sock.fileno() not in ready:
            continue
        try:
            data, ancdata, _, _ = sock.recvmsg(MAX_MESSAGE, socket.CMSG_SPACE(16 * array.array("i").itemsize))
        except BlockingIOError:
            continue
        if not data:
            return 0  # the bridge closed its end: its pool is closed
        fds = _fds(ancdata)
        try:
            reply, out = handle(json.loads(data), fds, sock, death_fd)
        except Exception as exc:  # a bad request must not end the zygote
            reply, out = {"error": f"{type(exc).__name__}: {exc}"}, []
        finally:
            for fd in fds:
                os.close(fd)
        try:
            _send(sock, reply, out)
        finally:
            for fd in out:
                os.close(fd)


def handle(req: dict[str, Any], fds: list[int], sock: socket.socket, death_fd: int) -> tuple[dict[str, Any], list[int]]:
    op = req.get("op")
    if op == "fork":
        if len(fds) != 4:
            raise ValueError(f"fork needs 4 descriptors (stdin, stdout, stderr, parent-death pipe), got {len(fds)}")
        env = req.get("env")
        if not isinstance(env, dict):
            raise ValueError("fork needs env, an object of strings")
        if threading.active_count() != 1:
            raise RuntimeError(f"{threading.active_count()} threads run in the zygote: forking is unsafe")
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(fds, env, sock, death_fd)  # never returns
        # The child makes its own group too, but the bridge may kill the group
        # as soon as it has the pid, before the child has run: make it here,
        # before the reply (the classic setpgid race; both calls agree).
        try:
            os.setpgid(pid, pid)
        except (PermissionError, ProcessLookupError):
            pass  # the child did it first, or is gone already: its pidfd says so
        return {"pid": pid}, [os.pidfd_open(pid)]
    if op == "reap":
        pid = int(req["pid"])
        got, status = os.waitpid(pid, os.WNOHANG)
        if got == 0:
            raise RuntimeError(f"pid {pid} is still running: reap only after its end")
        if os.WIFSIGNALED(status):
            return {"signal": os.WTERMSIG(status)}, []
        return {"code": os.waitstatus_to_exitcode(status)}, []
    raise ValueError(f"unknown op {op!r}")


def _child(fds: list[int], env: dict[str, str], sock: socket.socket, death_fd: int) -> None:
    """Become a worker as `python -m signet_worker` would be one; exit, never return to the loop."""
    status = 70
    try:
        os.setpgid(0, 0)  # its own group, which the bridge kills as a whole
        sock.close()
        if death_fd not in (0, 1, 2, 3):
            os.close(death_fd)
        for target, fd in enumerate(fds):
            os.dup2(fd, target, inheritable=target < 3)
        for fd in fds:
            if fd > 3:
                os.close(fd)
        os.environ.clear()
        os.environ.update(env)
        os.environ[parentwatch.PARENT_FD_ENV] = "3"
        reseed()
        # The zygote's objects stay frozen (gc.freeze): a collection here would write to their pages and
        # unshare them. What the child allocates from now on is collected as usual.
        from signet_worker.__main__ import run

        status = run()
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)


def reseed() -> None:
    """Give the child randomness of its own: the zygote's state was copied by the fork.

    The random module re-seeds itself in a forked child (os.register_at_fork); seeding again here keeps
    that true whatever imported it. NumPy's global generator does not re-seed on fork.
    """
    random.seed()
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed()


def _fds(ancdata: list[tuple[int, int, bytes]]) -> list[int]:
    fds: list[int] = []
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            arr = array.array("i")
            arr.frombytes(data[: len(data) - len(data) % arr.itemsize])
            fds.extend(arr)
    return fds


def _send(sock: socket.socket, msg: dict[str, Any], fds: list[int] | None = None) -> None:
    # One message per send: the socket keeps message boundaries (SOCK_SEQPACKET).
    socket.send_fds(sock, [json.dumps(msg).encode()], fds or [])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
