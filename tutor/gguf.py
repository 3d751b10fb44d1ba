"""Reading GGUF files (llama.cpp's model format) safely: header, metadata, tensor table.

The layout (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md), all little-endian:

* the header: the magic ``b"GGUF"``, a uint32 version (2 or 3), a uint64 tensor count and a
  uint64 metadata count;
* the metadata: per entry a string key, a uint32 value type and the value. A string is a
  uint64 byte length and UTF-8 bytes; an array is a uint32 element type, a uint64 count and
  the elements. Value types: 0 uint8, 1 int8, 2 uint16, 3 int16, 4 uint32, 5 int32,
  6 float32, 7 bool, 8 string, 9 array, 10 uint64, 11 int64, 12 float64;
* the tensor table: per tensor a string name, a uint32 dimension count n (at most 4), n uint64
  dimensions (GGML order: the first is the one that varies fastest, so NumPy's shape is the
  reverse), a uint32 GGML type and a uint64 offset from the start of the data;
* padding to ``general.alignment`` (32 when absent), then the data; each tensor's offset is a
  multiple of the alignment.

Every count, length, offset and size is checked against the file's size before anything is
allocated; a tensor type other than F32, F16, Q8_0 and Q4_1 is refused by name. Tensor data
are read-only NumPy views of a memory map of the file (no copy); :meth:`GGUFFile.array`
dequantizes one with :mod:`tutor.nn.quant`.

Why not ``gguf.GGUFReader`` (ggml-org's reader)? It builds a field object for each of the
49,152 tokens and 48,900 merges of SmolLM2's tokenizer: 2.0-5.6 s to open that file, against
a 1.0 s budget for loading the whole model. This reader takes about 0.1 s and is tested field
for field and tensor for tensor against it (tests/test_gguf.py).
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass, field

from .errors import TutorError
from .files import open_regular

MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32
MAX_DIMS = 4                                                           # GGML_MAX_DIMS
MAX_ARRAY_DEPTH = 4                                                    # arrays of arrays, nested

#: GGUF metadata value types: id -> (name, struct format or None for string/array).
VALUE_TYPES: dict[int, tuple[str, str | None]] = {
    0: ("UINT8", "<B"), 1: ("INT8", "<b"), 2: ("UINT16", "<H"), 3: ("INT16", "<h"),
    4: ("UINT32", "<I"), 5: ("INT32", "<i"), 6: ("FLOAT32", "<f"), 7: ("BOOL", "<?"),
    8: ("STRING", None), 9: ("ARRAY", None), 10: ("UINT64", "<Q"), 11: ("INT64", "<q"),
    12: ("FLOAT64", "<d"),
}
_NUMPY_DTYPES = {0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "?",
                 10: "<u8", 11: "<i8", 12: "<f8"}

#: GGML tensor types by id (ggml.h's ``enum ggml_type``), to name the ones tutor refuses.
GGML_TYPES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1",
    10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS",
    17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S",
    23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M",
    30: "BF16", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
}


@dataclass(frozen=True)
class GGUFTensor:
    """One entry of the tensor table: ``shape`` in NumPy order (the reverse of GGML's
    ``ggml_shape``), ``kind`` the GGML type name, ``offset`` absolute in the file."""

    name: str
    kind: str
    ggml_shape: tuple[int, ...]
    offset: int
    nbytes: int

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(reversed(self.ggml_shape))

    @property
    def n_elements(self) -> int:
        n = 1
        for dim in self.ggml_shape:
            n *= dim
        return n


@dataclass
class GGUFFile:
    """A checked GGUF file: its metadata (``{key: value}``; numbers as Python numbers, strings
    as ``str``, arrays of numbers as read-only NumPy arrays, arrays of strings as lists),
    the value type names of each key (``types``, GGUFReader's ``field.types`` names, e.g.
    ``["ARRAY", "STRING"]``) and the tensor table in file order."""

    path: str
    version: int
    metadata: dict
    types: dict[str, list[str]]
    tensors: dict[str, GGUFTensor]
    alignment: int
    data_start: int
    file_bytes: int
    _buffer: object = field(default=None, repr=False)

    def raw(self, name: str):
        """The bytes of tensor ``name``: a read-only uint8 NumPy view of the file, no copy."""
        import numpy as np

        info = self._tensor(name)
        return np.frombuffer(self._buffer, dtype=np.uint8, count=info.nbytes, offset=info.offset)

    def array(self, name: str, *, out=None):
        """Tensor ``name`` as float32 in NumPy's shape, dequantized (F32: a read-only view).

        ``out``: an optional C-contiguous float32 array of that many numbers to dequantize
        into (:func:`tutor.nn.quant.dequantize`). Raises TutorError for a missing name."""
        from .nn.quant import dequantize

        info = self._tensor(name)
        return dequantize(self.raw(name), info.kind, info.shape, out=out)

    def _tensor(self, name: str) -> GGUFTensor:
        if name not in self.tensors:
            raise _fail(self.path, f"tensor {name!r} is missing")
        return self.tensors[name]


def _fail(path, message: str) -> TutorError:
    return TutorError(f"{os.fspath(path)}: {message}")


class _Cursor:
    """Reads little-endian values from a buffer, refusing to read past its end."""

    def __init__(self, path, buffer, size: int):
        self.path, self.buffer, self.size, self.pos = path, buffer, size, 0

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.size:
            raise _fail(self.path, f"{what} claims {n:,} bytes at byte {self.pos:,} but the file "
                                   f"holds {self.size:,} (truncated or corrupt GGUF)")

    def unpack(self, fmt: str, n: int, what: str):
        self.need(n, what)
        (value,) = struct.unpack_from(fmt, self.buffer, self.pos)
        self.pos += n
        return value

    def u32(self, what: str) -> int:
        return self.unpack("<I", 4, what)

    def u64(self, what: str) -> int:
        return self.unpack("<Q", 8, what)

    def string(self, what: str) -> str:
        n = self.u64(what)
        self.need(n, what)
        raw = self.buffer[self.pos:self.pos + n]
        self.pos += n
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _fail(self.path, f"{what} is not UTF-8") from None

    def strings(self, count: int, what: str) -> list[str]:
        """``count`` strings in a row (a tokenizer's tokens, merges): one tight loop."""
        buffer, pos, size, unpack = self.buffer, self.pos, self.size, struct.unpack_from
        out = []
        append = out.append
        try:
            for _ in range(count):
                if pos + 8 > size:
                    raise IndexError
                (n,) = unpack("<Q", buffer, pos)
                end = pos + 8 + n
                if end > size:
                    raise IndexError
                append(buffer[pos + 8:end].decode("utf-8"))
                pos = end
        except IndexError:
            self.pos = pos
            raise _fail(self.path, f"{what}: string {len(out)} of {count:,} runs past the end of "
                                   f"the file ({size:,} bytes)") from None
        except UnicodeDecodeError:
            raise _fail(self.path, f"{what}: string {len(out)} is not UTF-8") from None
        self.pos = pos
        return out


def _value(cur: _Cursor, kind: int, key: str, types: list[str], depth: int = 0):
    if kind not in VALUE_TYPES:
        raise _fail(cur.path, f"metadata {key!r} has unknown value type {kind}; expected 0-12")
    name, fmt = VALUE_TYPES[kind]
    types.append(name)
    if fmt is not None:
        return cur.unpack(fmt, struct.calcsize(fmt), f"metadata {key!r}")
    if kind == 8:
        return cur.string(f"metadata {key!r}")
    if depth >= MAX_ARRAY_DEPTH:
        raise _fail(cur.path, f"metadata {key!r} nests arrays deeper than {MAX_ARRAY_DEPTH}")
    item = cur.u32(f"metadata {key!r} (array type)")
    count = cur.u64(f"metadata {key!r} (array count)")
    if item not in VALUE_TYPES:
        raise _fail(cur.path, f"metadata {key!r} is an array of unknown type {item}")
    item_name, item_fmt = VALUE_TYPES[item]
    if item_fmt is not None:
        import numpy as np

        size = struct.calcsize(item_fmt)
        cur.need(count * size, f"metadata {key!r} ({count:,} {item_name} values)")
        values = np.frombuffer(cur.buffer, dtype=_NUMPY_DTYPES[item], count=count, offset=cur.pos)
        cur.pos += count * size
        types.append(item_name)
        return values
    # each string or array element takes at least 8 bytes (its length or count)
    cur.need(count * 8, f"metadata {key!r} ({count:,} {item_name} values)")
    if item == 8:
        types.append(item_name)
        return cur.strings(count, f"metadata {key!r}")
    values, inner = [], []
    for _ in range(count):
        inner = []
        values.append(_value(cur, item, key, inner, depth + 1))
    types.extend(inner or [item_name])
    return values


def read_gguf(path) -> GGUFFile:
    """Open a GGUF file: check and read its header, metadata and tensor table; map its data.

    Checks, before allocating anything a header claims: a regular file (a FIFO or device is
    refused, never waited on), the magic and version (2 or 3; a
    big-endian file is refused), that each count fits in the bytes left (a metadata entry
    takes at least 13 bytes, a tensor entry 24, an array element its size), each string and
    array within the file, unique keys and tensor names, at most 4 dimensions, known value
    types, ``general.alignment`` a power of two, each tensor's offset a multiple of it and its
    bytes (from its type and shape) inside the file without overlapping another. A tensor of a
    type tutor does not read (Q4_K, BF16, ...) is refused by name.

    Returns a :class:`GGUFFile` whose tensor data are views of a read-only memory map.
    Raises TutorError naming the file and the fault.
    """
    try:                                                               # a FIFO: refused, not waited on
        handle = open_regular(path, 2**62, "a .gguf file")            # FileReadError: a TutorError
    except FileNotFoundError:
        raise _fail(path, "no such file") from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size < 24:
            raise _fail(path, f"not a GGUF file: {size} bytes, expected at least 24")
        if handle.read(4) != MAGIC:
            raise _fail(path, "not a GGUF file: it does not start with 'GGUF'")
        buffer = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    cur = _Cursor(path, buffer, size)
    cur.pos = 4
    version = cur.u32("version")
    if version not in (2, 3):
        swapped = struct.unpack("<I", struct.pack(">I", version))[0]
        if swapped in (2, 3):
            raise _fail(path, "is a big-endian GGUF file; tutor reads little-endian ones")
        raise _fail(path, f"GGUF version {version}; tutor reads versions 2 and 3")
    n_tensors = cur.u64("tensor count")
    n_kv = cur.u64("metadata count")
    if n_kv * 13 > size - cur.pos:
        raise _fail(path, f"header claims {n_kv:,} metadata entries; the file's {size:,} bytes "
                          "hold far fewer")
    metadata: dict = {}
    types: dict[str, list[str]] = {}
    for _ in range(n_kv):
        key = cur.string("metadata key")
        if key in metadata:
            raise _fail(path, f"metadata key {key!r} appears twice")
        kind = cur.u32(f"metadata {key!r} (type)")
        types[key] = []
        metadata[key] = _value(cur, kind, key, types[key])
    if n_tensors * 24 > size - cur.pos:
        raise _fail(path, f"header claims {n_tensors:,} tensors; the file's {size:,} bytes "
                          "hold far fewer")
    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if ("general.alignment" in metadata and types["general.alignment"] != ["UINT32"]) or \
            not isinstance(alignment, int) or alignment < 1 or alignment & (alignment - 1):
        raise _fail(path, f"general.alignment must be a power of two (uint32), got {alignment!r}")
    table = []
    for _ in range(n_tensors):
        name = cur.string("tensor name")
        n_dims = cur.u32(f"tensor {name!r} (dimensions)")
        if n_dims > MAX_DIMS:
            raise _fail(path, f"tensor {name!r} has {n_dims} dimensions, at most {MAX_DIMS}")
        dims = tuple(cur.u64(f"tensor {name!r} (shape)") for _ in range(n_dims))
        type_id = cur.u32(f"tensor {name!r} (type)")
        offset = cur.u64(f"tensor {name!r} (offset)")
        table.append((name, dims, type_id, offset))
    data_start = -(-cur.pos // alignment) * alignment
    data_bytes = size - data_start
    from .nn.quant import BLOCK_SIZES, tensor_nbytes                   # the types tutor reads

    tensors: dict[str, GGUFTensor] = {}
    for name, dims, type_id, offset in table:
        if name in tensors:
            raise _fail(path, f"tensor {name!r} appears twice")
        kind = GGML_TYPES.get(type_id, f"type {type_id}")
        if kind not in BLOCK_SIZES:
            raise _fail(path, f"tensor {name!r} is {kind}; tutor reads "
                              f"{', '.join(BLOCK_SIZES)} tensors")
        block = BLOCK_SIZES[kind][0]
        row = dims[0] if dims else 1
        if row % block:
            raise _fail(path, f"tensor {name!r}: rows of {row} numbers are not whole "
                              f"{kind} blocks of {block}")
        n = 1
        for dim in dims:
            n *= dim
        nbytes = tensor_nbytes(kind, n)
        if offset % alignment:
            raise _fail(path, f"tensor {name!r}: offset {offset:,} is not a multiple of the "
                              f"alignment {alignment}")
        if data_start > size or offset + nbytes > data_bytes:
            raise _fail(path, f"tensor {name!r} claims bytes {offset:,}-{offset + nbytes:,} of "
                              f"the data but the file holds {max(data_bytes, 0):,}")
        tensors[name] = GGUFTensor(name, kind, dims, data_start + offset, nbytes)
    end = 0
    for info in sorted(tensors.values(), key=lambda t: t.offset):
        if info.offset < end:
            raise _fail(path, f"tensor {info.name!r} overlaps the previous one")
        end = info.offset + info.nbytes
    return GGUFFile(os.fspath(path), version, metadata, types, tensors, alignment,
                    data_start, size, buffer)
