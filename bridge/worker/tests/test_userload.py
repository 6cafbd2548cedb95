"""Loading user code: a file that hangs while it is imported blocks only the runs that need that file."""

from __future__ import annotations

import sys
import textwrap
import threading
import types
from pathlib import Path

from signet_worker import userload


def _write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def test_a_hanging_import_does_not_block_another_file(tmp_path):
    # The first file's import waits on an event the test holds: it is "hung"
    # for as long as the test says.
    release = threading.Event()
    entered = threading.Event()
    hang = _write(tmp_path / "hang.py", """\
        import builtins
        builtins._signet_test_entered.set()
        builtins._signet_test_release.wait()
        VALUE = "hang"
        """)
    other = _write(tmp_path / "other.py", 'VALUE = "other"\n')
    import builtins
    builtins._signet_test_entered = entered  # type: ignore[attr-defined]
    builtins._signet_test_release = release  # type: ignore[attr-defined]
    loaded: dict[str, object] = {}

    def load_hang() -> None:
        loaded["hang"] = userload.load(userload.parse_ref(f"{hang}:VALUE", None, module="h", field="source"),
                                       module="h", field="source")

    t = threading.Thread(target=load_hang, daemon=True)
    t.start()
    try:
        assert entered.wait(10), "the hanging import never started"
        # Another file loads while the first import is still running.
        done = threading.Event()

        def load_other() -> None:
            loaded["other"] = userload.load(userload.parse_ref(f"{other}:VALUE", None, module="o", field="source"),
                                            module="o", field="source")
            done.set()

        threading.Thread(target=load_other, daemon=True).start()
        assert done.wait(10), "loading other.py waited for hang.py's import"
        assert loaded["other"] == "other"
        assert "hang" not in loaded
    finally:
        release.set()
        t.join(30)
    assert loaded["hang"] == "hang"


def test_the_same_file_is_imported_once_by_concurrent_loads(tmp_path, monkeypatch):
    # The file's import holds until the test releases it, so the other loads
    # start while it runs; an import that begins a second time says so.
    gate = types.SimpleNamespace(started=threading.Event(), again=threading.Event(), release=threading.Event())
    monkeypatch.setitem(sys.modules, "_signet_test_gate", gate)
    path = _write(tmp_path / "once.py", """\
        import _signet_test_gate as gate
        (gate.again if gate.started.is_set() else gate.started).set()
        gate.release.wait(30)
        VALUE = 1
        """)
    ref = userload.parse_ref(f"{path}:VALUE", None, module="m", field="source")
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(userload.load(ref, module="m", field="source")))
               for _ in range(4)]
    try:
        for t in threads:
            t.start()
        assert gate.started.wait(30), "the file was never imported"
        # Bounded wait for what must not happen: a second import while the first holds.
        assert not gate.again.wait(0.5), "the file was imported again while its first import ran"
    finally:
        gate.release.set()
        for t in threads:
            t.join(30)
    assert results == [1, 1, 1, 1]
    assert not gate.again.is_set()
