"""Block quantization as llama.cpp stores weights (GGML's Q8_0 and Q4_1), and its inverse.

A quantized row is cut into blocks of 32 numbers. Each block keeps one or two float16 scale
numbers and one small integer per number:

* **Q8_0** (34 bytes a block: float16 ``d``, then 32 int8 ``q``): ``x = d * q``, with
  ``d = max|x| / 127`` and ``q = round(x / d)`` (half away from zero). 8.5 bits a number.
* **Q4_1** (20 bytes a block: float16 ``d``, float16 ``m``, then 16 bytes of 4-bit ``q``):
  ``x = d * q + m``, with ``m = min x``, ``d = (max x - min x) / 15`` and
  ``q = trunc((x - m) / d + 0.5)`` in 0..15. Byte j holds number j in its low nibble and
  number j + 16 in its high nibble. 5 bits a number.
* **F16** is IEEE half precision, widened to float32.

Source: ggml's ``ggml-quants.c`` (``dequantize_row_q8_0``, ``dequantize_row_q4_1``,
``quantize_row_q8_0_ref``, ``quantize_row_q4_1_ref``) and gguf-py's ``gguf/quants.py``, which
these functions reproduce bit for bit (tests/test_quant.py, against ``gguf.quants``).
Everything is float32: ``d * q`` is a float32 product and ``+ m`` a float32 sum, in that order,
as ggml computes them (no fused multiply-add).
"""

from __future__ import annotations

import numpy as np

#: Numbers per block and bytes per block of each type tutor reads.
BLOCK_SIZES: dict[str, tuple[int, int]] = {
    "F32": (1, 4), "F16": (1, 2), "Q8_0": (32, 34), "Q4_1": (32, 20),
}

#: Blocks dequantized at a time: the temporaries stay in the processor's cache.
_CHUNK_BLOCKS = 8192


def tensor_nbytes(kind: str, n_elements: int) -> int:
    """Bytes that ``n_elements`` numbers of type ``kind`` take. Raises ValueError when the
    count is not a whole number of blocks, KeyError for a type tutor does not read."""
    block, size = BLOCK_SIZES[kind]
    if n_elements % block:
        raise ValueError(f"{kind} stores numbers in blocks of {block}; {n_elements} is not a "
                         f"multiple of {block}")
    return n_elements // block * size


def _blocks(raw, size: int) -> np.ndarray:
    raw = np.asarray(raw)
    if raw.dtype != np.uint8:
        raise TypeError(f"quantized data must be uint8 bytes, got {raw.dtype}")
    if raw.size % size:
        raise ValueError(f"quantized data of {raw.size} bytes is not a whole number of "
                         f"{size}-byte blocks")
    return raw.reshape(-1, size)


def _out(out, n: int) -> np.ndarray:
    """A float32 result of n numbers: new, or ``out`` checked (C-contiguous float32 of n)."""
    if out is None:
        return np.empty(n, dtype=np.float32)
    if out.dtype != np.float32 or out.size != n or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous float32 array of {n} numbers, got "
                         f"{out.dtype} {out.shape}")
    return out


def _dequantize_blocks(raw, kind: str, out) -> np.ndarray:
    """Q8_0 or Q4_1 bytes -> float32 [n_blocks * 32] (into ``out`` if given), a chunk of
    blocks at a time: x = d * q (Q8_0) or x = d * q + m (Q4_1, byte j's low nibble is number
    j and its high nibble number j + 16)."""
    blocks = _blocks(raw, BLOCK_SIZES[kind][1])
    n = blocks.shape[0]
    result = _out(out, n * 32)
    flat = result.reshape(n, 32)
    for start in range(0, n, _CHUNK_BLOCKS):
        part = blocks[start:start + _CHUNK_BLOCKS]
        dst = flat[start:start + _CHUNK_BLOCKS]
        d = part[:, 0:2].view(np.float16).astype(np.float32)          # [k, 1]
        if kind == "Q8_0":
            dst[...] = part[:, 2:].view(np.int8)                       # q as float32, [k, 32]
            dst *= d                                                   # x = d * q
        else:
            m = part[:, 2:4].view(np.float16).astype(np.float32)      # [k, 1]
            qs = part[:, 4:]                                           # [k, 16] bytes
            dst[:, :16] = qs & np.uint8(0x0F)                          # low nibbles: numbers 0..15
            dst[:, 16:] = qs >> np.uint8(4)                            # high nibbles: 16..31
            dst *= d
            dst += m                                                   # x = d * q + m
    return result


