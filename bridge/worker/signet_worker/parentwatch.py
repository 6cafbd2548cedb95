"""Exit at once when Signet is gone, however it went (kill -9 included).

Signet passes each process it starts the read end of a pipe whose write end
only Signet holds, and names its descriptor in SIGNET_PARENT_FD. A read
returns EOF only once Signet has exited: then this process and its process
group (whatever DSPy or user code started; Signet made us its leader) are
killed. Linux's parent-death signal does the same; macOS has none.

Self-contained (standard library only, no relative imports, no DSPy): Go
also runs this file's text ahead of the local LM server's launcher.
"""

import os
import signal
import threading

PARENT_FD_ENV = "SIGNET_PARENT_FD"


def watch_parent() -> bool:
    """Start the watch when SIGNET_PARENT_FD names a descriptor; say whether it started."""
    raw = os.environ.get(PARENT_FD_ENV, "").strip()
    if not raw:
        return False
    fd = int(raw)
    os.set_inheritable(fd, False)  # our children need not hold it: the group kill reaches them
    threading.Thread(target=_wait_for_eof, args=(fd,), name="signet-parent-watch", daemon=True).start()
    return True


def _wait_for_eof(fd: int) -> None:
    while True:
        try:
            if not os.read(fd, 1):  # EOF: the write end is closed, Signet is gone
                break
        except InterruptedError:
            continue
        except OSError:
            break
    _die()


def _die() -> None:
    """Kill the process group we lead, else (no group has our pid as its id) just us: never a group we joined."""
    try:
        os.killpg(os.getpid(), signal.SIGKILL)
    except OSError:
        pass
    finally:
        os._exit(70)
