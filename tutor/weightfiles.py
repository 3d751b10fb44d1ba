"""Reading weight files: ``.npz`` (NumPy) and ``.safetensors`` (Hugging Face), never a pickle.

One entry point, :func:`load_weights`, looks at a file's first bytes (not its name) and
dispatches:

* a zip archive holding ``*/data.pkl``, or raw pickle bytes: PyTorch's ``torch.save`` format
  (``.pt``, ``.pth``, ``pytorch_model.bin``). Refused: unpickling a file can run any code
  the file's author chose. The error gives the one-line export to ``.safetensors``.
* another zip archive: an ``.npz`` file, read by :func:`load_npz` (every member's ``.npy``
  header checked against its size and the cap; never unpickled). :func:`save_npz` writes one.
* otherwise a ``.safetensors`` file: its header is checked by :func:`read_safetensors_header`
  (sizes, dtypes, shapes, offsets against the file's size) before anything is allocated, then
  the tensors are read with the ``safetensors`` package's NumPy API (the ``models`` extra).

The safetensors layout (https://github.com/huggingface/safetensors, "Format"): 8 bytes, an
unsigned little-endian 64-bit header length N; N bytes of UTF-8 JSON mapping each tensor
name to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets relative to the byte
after the header), plus an optional ``"__metadata__"`` of strings; then the data, which the
tensors must cover exactly, without overlaps or holes.

Nothing heavy is imported at module level (NumPy and safetensors only inside functions).
"""

from __future__ import annotations

import math
import os
import struct
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

from .errors import FileReadError, TutorError
from .files import atomic_write, open_regular, parse_json
from .limits import MAX_HEADER_BYTES
from .resources import MODELS_EXTRA_HINT

if TYPE_CHECKING:
    import numpy as np

#: The export that turns a PyTorch pickle into a file tutor reads. ``weights_only=True``
#: (torch's default since 2.6) refuses to run arbitrary code; ``.contiguous().clone()``
#: unties shared tensors (GPT-2's lm_head/wte), which ``save_file`` refuses otherwise.
EXPORT_COMMAND = (
    "python -c \"import torch; from safetensors.torch import save_file; "
    "sd = torch.load('{src}', map_location='cpu', weights_only=True); "
    "save_file({{k: v.contiguous().clone() for k, v in sd.items()}}, '{dst}')\"")

#: Bytes per element of each safetensors dtype, and the NumPy dtype it reads as (None:
#: a dtype NumPy has no type for; such files are refused by name).
SAFETENSORS_DTYPES: dict[str, tuple[int, str | None]] = {
    "BOOL": (1, "bool"), "U8": (1, "uint8"), "I8": (1, "int8"),
    "U16": (2, "uint16"), "I16": (2, "int16"), "F16": (2, "float16"), "BF16": (2, None),
    "U32": (4, "uint32"), "I32": (4, "int32"), "F32": (4, "float32"),
    "U64": (8, "uint64"), "I64": (8, "int64"), "F64": (8, "float64"),
    "F8_E4M3": (1, None), "F8_E5M2": (1, None),
}

#: A file with no cap of its own is still refused above this (no weight file tutor reads is
#: this large; the callers pass their own, smaller caps).
NO_CAP = 2**62