def dequantize_q8_0(raw, *, out=None) -> np.ndarray:
    """Q8_0 bytes [n_blocks * 34] (any shape, uint8) -> float32 [n_blocks * 32]: x = d * q.

    ``out``: an optional float32 array of n_blocks * 32 numbers to write into (any shape).
    Raises TypeError for a dtype other than uint8, ValueError for a partial block.
    """
    return _dequantize_blocks(raw, "Q8_0", out)


def dequantize_q4_1(raw, *, out=None) -> np.ndarray:
    """Q4_1 bytes [n_blocks * 20] (any shape, uint8) -> float32 [n_blocks * 32]: x = d * q + m.

    Within a block, byte j's low nibble is number j and its high nibble number j + 16.
    ``out``: an optional float32 array of n_blocks * 32 numbers to write into (any shape).
    Raises TypeError for a dtype other than uint8, ValueError for a partial block.
    """
    return _dequantize_blocks(raw, "Q4_1", out)


def dequantize_f16(raw, *, out=None) -> np.ndarray:
    """F16 bytes (uint8, little-endian half precision) -> float32, exactly (every half is a
    float32). Raises TypeError for a dtype other than uint8, ValueError for an odd length."""
    halves = _blocks(raw, 2).view(np.float16).reshape(-1)
    if out is None:
        return halves.astype(np.float32)
    _out(out, halves.size).reshape(-1)[...] = halves
    return out


def dequantize(raw, kind: str, shape=None, *, out=None) -> np.ndarray:
    """Raw tensor bytes of GGML type ``kind`` ("F32", "F16", "Q8_0" or "Q4_1") -> float32,
    reshaped to ``shape`` (NumPy order: the last axis is the one a block runs along).

    F32 data comes back as a float32 view of ``raw`` (no copy; read-only if ``raw`` is).
    ``out``: an optional C-contiguous float32 array of as many numbers to write into (then
    returned, reshaped). Raises KeyError naming the type for any other type, ValueError for
    a byte count that does not match ``shape`` or an ``out`` of another size or layout.
    """
    if kind not in BLOCK_SIZES:
        raise KeyError(f"GGML type {kind} cannot be dequantized by tutor; it reads "
                       f"{', '.join(BLOCK_SIZES)}")
    raw = np.asarray(raw)
    if shape is not None:
        n = int(np.prod(shape, dtype=np.int64))
        if raw.size != tensor_nbytes(kind, n):
            raise ValueError(f"{kind} data of shape {tuple(shape)} takes "
                             f"{tensor_nbytes(kind, n)} bytes, got {raw.size}")
    if kind == "F32":
        values = _blocks(raw, 4).view(np.float32).reshape(-1)
        if out is not None:
            _out(out, values.size).reshape(-1)[...] = values
            values = out
    else:
        decode = {"F16": dequantize_f16, "Q8_0": dequantize_q8_0, "Q4_1": dequantize_q4_1}[kind]
        values = decode(raw, out=out)
    return values if shape is None else values.reshape(shape)


