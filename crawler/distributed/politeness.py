"""Per-host politeness crawl-wide: each host's state lives in Redis, where ``scripts.ACQUIRE_HOST``/``RELEASE_HOST``
take ``crawler.politeness.HostState``'s steps atomically; its key lives until its last reservation, grant and delay are
over, plus ``_KEEP_S``.  ``HEALTHDEX_REDIS_POLITENESS = False`` leaves the spacing to each worker alone."""

from __future__ import annotations

from crawler.distributed import scripts
from crawler.distributed.keys import host_key

_KEEP_S = 600


class RedisHosts:
    """The hosts of a distributed crawl (the methods of ``crawler.politeness.LocalHosts``)."""

    def __init__(self, server) -> None:
        self._acquire = server.register_script(scripts.ACQUIRE_HOST)
        self._release = server.register_script(scripts.RELEASE_HOST)

    def acquire(self, host: str, delay: float, reserved: bool, lease: float) -> tuple[float, float | None]:
        args = [f"{max(delay, 0.0):.6f}", "1" if reserved else "0", f"{lease:.3f}", _KEEP_S]
        wait, gap = self._acquire(keys=[host_key(host)], args=args)
        return float(wait), float(gap) if gap else None

    def release(self, host: str, delay: float) -> None:
        self._release(keys=[host_key(host)], args=[f"{delay:.6f}", _KEEP_S])
