"""Issue 5, leaks: a crawl with extraction processes leaves no processes and no temporary folders behind, whether it
finishes, is stopped with SIGTERM or is killed with SIGKILL.  (With the forkserver pool, every killed crawl left a
``pymp-*`` folder in /tmp and its forkserver and extraction workers running for good, ~130 MB each.)

Real crawls of a generated site through the in-process replay server; TMPDIR points at a folder of the test's own.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from crawl_support import crawl_command, env_for, make_profile, make_site

from support import REPO

PAGES = 40


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("leaks")
    make_site(root / "site", PAGES)
    return root, make_profile(root, "leaksite", delay=0.05, concurrency=1)


def descendants(pid: int) -> dict[int, str]:
    """{pid: command line} of every process below ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                found[child] = _cmdline(child)
                frontier.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def still_running(processes: dict[int, str]) -> list[str]:
    """Those of ``processes`` still alive (same pid and command line; zombies count as gone)."""
    alive = []
    for pid, cmdline in processes.items():
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and _cmdline(pid) == cmdline:
            alive.append(f"{pid}: {cmdline[:120]}")
    return alive


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(("pymp-", "healthdex-replay-tls-")))


@pytest.mark.parametrize("stop", ["finish", "SIGTERM", "SIGKILL"])
def test_a_crawl_leaves_no_processes_or_temporary_folders(site, tmp_path, stop):
    root, profile = site
    private = tmp_path / "tmp"
    private.mkdir()
    out = tmp_path / "out"
    args = crawl_command(profile, out, "--workers", "2", replay=root / "site")
    process = subprocess.Popen(
        args, cwd=REPO, env={**env_for(root), "TMPDIR": str(private)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        children: dict[int, str] = {}
        deadline = time.monotonic() + 120
        # Under way: articles extracted by the pool (its processes are running).
        while time.monotonic() < deadline and process.poll() is None:
            children.update(descendants(process.pid))
            articles = out / "articles.jsonl"
            if articles.exists() and articles.read_bytes().count(b"\n") >= 3:
                break
            time.sleep(0.05)
        assert process.poll() is None, process.stderr.read().decode(errors="replace")[-2000:]
        children.update(descendants(process.pid))
        assert sum("multiprocessing" in c for c in children.values()) >= 2, children  # the extraction workers
        if stop != "finish":
            process.send_signal(getattr(signal, stop))
        assert process.wait(timeout=120) in ((0,) if stop != "SIGKILL" else (-signal.SIGKILL,))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    deadline = time.monotonic() + 15  # an orphaned worker notices its crawl is gone within a second or two
    while still_running(children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert still_running(children) == []
    assert leftovers(private) == []
    if stop == "finish":
        assert (out / "articles.jsonl").read_bytes().count(b"\n") == PAGES