def dequantize_transposed(raw, kind: str, shape, out, *, chunk_rows: int = 256) -> np.ndarray:
    """Raw bytes of a [rows, cols] tensor of type ``kind`` dequantized straight into ``out``
    [cols, rows] (its transpose: any float32 array of that shape whose last axis has unit
    stride, e.g. a block of columns of a larger matrix). The same numbers as
    ``dequantize(raw, kind, shape).T``, bit for bit, without a transposed float32 copy:
    the small integers and scales are transposed (a few rows at a time), then ``d * q + m``
    is written in place. Raises ValueError for a mismatch of sizes or shapes."""
    rows, cols = shape
    if out.shape != (cols, rows) or out.dtype != np.float32 or out.strides[-1] != 4:
        raise ValueError(f"out must be float32 [{cols}, {rows}] with unit stride, got "
                         f"{out.dtype} {out.shape}")
    raw = np.asarray(raw)
    if raw.size != tensor_nbytes(kind, rows * cols):
        raise ValueError(f"{kind} data of shape {tuple(shape)} takes "
                         f"{tensor_nbytes(kind, rows * cols)} bytes, got {raw.size}")
    if kind in ("F32", "F16"):
        out[...] = dequantize(raw, kind, shape).T
        return out
    if kind not in ("Q8_0", "Q4_1"):
        raise KeyError(f"GGML type {kind} cannot be dequantized by tutor; it reads "
                       f"{', '.join(BLOCK_SIZES)}")
    size = BLOCK_SIZES[kind][1]
    n_blocks = cols // 32
    blocks = _blocks(raw, size).reshape(rows, n_blocks, size)          # [rows, blocks, bytes]
    for start in range(0, rows, chunk_rows):
        part = blocks[start:start + chunk_rows]                        # [r, nb, bytes]
        r = part.shape[0]
        dst = out[:, start:start + r].reshape(n_blocks, 32, r)         # a view: [nb, 32, r]
        d = part[..., 0:2].view(np.float16)[..., 0].T.astype(np.float32)[:, None, :]  # [nb, 1, r]
        if kind == "Q8_0":
            dst[...] = part[..., 2:].view(np.int8).transpose(1, 2, 0)  # q, [nb, 32, r]
            dst *= d                                                   # x = d * q
        else:
            m = part[..., 2:4].view(np.float16)[..., 0].T.astype(np.float32)[:, None, :]
            qs = np.ascontiguousarray(part[..., 4:].transpose(1, 2, 0))  # [nb, 16, r] bytes
            dst[:, :16] = qs & np.uint8(0x0F)                          # low nibbles: 0..15
            dst[:, 16:] = qs >> np.uint8(4)                            # high nibbles: 16..31
            dst *= d
            dst += m                                                   # x = d * q + m
    return out


def _rows_of_blocks(x, name: str) -> tuple[np.ndarray, tuple[int, ...]]:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 0 or x.shape[-1] % 32:
        raise ValueError(f"{name} quantizes rows of a multiple of 32 numbers, got shape {x.shape}")
    return x.reshape(-1, 32), x.shape


def _round_half_away(n: np.ndarray) -> np.ndarray:
    """Round to the nearest integer, halves away from zero (C's roundf), in n's dtype."""
    a = np.abs(n)
    floored = np.floor(a)
    return np.sign(n) * (floored + np.floor(2 * (a - floored)))


def quantize_q8_0(x) -> np.ndarray:
    """float32 [..., k*32] -> Q8_0 bytes uint8 [..., k*34]: per block d = max|x| / 127 (stored
    as float16), q = round(x / d) as int8 (computed as x * (1/d) in float32, as ggml does;
    a block of zeros gets d = 0 and q = 0). Raises ValueError when the last axis is not a
    multiple of 32."""
    blocks, shape = _rows_of_blocks(x, "Q8_0")
    d = np.abs(blocks).max(axis=1, keepdims=True) / np.float32(127)    # [n, 1] float32
    with np.errstate(divide="ignore"):
        inverse = np.where(d == 0, np.float32(0), np.float32(1) / d)
    q = _round_half_away(blocks * inverse).astype(np.int8)             # [n, 32]
    packed = np.concatenate([d.astype(np.float16).view(np.uint8), q.view(np.uint8)], axis=1)
    return packed.reshape(shape[:-1] + (shape[-1] // 32 * 34,))


def quantize_q4_1(x) -> np.ndarray:
    """float32 [..., k*32] -> Q4_1 bytes uint8 [..., k*20]: per block m = min x,
    d = (max x - min x) / 15 (both stored as float16), q = trunc((x - m) / d + 0.5) in 0..15
    (computed with the float32 d and m, as ggml does), two numbers a byte (j low, j + 16
    high). Raises ValueError when the last axis is not a multiple of 32."""
    blocks, shape = _rows_of_blocks(x, "Q4_1")
    high = blocks.max(axis=1, keepdims=True)
    low = blocks.min(axis=1, keepdims=True)
    d = (high - low) / np.float32(15)
    with np.errstate(divide="ignore"):
        inverse = np.where(d == 0, np.float32(0), np.float32(1) / d)
    q = np.trunc((blocks - low) * inverse + np.float32(0.5)).astype(np.uint8).clip(0, 15)
    packed = q[:, :16] | (q[:, 16:] << np.uint8(4))                    # [n, 16]
    out = np.concatenate([d.astype(np.float16).view(np.uint8),
                          low.astype(np.float16).view(np.uint8), packed], axis=1)
    return out.reshape(shape[:-1] + (shape[-1] // 32 * 20,))
