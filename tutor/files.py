"""Reading and writing files safely, in one place.

Reading (:func:`read_bytes`, :func:`read_json`, :func:`read_toml`): only a regular file is
read (a FIFO would wait for a writer forever, ``/dev/zero`` never ends), and only up to its
kind's byte cap (``tutor/limits.py``), checked from its size before anything is read. JSON and
TOML are parsed with their nesting bounded by ``MAX_NESTING`` (Python's parsers recurse: a
file nested 100,000 deep would end in RecursionError). Every refusal is a
:class:`~tutor.errors.FileReadError` naming the file, the cap and what was found.

Writing (:func:`atomic_write`): a temporary file in the same folder, flushed to disk, then
renamed over the target (atomic on POSIX), so a failure never leaves half a file behind.
The temporary files of writes that were killed before their rename are removed by the next
write beside them (:func:`remove_stale_temporaries`).
"""

from __future__ import annotations

import errno
import glob
import json
import os
import re
import stat
import tempfile
import time
from typing import Callable, IO

from .errors import FileReadError
from .limits import MAX_KEY_PARTS, MAX_NESTING

#: A temporary file left this long (seconds) beside its target is a killed write's: removed.
STALE_TEMPORARY_SECONDS = 600


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it to ``path``.

    A ``path`` that is a symbolic link is written through (the file it points at is replaced,
    the link stays). A ``path`` that exists and is not a regular file (``/dev/null``,
    ``/dev/full``, a pipe) is written in place: renaming over it would replace the device.
    Raises OSError when the write fails (a full disk, ``/dev/full``)."""
    path = os.path.realpath(os.fspath(path))
    if os.path.exists(path) and not os.path.isfile(path):
        fd = _held_pipes.pop(path, None)
        if fd is None:
            fd = open_pipe_for_writing(path) if _is_fifo(path) else os.open(path, os.O_WRONLY)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
        return
    folder = os.path.dirname(os.path.abspath(path))
    prefix = temporary_prefix(path)
    remove_stale_temporaries(folder, prefix)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
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


# FIFOs opened for writing by :func:`hold_output_pipe` (real path -> descriptor), kept open so
# that their reader does not see the end of its input before the output is written
_held_pipes: dict[str, int] = {}


def _is_fifo(path: str) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


class NoReaderError(OSError):
    """A named pipe (FIFO) given as an output that no process reads: writing would wait
    forever, so it is refused."""


def open_pipe_for_writing(path: str) -> int:
    """Open the FIFO ``path`` for writing without waiting: O_WRONLY|O_NONBLOCK fails with
    ENXIO when no process has it open for reading, raised as :class:`NoReaderError`. Returns
    a blocking descriptor (the reader sets the pace of the writes that follow)."""
    try:
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise NoReaderError(errno.ENXIO, "a named pipe (FIFO) that no process reads",
                                path) from None
        raise
    os.set_blocking(fd, True)
    return fd


def hold_output_pipe(path: str | os.PathLike) -> bool:
    """When ``path`` is a FIFO: open it for writing now (:func:`open_pipe_for_writing`, so a
    pipe nobody reads is refused before anything is computed) and keep it open for
    :func:`atomic_write`. Returns whether ``path`` is a FIFO. Raises NoReaderError."""
    real = os.path.realpath(os.fspath(path))
    if not _is_fifo(real):
        return False
    if real not in _held_pipes:
        _held_pipes[real] = open_pipe_for_writing(real)
    return True


def temporary_prefix(path: str | os.PathLike) -> str:
    """The name :func:`atomic_write` gives its temporary files for ``path``: ``.<name>.``
    (then random characters and ``.tmp``), hidden and beside the target."""
    return f".{os.path.basename(os.fspath(path))}."


def remove_stale_temporaries(folder: str | os.PathLike, prefix: str, *,
                             older_than: float = STALE_TEMPORARY_SECONDS) -> list[str]:
    """Remove the files ``<folder>/<prefix>*.tmp`` not modified for ``older_than`` seconds:
    the temporary files of writes killed before their rename (a write in progress touches
    its file far more often). Only regular files of this exact pattern are touched; one that
    cannot be removed is left. Returns the paths removed."""
    removed = []
    now = time.time()
    for candidate in glob.glob(os.path.join(glob.escape(os.fspath(folder)),
                                            glob.escape(prefix) + "*.tmp")):
        try:
            info = os.lstat(candidate)
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime > older_than:
                os.remove(candidate)
                removed.append(candidate)
        except OSError:
            continue
    return removed


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- reading ----------------------------------------------------------------------------------

def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def not_regular(path: str | os.PathLike) -> str | None:
    """What ``path`` is when it exists but is not a regular file (symbolic links followed):
    'is a named pipe (FIFO)', 'is a device', 'is a directory', 'is a symbolic link loop',
    'is a symbolic link to nothing', ...; None for a regular file or nothing at all. For
    the errors that would otherwise say the file is missing."""
    name = os.fspath(path)
    if not os.path.lexists(name):
        return None
    try:
        info = os.stat(name)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link loop"
        if isinstance(exc, FileNotFoundError):
            return "is a symbolic link to nothing"
        return f"cannot be read ({exc.strerror or exc})"
    return None if stat.S_ISREG(info.st_mode) else f"is {_kind(info.st_mode)}"


def open_regular(path: str | os.PathLike, max_bytes: int, what: str = "file") -> IO[bytes]:
    """Open ``path`` for reading in binary, refusing (FileReadError naming the file) what is
    not a regular file and a file above ``max_bytes``. The open never blocks: a FIFO is opened
    with O_NONBLOCK, then refused. ``what`` names the kind in the message ("config.json").
    Raises FileReadError (a FileNotFoundError is raised as it is, for callers that treat a
    missing file on its own)."""
    name = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(name, flags)
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise FileReadError(name, f"{name}: is a directory, expected {what}") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:                                   # a link to itself
            raise FileReadError(name, f"{name}: is a symbolic link loop, expected {what} "
                                      f"(a regular file)") from None
        raise FileReadError(name, f"{name}: cannot be read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileReadError(name, f"{name}: is {_kind(info.st_mode)}, expected {what} "
                                      f"(a regular file)")
        if info.st_size > max_bytes:
            raise FileReadError(name, f"{name}: {info.st_size:,} bytes, expected {what} of at "
                                      f"most {max_bytes:,} bytes")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | os.PathLike, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (see :func:`open_regular`); a
    file that grows past the cap while it is read is refused too. Raises FileReadError, or
    FileNotFoundError for a missing file."""
    with open_regular(path, max_bytes, what) as handle:
        try:
            data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise FileReadError(path, f"{os.fspath(path)}: cannot be read "
                                      f"({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise FileReadError(path, f"{os.fspath(path)}: more than {max_bytes:,} bytes, expected "
                                  f"{what} of at most {max_bytes:,} bytes")
    return data


