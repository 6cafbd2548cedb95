"""The zygote as the bridge drives it: fork a real worker, follow it by its pidfd, reap it on request."""

from __future__ import annotations

import array
import json
import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

WORKER_DIR = str(Path(__file__).resolve().parent.parent)


def _recv(sock: socket.socket) -> tuple[dict[str, Any], list[int]]:
    data, fds, _, _ = socket.recv_fds(sock, 1 << 16, 4)
    return json.loads(data), list(fds)


def _send(sock: socket.socket, msg: dict[str, Any], fds: list[int] | None = None) -> dict[str, Any]:
    socket.send_fds(sock, [json.dumps(msg).encode()], fds or [])
    reply, got = _recv(sock)
    reply["_fds"] = got
    return reply


def _ppid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[1])


def _fork(sock: socket.socket, env: dict[str, str], death_r: int) -> tuple[int, int, int, int]:
    """Ask the zygote for a worker on fresh pipes: its pid, pidfd, stdin's write end and stdout's read end."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    reply = _send(sock, {"op": "fork", "env": env}, [in_r, out_w, 2, death_r])
    for fd in (in_r, out_w):
        os.close(fd)
    (pidfd,) = reply["_fds"]
    return reply["pid"], pidfd, in_w, out_r


@pytest.fixture
def zygote(tmp_path):
    if not sys.platform.startswith("linux"):
        pytest.skip("the zygote runs on Linux only")
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    death_r, death_w = os.pipe()
    env = dict(os.environ, PYTHONPATH=WORKER_DIR, SIGNET_PARENT_FD=str(death_r), SIGNET_ZYGOTE_FD=str(theirs.fileno()),
               SIGNET_DSPY_CACHEDIR=str(tmp_path / "cache"))
    proc = subprocess.Popen([sys.executable, "-m", "signet_worker.zygote"], env=env,
                            pass_fds=(death_r, theirs.fileno()), stdin=subprocess.DEVNULL)
    theirs.close()
    ready, _ = _recv(ours)
    assert ready == {"ready": True, "pid": proc.pid, "litellm": False}  # not imported unless asked
    yield proc, ours, env, death_r
    ours.close()
    assert proc.wait(timeout=60) == 0  # its socket closed: it exits
    os.close(death_w)
    os.close(death_r)


def test_fork_runs_a_worker_and_reaps_it_only_when_asked(zygote):
    proc, sock, env, death_r = zygote
    pid, pidfd, in_w, out_r = _fork(sock, env, death_r)
    with os.fdopen(out_r, "rb") as out:
        hello = json.loads(out.readline())
        assert hello["event"] == "hello" and hello["data"]["pid"] == pid
        assert _ppid(pid) == proc.pid
        assert os.getpgid(pid) == pid  # its own group, which the bridge kills whole
        assert "still running" in _send(sock, {"op": "reap", "pid": pid})["error"]
        os.kill(pid, signal.SIGKILL)
        select.select([pidfd], [], [])  # readable: it ended, and stays a zombie until reaped
        assert Path(f"/proc/{pid}").exists()
        assert _send(sock, {"op": "reap", "pid": pid}) == {"signal": signal.SIGKILL, "_fds": []}
        assert not Path(f"/proc/{pid}").exists()
    os.close(in_w)
    os.close(pidfd)


def test_a_bad_request_is_answered_not_fatal(zygote):
    _, sock, _, _ = zygote
    assert "4 descriptors" in _send(sock, {"op": "fork", "env": {}})["error"]
    assert "unknown op" in _send(sock, {"op": "spawn"})["error"]


def test_a_forked_worker_has_its_group_when_its_pid_is_reported(zygote):
    # The bridge may kill the group as soon as it has the pid (a start
    # abandoned, a pool closing): the group must exist by then, not only once
    # the child has run far enough to make it, or the kill misses the child.
    _, sock, env, death_r = zygote
    for _ in range(5):
        pid, pidfd, in_w, out_r = _fork(sock, env, death_r)
        os.killpg(pid, signal.SIGKILL)  # raises ProcessLookupError when no such group exists yet
        select.select([pidfd], [], [])
        assert _send(sock, {"op": "reap", "pid": pid}) == {"signal": signal.SIGKILL, "_fds": []}
        for fd in (in_w, out_r, pidfd):
            os.close(fd)
