"""CPU settings for training: how many threads torch uses, and how freed memory is kept.

**Threads.** torch splits every operator over its OpenMP threads, and every split ends at a barrier.
When another process keeps one of the cores busy, the thread on that core runs only in the scheduler's
time slices, and every barrier waits for it: measured on this 2-core CPU while another job kept one core
busy, 2 within-recording epochs of ``neurotrio sleep train`` took 68.8 s with torch's default (one thread
per core) against 9.3 s with one thread (issue 12). On an idle machine two threads are faster (see
BENCHMARKS.md, "ULW-SleepNet training throughput"). One thread degrades gracefully, more threads do not,
so training defaults to ONE thread unless the user asks for more (``--threads N``) or sets
``OMP_NUM_THREADS`` explicitly.

**Freed memory.** With glibc, every allocation above the mmap threshold (at most 32 MiB) is a fresh
``mmap`` whose pages fault in again on first touch, and every free returns them to the kernel. A training
step at batch 256 allocates and frees dozens of such activation tensors (a (1024, 8, 3000) float32 map is
98 MB): measured, this page-faulting halved the straightforward form's training speed.
:func:`keep_freed_memory` tells glibc to serve every allocation from its heap and keep freed memory for
reuse (``mallopt(M_MMAP_MAX, 0)``, ``mallopt(M_TRIM_THRESHOLD, ...)``): the process keeps its peak memory
instead of returning it between steps. It is a no-op on other C libraries and platforms, and when the
environment sets ``NEUROTRIO_KEEP_FREED_MEMORY=0``.
"""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger(__name__)

DEFAULT_TRAIN_THREADS = 1
"""Threads for training when neither ``--threads`` nor ``OMP_NUM_THREADS`` says otherwise."""

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # glibc's mallopt parameter numbers (malloc.h)
_allocator_tuned = False


def resolve_threads(requested: int | None = None, default: int = DEFAULT_TRAIN_THREADS) -> int:
    """Threads to use: ``requested`` when given (0 means one per available core), else
    ``OMP_NUM_THREADS`` when set to a positive integer, else ``default``.

    Raises:
        ConfigError: a negative count.
    """
    from neurotrio.core.errors import ConfigError

    if requested is not None:
        if requested < 0:
            raise ConfigError(f"--threads must be >= 0 (0: one per core), got {requested}")
        return requested or available_cores()
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return default


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def set_threads(requested: int | None = None, default: int = DEFAULT_TRAIN_THREADS) -> int:
    """Set torch's intra-op threads (see :func:`resolve_threads`) and return the number set."""
    import torch

    n = resolve_threads(requested, default)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def keep_freed_memory() -> bool:
    """Make glibc keep freed memory for reuse instead of unmapping it (see the module docstring).

    Idempotent; returns True when the setting is in effect (glibc on Linux, not disabled by
    ``NEUROTRIO_KEEP_FREED_MEMORY=0``).
    """
    global _allocator_tuned
    if _allocator_tuned:
        return True
    if os.environ.get("NEUROTRIO_KEEP_FREED_MEMORY", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    except (OSError, AttributeError):  # not glibc (musl, ...)
        return False
    _allocator_tuned = ok
    if ok:
        log.debug("glibc: large allocations served from the heap, freed memory kept for reuse")
    return ok