def _text(data: bytes | str, source: str) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileReadError(source, f"{source}: not UTF-8 text (byte {exc.start:,})") from None


def nesting_depth(value, limit: int = MAX_NESTING) -> int:
    """How deeply lists and dicts nest in ``value`` (a scalar: 0, ``[1]``: 1), counted without
    recursion; stops counting past ``limit`` (returns limit + 1)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return limit + 1
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, (dict, list, tuple)))
    return deepest


def _bounded(value, source: str):
    if nesting_depth(value) > MAX_NESTING:
        raise FileReadError(source, f"{source}: nested more than {MAX_NESTING} levels deep")
    return value


def value_error_reason(exc: ValueError) -> str:
    """A parser's ValueError in plain words: Python's cap on the digits of an integer
    (sys.get_int_max_str_digits, 4,300) as 'a number of more than 4,300 digits', not the
    advice to raise the cap; any other as its message."""
    text = str(exc)
    if "integer string conversion" in text or "int_max_str_digits" in text:
        import sys

        limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 4300
        return f"a number of more than {limit:,} digits"
    return text.splitlines()[0] if text else type(exc).__name__


def parse_json(data: bytes | str, source: str):
    """``data`` parsed as JSON, nested at most ``MAX_NESTING`` deep. ``source`` names the file
    (or the entry) in the message. Raises FileReadError."""
    text = _text(data, source)
    try:
        value = json.loads(text)
    except RecursionError:
        raise FileReadError(source, f"{source}: nested more than {MAX_NESTING} levels "
                                    f"deep") from None
    except json.JSONDecodeError as exc:
        raise FileReadError(source, f"{source}: not valid JSON (line {exc.lineno}, column "
                                    f"{exc.colno}: {exc.msg})") from None
    except ValueError as exc:                                         # e.g. too long an integer
        raise FileReadError(source, f"{source}: not valid JSON "
                                    f"({value_error_reason(exc)})") from None
    return _bounded(value, source)


#: TOML's pieces that matter to its nesting: strings and comments (skipped), separators,
#: and the dots of dotted keys
_TOML_TOKENS = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\']|\'(?!\'\'))*\'\'\''
                          r'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*|[=,{}\[\]\n]|\.', re.S)


def _toml_key_depth(text: str, source: str) -> None:
    """Refuse a dotted key of more than MAX_KEY_PARTS parts before tomllib sees it: tomllib
    keeps every prefix of a dotted key, so its time and memory grow with the square of the
    key's length (100,000 parts: many gigabytes)."""
    dots = 0
    for match in _TOML_TOKENS.finditer(text):
        token = match.group()
        if token == ".":
            dots += 1
            if dots >= MAX_KEY_PARTS:
                raise FileReadError(source, f"{source}: a dotted key of more than "
                                            f"{MAX_KEY_PARTS} parts (nested too deeply)")
        elif token in "=,{}[]\n":
            dots = 0


def parse_toml(data: bytes | str, source: str) -> dict:
    """``data`` parsed as TOML, nested at most ``MAX_NESTING`` deep (dotted keys checked
    before parsing, arrays and tables by the parser's own recursion and then counted).
    Raises FileReadError."""
    try:
        import tomllib
    except ImportError:                                                # Python < 3.11
        import tomli as tomllib
    text = _text(data, source)
    _toml_key_depth(text, source)
    try:
        value = tomllib.loads(text)
    except RecursionError:
        raise FileReadError(source, f"{source}: nested more than {MAX_NESTING} levels "
                                    f"deep") from None
    except tomllib.TOMLDecodeError as exc:
        raise FileReadError(source, f"{source}: not valid TOML ({exc})") from None
    except ValueError as exc:
        raise FileReadError(source, f"{source}: not valid TOML "
                                    f"({value_error_reason(exc)})") from None
    return _bounded(value, source)


def read_json(path: str | os.PathLike, max_bytes: int, what: str = "a JSON file"):
    """A regular file of at most ``max_bytes`` parsed as JSON (see :func:`read_bytes`,
    :func:`parse_json`). Raises FileReadError, or FileNotFoundError for a missing file."""
    return parse_json(read_bytes(path, max_bytes, what), os.fspath(path))


def read_toml(path: str | os.PathLike, max_bytes: int, what: str = "a TOML file") -> dict:
    """A regular file of at most ``max_bytes`` parsed as TOML. Raises FileReadError, or
    FileNotFoundError for a missing file."""
    return parse_toml(read_bytes(path, max_bytes, what), os.fspath(path))
