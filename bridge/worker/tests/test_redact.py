"""Secrets: the values of every configured key variable and common key shapes never leave the worker."""

from __future__ import annotations

import stat
import textwrap

import pytest

from conftest import lm_profile
from signet_worker import redact

SHAPED = [
    ("key sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD here", "key [redacted] here"),
    ("sk-ant-api03-Zx9YvW8uT7sR6qP5oN4mL3kJ2iH1gF0eDcBa-_xyz", "[redacted]"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abc", "Authorization: Bearer [redacted]"),
    ("id AKIAIOSFODNN7EXAMPLE.", "id [redacted]."),
    ("ghp_" + "a1B2" * 9, "[redacted]"),
    # Every marker of the one-scan check: each shape still found after it.
    ("tok gho_" + "a1B2" * 9, "tok [redacted]"),
    ("id ASIAIOSFODNN7EXAMPLE.", "id [redacted]."),
    ("github_pat_" + "A1b2C3d4E5" * 3, "[redacted]"),
    ("key=AIza" + "S" * 35, "key=[redacted]"),
]

ORDINARY = [
    "we use sk-learn for the baseline",
    "task-management-and-scheduling-overview",
    "sk-learn-compatible-pipelines-and-estimators-2024",
    "Bearer authentication-is-described-in-rfc6750",
    "the bearer of bad news",
    "AKIA is not a key, nor is AKIAshort",
]


@pytest.mark.parametrize("text,want", SHAPED)
def test_key_shapes_are_redacted(text: str, want: str) -> None:
    assert redact.redact(text) == want


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_kept(text: str) -> None:
    assert redact.redact(text) == text


@pytest.mark.parametrize("marker", [m for markers, _, _ in redact._SHAPES for m in markers])
def test_the_quick_check_finds_every_marker(marker: str) -> None:
    """redact skips the shapes of a text its quick check finds no marker in: each shape's every marker,
    alone or amid a frame, must be found (a shape added to _SHAPES with a new marker fails here)."""
    assert redact._any_marker(marker)
    assert redact._any_marker('{"id":1,"event":"spans","data":{"text":"x ' + marker + ' y"}}')
    assert not redact._any_marker(marker[:-1] + " " + marker[-1])


def test_register_env_reads_every_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redact, "_secrets", ())
    monkeypatch.setenv("SIGNET_T_ONE", "first-secret-value")
    monkeypatch.setenv("SIGNET_T_TWO", "second-secret-value")
    monkeypatch.setenv("SIGNET_T_SHORT", "tiny")
    monkeypatch.setenv(redact.SECRET_ENVS, "SIGNET_T_ONE, SIGNET_T_TWO,SIGNET_T_SHORT,SIGNET_T_UNSET")
    redact.register_env()
    assert redact.redact("a first-secret-value b second-secret-value c tiny") == "a [redacted] b [redacted] c tiny"


LEAKY = '''
import os, sys
import dspy

class Leaky(dspy.Module):
    def __init__(self):
        super().__init__()
        self.inner = dspy.Predict("question -> answer")

    def forward(self, question):
        key = os.environ["SIGNET_OTHER_KEY"]
        print(f"python stderr {key}", file=sys.stderr)
        if "boom" in question:
            raise RuntimeError(f"failed with {key}")
        return self.inner(question=question)
'''


def test_configured_key_never_read_is_redacted(make_worker, tmp_path) -> None:
    """A key only named by the config (SIGNET_SECRET_ENVS), never read by the run's profile, is redacted
    from error messages and Python's stderr; the cache directory is private and new files too (umask 077).
    The frames themselves (the input in the spans) Go redacts as it reads them: bridge's
    TestFramesAreRedactedByGo."""
    secret = "zq7-other-profile-value-31c9"  # no key shape: only the config names it
    (tmp_path / "leaky.py").write_text(textwrap.dedent(LEAKY))
    cache = tmp_path / "cache"
    worker = make_worker(env={"SIGNET_OTHER_KEY": secret, redact.SECRET_ENVS: "SIGNET_OTHER_KEY",
                              "SIGNET_DSPY_CACHEDIR": str(cache)})
    spec = {"name": "leaky", "modules": [{"name": "leaky", "type": "custom", "source": "leaky.py:Leaky",
                                          "signature": "question -> answer"}]}
    ok, _ = worker.call(1, "execute", {"program": spec, "inputs": {"question": f"Is {secret} fine?"},
                                       "base_dir": str(tmp_path), "lm": lm_profile()})
    assert "result" in ok, ok
    failed, _ = worker.call(2, "execute", {"program": spec, "inputs": {"question": "boom"},
                                           "base_dir": str(tmp_path), "lm": lm_profile()})
    assert failed["error"]["message"].endswith("failed with [redacted]"), failed
    assert worker.close() == 0
    err = worker.stderr()
    assert secret not in err and "python stderr [redacted]" in err
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    for path in cache.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
