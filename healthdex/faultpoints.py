"""Named points where a test can stop or kill this process on purpose (fault tests kill at a known step, not
after a sleep).

Off unless ``HEALTHDEX_FAULT_POINT`` is set, as ``NAME`` or ``NAME#N`` (the N-th time this process reaches NAME,
default the first).  ``HEALTHDEX_FAULT_ACTION`` says what happens there: ``kill`` (SIGKILL, the default: a crash
at exactly that step), ``stop`` (SIGSTOP: the test inspects the files, then kills or continues the process),
``exit`` (``os._exit(99)``, no clean-up) or ``pause`` (a busy thread: only the thread that reached the point waits,
the others run on; it creates the file named ``HEALTHDEX_FAULT_RESUME`` + ``.paused``, then waits until the file
``HEALTHDEX_FAULT_RESUME`` names exists).  Code marks a point with :func:`reach`; the points are listed in
``POINTS`` so a test naming an unknown one fails loudly instead of never firing.
"""

from __future__ import annotations

import os
import signal
import time

ENV_POINT = "HEALTHDEX_FAULT_POINT"
ENV_ACTION = "HEALTHDEX_FAULT_ACTION"
ENV_RESUME = "HEALTHDEX_FAULT_RESUME"

# name -> where it is reached (each name is reached in exactly one place)
POINTS: dict[str, str] = {}

_counts: dict[str, int] = {}


def register(name: str, where: str) -> str:
    """Declare a fault point (at import time of the module that reaches it); returns ``name``."""
    POINTS[name] = where
    return name


def reach(name: str) -> None:
    """Stop, kill or exit here when the environment names this point (and this is the N-th arrival)."""
    spec = os.environ.get(ENV_POINT)
    if not spec:
        return
    wanted, _, nth = spec.partition("#")
    if wanted != name:
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] != (int(nth) if nth else 1):
        return
    action = os.environ.get(ENV_ACTION, "kill")
    if action == "stop":
        os.kill(os.getpid(), signal.SIGSTOP)
    elif action == "exit":
        os._exit(99)
    elif action == "pause":
        resume = os.environ[ENV_RESUME]
        with open(resume + ".paused", "w"):
            pass
        while not os.path.exists(resume):
            time.sleep(0.02)
    else:
        os.kill(os.getpid(), signal.SIGKILL)
