"""The environment a fault test gives a process: one fault point armed (kill), or none."""

from __future__ import annotations

from healthdex import faultpoints


def fault_env(point: str | None, action: str = "kill") -> dict[str, str]:
    """``HEALTHDEX_FAULT_POINT``/``_ACTION`` for ``point`` (``NAME`` or ``NAME#N``; None: unset, i.e. empty)."""
    if point is None:
        return {faultpoints.ENV_POINT: "", faultpoints.ENV_ACTION: ""}
    return {faultpoints.ENV_POINT: point, faultpoints.ENV_ACTION: action}
