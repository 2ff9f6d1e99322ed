"""The suite's guard: a test run that writes into the user's home fails, whatever the tests say."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

WRITES_HOME = '''
import os
from pathlib import Path

def test_writes(tmp_path):
    target = Path(os.environ["TARGET"]).expanduser() / ".cache" / "dejunk" / "compiled"
    target.mkdir(parents=True, exist_ok=True)
    (target / "engine.pickle").write_bytes(b"x")
'''


def run_inner(tmp_path: Path, target: str) -> subprocess.CompletedProcess:
    (tmp_path / "inner").mkdir()
    (tmp_path / "inner" / "test_inner.py").write_text(WRITES_HOME)
    real_home = tmp_path / "real-home"
    real_home.mkdir()
    env = {**os.environ, "DEJUNK_REAL_HOME": str(real_home), "TARGET": target.replace("REAL", str(real_home)),
           "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest", "-c", os.devnull,
         "--rootdir", str(tmp_path / "inner"), str(tmp_path / "inner")],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
    )


def test_a_run_that_writes_into_the_real_home_fails(tmp_path):
    done = run_inner(tmp_path, "REAL")
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    assert "The tests changed the user's home" in done.stderr and ".cache/dejunk" in done.stderr


def test_the_home_a_test_sees_is_a_private_one(tmp_path):
    done = run_inner(tmp_path, "~")  # expanduser: the HOME the session set
    assert done.returncode == 0, done.stdout + done.stderr
    assert Path(os.environ["HOME"]) != Path(tmp_path / "real-home")
