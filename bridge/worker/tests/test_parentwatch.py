"""The parent-death pipe: a process watching it ends, with its process group, when the write end closes."""

from __future__ import annotations

import os
import subprocess
import sys
import select
import textwrap

from conftest import WORKER_DIR

from signet_worker import parentwatch

PATIENCE = 60.0  # seconds; bounds a wait, never paces one

# Watches the pipe named in SIGNET_PARENT_FD, starts a grandchild in its own process group, says both pids.
WATCHER = textwrap.dedent("""
    import signal, subprocess, sys
    from signet_worker import parentwatch
    assert parentwatch.watch_parent()
    grandchild = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
    print(f"{__import__('os').getpid()} {grandchild.pid}", flush=True)
    signal.pause()  # until killed
""")


def _gone(pid: int) -> bool:
    """No such process, or a zombie (an orphan's lingers until its new parent reaps it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return ") Z " in f.read()
    except FileNotFoundError:  # macOS: no /proc
        out = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True)
        return out.returncode != 0 or out.stdout.strip().startswith("Z")


def _await_gone(pid: int) -> None:
    """Wait until pid, not our child, has exited: its pidfd (Linux) or a kqueue NOTE_EXIT (macOS) says so."""
    if _gone(pid):
        return
    if hasattr(os, "pidfd_open"):
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            return
        try:
            ready, _, _ = select.select([fd], [], [], PATIENCE)
        finally:
            os.close(fd)
        assert ready, f"pid {pid} outlived the pipe's writer by {PATIENCE}s"
        return
    kq = select.kqueue()
    try:
        ev = select.kevent(pid, filter=select.KQ_FILTER_PROC, flags=select.KQ_EV_ADD | select.KQ_EV_ONESHOT,
                           fflags=select.KQ_NOTE_EXIT)
        try:
            kq.control([ev], 0)
        except ProcessLookupError:
            return
        if _gone(pid):
            return
        assert kq.control(None, 1, PATIENCE), f"pid {pid} outlived the pipe's writer by {PATIENCE}s"
    finally:
        kq.close()


def _spawn(code: str, read_fd: int, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(WORKER_DIR), SIGNET_PARENT_FD=str(read_fd))
    return subprocess.Popen([sys.executable, "-c", code], env=env, pass_fds=(read_fd,),
                            stdout=subprocess.PIPE, text=True, **kwargs)


def test_eof_kills_the_watcher_and_its_group() -> None:
    r, w = os.pipe()
    # Its own session, so it leads its process group, as Signet starts it.
    proc = _spawn(WATCHER, r, start_new_session=True)
    os.close(r)
    try:
        watcher, grandchild = map(int, proc.stdout.readline().split())
        assert watcher == proc.pid and not _gone(grandchild)
        os.close(w)  # what the kernel does when Signet dies
        w = -1
        assert proc.wait(timeout=PATIENCE) == -9  # killed with its group, before its own exit
        _await_gone(grandchild)
    finally:
        if w >= 0:
            os.close(w)
        proc.kill()
        proc.wait()


def test_a_watcher_that_leads_no_group_kills_only_itself() -> None:
    # outer leads a group; inner, in that group, watches the pipe. Its EOF must not kill outer.
    r, w = os.pipe()
    outer_code = textwrap.dedent(f"""
        import os, subprocess, sys
        inner = subprocess.Popen([sys.executable, "-c", "from signet_worker import parentwatch; "
                                  "import signal; parentwatch.watch_parent(); print('watching', flush=True); "
                                  "signal.pause()"], pass_fds=({r},), stdout=subprocess.PIPE, text=True)
        assert inner.stdout.readline() == "watching\\n"
        os.close({r})
        print("ready", flush=True)
        sys.stdin.readline()  # the test closes the pipe, then says go on
        print("inner", inner.wait(), flush=True)
        print("outer alive", flush=True)
    """)
    proc = _spawn(outer_code, r, start_new_session=True, stdin=subprocess.PIPE)
    os.close(r)
    try:
        assert proc.stdout.readline() == "ready\n"
        os.close(w)
        w = -1
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "inner 70\n"
        assert proc.stdout.readline() == "outer alive\n"
        assert proc.wait(timeout=PATIENCE) == 0
    finally:
        if w >= 0:
            os.close(w)
        proc.kill()
        proc.wait()


def test_no_pipe_no_watch(monkeypatch) -> None:
    monkeypatch.delenv(parentwatch.PARENT_FD_ENV, raising=False)
    assert parentwatch.watch_parent() is False
