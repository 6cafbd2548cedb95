"""Signet's Python worker: serves the line protocol of docs/protocol.md over DSPy.

Importing this package must not import DSPy: `__main__` first moves fd 1 out of
the way (see `protocol.isolate_stdout`) and only then imports the modules that
pull DSPy in.
"""

PROTOCOL_VERSION = 2

__all__ = ["PROTOCOL_VERSION"]
