"""Reading weight files: ``.npz`` (NumPy) and ``.safetensors`` (Hugging Face), never a pickle.

One entry point, :func:`load_weights`, looks at a file's first bytes (not its name) and
dispatches:

* a zip archive holding ``*/data.pkl``, or raw pickle bytes: PyTorch's ``torch.save`` format
  (``.pt``, ``.pth``, ``pytorch_model.bin``). Refused: unpickling a file can run any code
  the file's author chose. The error gives the one-line export to ``.safetensors``.
* another zip archive: an ``.npz`` file, read by :func:`tutor.nn.params.load_npz`
  (``allow_pickle=False``).
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

from .errors import FileReadError, TutorError
from .files import open_regular, parse_json
from .limits import MAX_HEADER_BYTES

#: The one extra that holds the optional readers (safetensors, tokenizers).
MODELS_EXTRA_HINT = 'pip install "transformer-tutor[models]"'

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
    data_start: int                                                    # 8 + header length

    @property
    def data_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors.values())


def _fail(path, message: str) -> TutorError:
    return TutorError(f"{os.fspath(path)}: {message}")


def _open_checked(path, max_file_bytes: int | None = None):
    """Open ``path`` for reading; a missing file, a folder, a FIFO or device, no permission,
    or a file above ``max_file_bytes`` is a TutorError (never a wait on a FIFO)."""
    try:
        return open_regular(path, NO_CAP if max_file_bytes is None else max_file_bytes,
                            "a weight file (.npz or .safetensors)")
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
        if 0 < length <= size - 8 and head[8:9] == b"{":
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
    return SafetensorsHeader(os.fspath(path), ordered, dict(metadata), 8 + length)


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
        from .nn.params import load_npz
        return load_npz(path, max_bytes=max_bytes)
    if kind == "safetensors":
        return load_safetensors(path, max_bytes=max_bytes)
    if kind == "npy":
        raise _fail(path, "is a single .npy array; expected a set of named arrays "
                          "(.npz or .safetensors)")
    raise _fail(path, "not a weight file tutor reads: not an .npz file (not a zip archive) "
                      "nor a .safetensors file")
