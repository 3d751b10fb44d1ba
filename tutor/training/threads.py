"""One BLAS thread while training the toy models.

The toy models multiply matrices of a few dozen rows; splitting those across threads costs more
than it saves, and on a busy machine the threads wait for each other: measured on a shared
2-core machine, one training step took 23 ms with one OpenBLAS thread and 134 ms with two. One
thread also makes every run do its sums in the same order, whatever the machine's core count.

The limit is set through OpenBLAS's own ``*_set_num_threads`` function, found in the library
NumPy loaded (as threadpoolctl does), and restored afterwards. Where it cannot be found (another
BLAS, another platform) nothing changes.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os

_SUFFIXES = ("64_", "_64_", "")


def _openblas_libraries() -> list[str]:
    import numpy as np

    paths = []
    try:
        with open("/proc/self/maps") as maps:                          # Linux: what is loaded
            paths = sorted({line.split()[-1] for line in maps
                            if "openblas" in line.lower() and ".so" in line})
    except OSError:
        pass
    if not paths:                                                      # wheels: numpy.libs
        folder = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
        paths = sorted(glob.glob(os.path.join(folder, "*openblas*")))
    return [p for p in paths if os.path.isfile(p)]


def _functions():
    """(get, set) of the first OpenBLAS library that has them, else None."""
    for path in _openblas_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in _SUFFIXES:
                try:
                    get = getattr(lib, f"{prefix}_get_num_threads{suffix}")
                    set_ = getattr(lib, f"{prefix}_set_num_threads{suffix}")
                except AttributeError:
                    continue
                get.restype = ctypes.c_int
                set_.argtypes = [ctypes.c_int]
                return get, set_
    return None


@contextlib.contextmanager
def blas_threads(count: int = 1):
    """Use ``count`` BLAS threads inside the block (OpenBLAS only; elsewhere a no-op)."""
    functions = _functions()
    if functions is None:
        yield
        return
    get, set_ = functions
    before = get()
    set_(count)
    try:
        yield
    finally:
        set_(before)
