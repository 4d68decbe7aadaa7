"""The engine's compiled functions (numba), kept on disk where that can be written.

numba compiles a function the first time it is called, a second or two for the engine's loops, and
with `cache=True` keeps the machine code beside the source (or in NUMBA_CACHE_DIR) for the next
process. Where neither can be written (a read-only install, systemd's ProtectSystem=strict without
a cache directory: deploy/systemd), numba refuses `cache=True` when the module is imported; then
each process compiles for itself instead of failing to start.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from numba import njit

log = logging.getLogger(__name__)


def _probe() -> int:
    return 0


def cache_available(decorate: Callable = njit) -> bool:
    """Whether numba can keep compiled code on disk here."""
    try:
        decorate(cache=True)(_probe)
    except RuntimeError as error:  # numba: "cannot cache function ...: no locator available"
        log.warning("matching: compiled code cannot be kept on disk (%s); set NUMBA_CACHE_DIR to a writable "
                    "directory to save each process a few seconds", error)
        return False
    return True


# For the engine's loops: no Python objects inside, so they let go of the interpreter lock.
compiled = njit(cache=cache_available(), nogil=True)
