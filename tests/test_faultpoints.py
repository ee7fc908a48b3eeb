"""The test-only fault points: off by default, fire on the N-th arrival, with the action asked for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

SCRIPT = """
from healthdex import faultpoints
faultpoints.register("demo.step", "this test")
for i in range(3):
    print(i, flush=True)
    faultpoints.reach("demo.step")
print("end", flush=True)
"""


def _run(env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEALTHDEX_FAULT")}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60)


def test_off_without_the_variable():
    proc = _run({})
    assert proc.returncode == 0 and proc.stdout.split() == ["0", "1", "2", "end"]


def test_kill_at_the_nth_arrival():
    proc = _run({"HEALTHDEX_FAULT_POINT": "demo.step#2"})
    assert proc.returncode == -signal.SIGKILL
    assert proc.stdout.split() == ["0", "1"]


def test_exit_action_and_other_points_ignored():
    assert _run({"HEALTHDEX_FAULT_POINT": "other.step"}).returncode == 0
    proc = _run({"HEALTHDEX_FAULT_POINT": "demo.step", "HEALTHDEX_FAULT_ACTION": "exit"})
    assert proc.returncode == 99 and proc.stdout.split() == ["0"]


def test_stop_action_pauses_until_continued():
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEALTHDEX_FAULT")}
    env.update({"HEALTHDEX_FAULT_POINT": "demo.step#3", "HEALTHDEX_FAULT_ACTION": "stop"})
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE, text=True)
    _, status = os.waitpid(proc.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status)
    os.kill(proc.pid, signal.SIGCONT)
    out, _ = proc.communicate(timeout=60)
    assert out.split() == ["0", "1", "2", "end"]


def test_pause_action_holds_the_thread_until_the_resume_file_exists(tmp_path):
    resume = tmp_path / "go"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEALTHDEX_FAULT")}
    env.update(
        {
            "HEALTHDEX_FAULT_POINT": "demo.step#2",
            "HEALTHDEX_FAULT_ACTION": "pause",
            "HEALTHDEX_FAULT_RESUME": str(resume),
        }
    )
    out = tmp_path / "out"
    with out.open("w") as handle:
        proc = subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=handle, text=True)
    paused = tmp_path / "go.paused"
    while not paused.exists():
        assert proc.poll() is None, out.read_text()
        time.sleep(0.02)
    assert out.read_text().split() == ["0", "1"] and proc.poll() is None  # held at the second arrival
    resume.touch()
    assert proc.wait(timeout=60) == 0 and out.read_text().split() == ["0", "1", "2", "end"]