@dataclass(frozen=True)
class TensorInfo:
    """One entry of a safetensors header: dtype name, shape, byte range within the data."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.begin


@dataclass(frozen=True)
class SafetensorsHeader:
    """A checked safetensors header: the tensors in file order and the metadata strings."""

    path: str
    tensors: dict[str, TensorInfo]
    metadata: dict[str, str]


def _fail(path, message: str) -> TutorError:
    return TutorError(f"{os.fspath(path)}: {message}")


def _open_checked(path, max_file_bytes: int | None = None,
                  what: str = "a weight file (.npz or .safetensors)"):
    """Open ``path`` for reading; a missing file, a folder, a FIFO or device, no permission,
    or a file above ``max_file_bytes`` is a TutorError (never a wait on a FIFO)."""
    try:
        return open_regular(path, NO_CAP if max_file_bytes is None else max_file_bytes, what)
    except FileNotFoundError:
        raise _fail(path, "no such file") from None
    except FileReadError as exc:
        raise TutorError(str(exc)) from None


def pickle_refusal(path, *, what: str = "a PyTorch pickle (torch.save)") -> TutorError:
    """The error for a file that only a pickle loader could read: why, and the export."""
    src = os.path.basename(os.fspath(path))
    dst = ("model.safetensors" if src == "pytorch_model.bin"             # a Hugging Face folder's name
           else os.path.splitext(src)[0] + ".safetensors")
    return _fail(path, f"is {what}; tutor never unpickles, because loading a pickle can run "
                       f"any code its author put in it. Export it once, in Python with torch, "
                       f"on a file you trust: {EXPORT_COMMAND.format(src=src, dst=dst)}")


def sniff_format(path) -> str:
    """What a weight file is, from its first bytes: ``"npz"``, ``"npy"``, ``"torch-zip"``,
    ``"pickle"``, ``"safetensors"`` or ``"unknown"``. Raises TutorError if it cannot be read."""
    with _open_checked(path) as handle:
        head = handle.read(16)
        size = os.fstat(handle.fileno()).st_size
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            return "unknown"
        if any(name == "data.pkl" or name.endswith("/data.pkl") for name in names):
            return "torch-zip"
        return "npz"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:      # PROTO opcode, protocol 2-5
        return "pickle"
    if len(head) >= 9:
        (length,) = struct.unpack("<Q", head[:8])
        if 0 < length and head[8:9] == b"{":   # a length past the file: the reader says so
            return "safetensors"
    return "unknown"


def read_safetensors_header(path, *, max_bytes: int | None = None,
                            max_file_bytes: int | None = None) -> SafetensorsHeader:
    """Read and check a safetensors header without reading (or allocating) any tensor.

    Checks: the file is a regular file (of at most ``max_file_bytes``, when given) holding
    at least 8 bytes; the header length N fits in the file and in ``MAX_HEADER_BYTES``
    (``tutor/limits.py``); the header is a UTF-8 JSON object nested at most ``MAX_NESTING``
    deep; each entry has a known dtype, a shape of
    non-negative integers and ``data_offsets`` [begin, end] with end - begin = the element
    count times the dtype's size; the ranges neither overlap nor leave holes, and together
    cover exactly the bytes after the header (so no tensor claims more than the file holds).
    With ``max_bytes``, a file whose tensors would take more is refused.

    Returns a :class:`SafetensorsHeader`. Raises TutorError naming the file and the fault.
    """
    with _open_checked(path, max_file_bytes) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size < 8:
            raise _fail(path, f"not a safetensors file: {size} bytes, expected at least 8")
        (length,) = struct.unpack("<Q", handle.read(8))
        if length > size - 8:
            raise _fail(path, f"safetensors header claims {length:,} bytes but the file holds "
                              f"{size - 8:,} after the length")
        if length > MAX_HEADER_BYTES:
            raise _fail(path, f"safetensors header of {length:,} bytes, expected at most "
                              f"{MAX_HEADER_BYTES:,} (MAX_HEADER_BYTES)")
        raw = handle.read(length)
    try:
        header = parse_json(raw, "header")
    except FileReadError as exc:
        raise _fail(path, f"not a safetensors file: the {exc}") from None
    if not isinstance(header, dict):
        raise _fail(path, f"safetensors header is a JSON {type(header).__name__}, expected an object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise _fail(path, "safetensors __metadata__ must map strings to strings")
    data_size = size - 8 - length
    tensors: dict[str, TensorInfo] = {}
    for name, entry in header.items():
        tensors[name] = _check_entry(path, name, entry, data_size)
    spans = sorted(tensors.values(), key=lambda t: (t.begin, t.end))
    position = 0
    for info in spans:
        if info.begin < position:
            raise _fail(path, f"tensor {info.name!r} overlaps the previous one (bytes "
                              f"{info.begin:,}-{info.end:,}, the previous ends at {position:,})")
        if info.begin > position:
            raise _fail(path, f"safetensors data has a hole before tensor {info.name!r} "
                              f"(bytes {position:,}-{info.begin:,} belong to no tensor)")
        position = info.end
    if position != data_size:
        raise _fail(path, f"the tensors cover {position:,} bytes of data but the file holds "
                          f"{data_size:,} after the header")
    if max_bytes is not None and position > max_bytes:
        raise _fail(path, f"expected at most {max_bytes:,} bytes of tensors, got {position:,}")
    ordered = {t.name: t for t in sorted(tensors.values(), key=lambda t: t.begin)}
    return SafetensorsHeader(os.fspath(path), ordered, dict(metadata))


def _check_entry(path, name, entry, data_size: int) -> TensorInfo:
    if not isinstance(entry, dict):
        raise _fail(path, f"tensor {name!r}: header entry is not an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in SAFETENSORS_DTYPES:
        raise _fail(path, f"tensor {name!r}: unknown dtype {dtype!r}, expected one of "
                          f"{', '.join(SAFETENSORS_DTYPES)}")
    if (not isinstance(shape, list) or len(shape) > 16
            or not all(type(n) is int and n >= 0 for n in shape)):
        raise _fail(path, f"tensor {name!r}: shape must be a list of at most 16 non-negative "
                          f"integers, got {shape!r}")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(type(n) is int and n >= 0 for n in offsets) or offsets[0] > offsets[1]):
        raise _fail(path, f"tensor {name!r}: data_offsets must be [begin, end] with "
                          f"0 <= begin <= end, got {offsets!r}")
    begin, end = offsets
    itemsize = SAFETENSORS_DTYPES[dtype][0]
    expected = math.prod(shape) * itemsize                             # Python ints: no overflow
    if end > data_size:
        raise _fail(path, f"tensor {name!r} claims bytes {begin:,}-{end:,} but the file holds "
                          f"{data_size:,} bytes of data")
    if end - begin != expected:
        raise _fail(path, f"tensor {name!r}: shape {tuple(shape)} of {dtype} needs "
                          f"{expected:,} bytes, its data_offsets give {end - begin:,}")
    return TensorInfo(name, dtype, tuple(shape), begin, end)


def _safetensors_numpy():
    try:
        from safetensors import safe_open
    except ImportError:
        raise TutorError("reading .safetensors files needs the 'safetensors' package: "
                         f"{MODELS_EXTRA_HINT}") from None
    return safe_open


def load_safetensors(path, names=None, *, header: SafetensorsHeader | None = None,
                     max_bytes: int | None = None) -> dict:
    """The tensors of a .safetensors file as NumPy arrays (all, or only ``names``).

    The header is checked first (:func:`read_safetensors_header`; pass ``header`` if it was
    already read). Tensors in a dtype NumPy lacks (BF16, F8) are refused by name.
    Raises TutorError naming the file (a missing name, a bad file, the package missing).
    """
    header = header or read_safetensors_header(path, max_bytes=max_bytes)
    wanted = list(header.tensors) if names is None else list(names)
    for name in wanted:
        if name not in header.tensors:
            raise _fail(path, f"tensor {name!r} is missing")
        dtype = header.tensors[name].dtype
        if SAFETENSORS_DTYPES[dtype][1] is None:
            raise _fail(path, f"tensor {name!r} is {dtype}, which NumPy cannot hold; save the "
                              "file in F32 (e.g. model.float() before saving)")
    safe_open = _safetensors_numpy()
    try:
        with safe_open(os.fspath(path), framework="numpy") as reader:
            return {name: reader.get_tensor(name) for name in wanted}
    except TutorError:
        raise
    except Exception as exc:                                           # the package's own errors
        raise _fail(path, f"not a readable .safetensors file ({exc})") from None


def save_npz(path: str | os.PathLike, params: Mapping[str, np.ndarray]) -> None:
    """Write the parameters to ``path`` with ``numpy.savez`` (a temporary file, then rename);
    :func:`load_npz` reads it back."""
    import numpy as np

    arrays = {name: np.asarray(value) for name, value in params.items()}
    atomic_write(path, lambda handle: np.savez(handle, **arrays))


#: numpy dtype kinds an array file may hold: booleans, numbers, and text (a checkpoint's
#: meta.json); never objects (they need pickle) nor raw void records
_ARRAY_KINDS = frozenset("biufcUS")


def read_npy_header(stream, source: str, available: int) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """Read and check an .npy header from ``stream`` (positioned at its start), without
    reading or allocating the array: (shape, fortran_order, dtype, bytes of data).

    ``available`` is how many bytes the stream holds from its start (a file's size, a zip
    member's declared size): the data the header declares must fill exactly the rest, so a
    header cannot make tutor allocate what the file does not hold. The format is NumPy's
    (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html), versions 1.0
    and 2.0. Raises TutorError naming ``source``."""
    from numpy.lib import format as npy_format

    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(stream)
        else:
            raise TutorError(f"{source}: .npy format version {version[0]}.{version[1]}, "
                             f"expected 1.0 or 2.0")
    except TutorError:
        raise
    except (ValueError, OSError, EOFError, SyntaxError, TypeError, zipfile.BadZipFile) as exc:
        raise TutorError(f"{source}: not an .npy array ({str(exc).splitlines()[0]})") from None
    if dtype.hasobject or dtype.kind not in _ARRAY_KINDS or dtype.fields is not None:
        raise TutorError(f"{source}: arrays of dtype {dtype} cannot be read without pickle; "
                         f"expected numbers or text")
    nbytes = math.prod(shape) * dtype.itemsize                        # Python ints: no overflow
    header_bytes = stream.tell()
    if header_bytes + nbytes != available:
        raise TutorError(f"{source}: the .npy header declares shape {tuple(shape)} of {dtype} "
                         f"({nbytes:,} bytes) but {max(available - header_bytes, 0):,} bytes "
                         f"of data follow it")
    return tuple(shape), bool(fortran), dtype, nbytes


def read_npy_data(stream, shape, fortran: bool, dtype: np.dtype, nbytes: int,
                  source: str) -> np.ndarray:
    """The array whose header :func:`read_npy_header` just read from ``stream``: ``nbytes``
    (checked there against what the stream holds) read in chunks into one allocation.
    Raises TutorError naming ``source`` if the data ends early."""
    import numpy as np

    array = np.empty(shape[::-1] if fortran else shape, dtype=dtype)  # nbytes, checked before
    view = memoryview(array.reshape(-1).view(np.uint8)) if nbytes else memoryview(b"")
    got = 0
    while got < nbytes:
        chunk = stream.read(min(nbytes - got, 1 << 24))
        if not chunk:
            raise TutorError(f"{source}: the array's data ends after {got:,} of {nbytes:,} bytes")
        view[got:got + len(chunk)] = chunk
        got += len(chunk)
    return array.T if fortran else array


def load_npz(path: str | os.PathLike, *, max_bytes: int | None = None) -> dict[str, np.ndarray]:
    """Read every array of an .npz file; never unpickles. With ``max_bytes``, a file whose
    arrays would take more is refused before any is read.

    Every member must be an ``<name>.npy`` array of numbers or text whose header's shape and
    dtype fill exactly the member's size (:func:`read_npy_header`); the sizes of all members
    are added up and checked against ``max_bytes`` before anything is allocated. Only a
    regular file is opened (a FIFO is refused, never waited on). Raises TutorError naming
    the file (and the member)."""
    source = os.fspath(path)
    with _open_checked(path, what="an .npz file") as handle:
        if not zipfile.is_zipfile(handle):                             # before numpy guesses at it
            raise TutorError(f"{source}: not an .npz file (not a zip archive)")
        try:
            with zipfile.ZipFile(handle) as archive:
                members = []
                total = 0
                for info in archive.infolist():
                    where = f"{source}: member {info.filename!r}"
                    if info.is_dir() or not info.filename.endswith(".npy"):
                        raise TutorError(f"{where} is not an .npy array (an .npz file holds "
                                         f"only <name>.npy members)")
                    with archive.open(info) as member:
                        header = read_npy_header(member, where, info.file_size)
                    total += header[3]
                    members.append((info, header))
                if max_bytes is not None and total > max_bytes:
                    raise TutorError(f"{source}: expected at most {max_bytes:,} bytes of "
                                     f"arrays, got {total:,}")
                arrays = {}
                for info, (shape, fortran, dtype, nbytes) in members:
                    where = f"{source}: member {info.filename!r}"
                    with archive.open(info) as member:
                        read_npy_header(member, where, info.file_size)
                        arrays[info.filename[:-len(".npy")]] = read_npy_data(
                            member, shape, fortran, dtype, nbytes, where)
                return arrays
        except TutorError:
            raise
        except (OSError, EOFError, ValueError, NotImplementedError, RuntimeError,
                zipfile.BadZipFile, zipfile.LargeZipFile) as exc:      # a damaged archive
            raise TutorError(f"{source}: not a readable .npz file "
                             f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None


def load_weights(path, *, max_bytes: int | None = None) -> dict:
    """Every array of a weight file, by name: ``.npz`` or ``.safetensors``, told apart by
    their first bytes; a PyTorch pickle (``.pt``, ``.pth``, ``pytorch_model.bin``) is refused
    with the reason and the export that works. ``max_bytes`` refuses a file whose arrays
    would take more, before any is read.

    Returns ``{name: numpy.ndarray}``. Raises TutorError naming the file.
    """
    kind = sniff_format(path)
    if kind in ("torch-zip", "pickle"):
        raise pickle_refusal(path)
    if kind == "npz":
        return load_npz(path, max_bytes=max_bytes)
    if kind == "safetensors" or (kind == "unknown"
                                 and os.fspath(path).lower().endswith(".safetensors")):
        return load_safetensors(path, max_bytes=max_bytes)    # its own reason if it is bad
    if kind == "npy":
        raise _fail(path, "is a single .npy array; expected a set of named arrays "
                          "(.npz or .safetensors)")
    raise _fail(path, "not a weight file tutor reads: not an .npz file (not a zip archive) "
                      "nor a .safetensors file")
