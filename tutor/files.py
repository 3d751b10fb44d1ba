"""Writing files so that a failure never leaves half a file behind: write a temporary file in
the same folder, flush it to disk, then rename it over the target (atomic on POSIX)."""

from __future__ import annotations

import os
import tempfile
from typing import Callable, IO


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it to ``path``.

    A ``path`` that is a symbolic link is written through (the file it points at is replaced,
    the link stays). A ``path`` that exists and is not a regular file (``/dev/null``,
    ``/dev/full``, a pipe) is written in place: renaming over it would replace the device.
    Raises OSError when the write fails (a full disk, ``/dev/full``)."""
    path = os.path.realpath(os.fspath(path))
    if os.path.exists(path) and not os.path.isfile(path):
        with open(path, "wb") as handle:
            write(handle)
            handle.flush()
        return
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o666 & ~_umask()
        os.chmod(tmp, mode)                                            # as open() would leave it
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
