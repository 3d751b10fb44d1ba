"""The parts today's LLMs changed, in the form the calculators show them step by step.

The fast forms live in :mod:`tutor.nn.llama` (RMSNorm, RoPE, grouped-query attention,
SwiGLU) and :mod:`tutor.nn.quant` (GGML blocks); this module adds what a learner computes
beside them: RMSNorm's steps and operation counts, RoPE on one vector at many positions,
the key/value cache in bytes, feed-forward parameter counts, one quantized block taken
apart, and online softmax ("FlashAttention's core") with every block's running numbers.
Float64 in, float64 out unless said otherwise (the calculators' numbers).
"""

from __future__ import annotations

import math

import numpy as np

from ..trace import NULL_TRACE
from . import quant
from .functional import softmax
from .llama import apply_rope, rms_norm, rope_angles
from .llama import kv_cache_bytes  # noqa: F401  (re-exported: the calculators' name)


# --- RMSNorm ---------------------------------------------------------------------------------

def rms_norm_steps(x, weight, eps: float = 1e-5, *, trace=NULL_TRACE):
    """RMSNorm(x) = x / sqrt(mean(x²) + ε) ⊙ g of a vector x [d] (Zhang & Sennrich 2019;
    Hugging Face's ``LlamaRMSNorm``), recording ``mean_square`` [1], ``rms`` [1]
    (sqrt(mean(x²) + ε)), ``normalized`` [d] (x / rms) and ``out`` [d]. Returns out [d]."""
    x = np.asarray(x, dtype=np.float64)
    out = rms_norm(x, weight, eps, trace=trace)                          # records mean_square, out
    if trace.enabled:
        rms = np.sqrt(trace["mean_square"] + float(eps))                 # [1]
        trace.record("rms", rms)
        trace.record("normalized", x / rms)
    return out


def norm_operation_counts(d: int) -> dict[str, dict[str, int]]:
    """Arithmetic of one d-vector through LayerNorm and RMSNorm, counted from the formulas.

    LayerNorm: Σx (d−1 adds), ÷d, x−μ (d), squares (d), Σ (d−1), ÷d, +ε, √, ÷ (d), ·γ (d),
    +β (d): 7d + 2 operations, 2 passes that reduce (mean, then variance), 2d parameters.
    RMSNorm: squares (d), Σ (d−1), ÷d, +ε, √, ÷ (d), ·g (d): 4d + 2, 1 reduction, d
    parameters. Raises ValueError for d < 1."""
    if d < 1:
        raise ValueError(f"d must be at least 1, got {d}")
    return {"layernorm": {"operations": 7 * d + 2, "reductions": 2, "parameters": 2 * d},
            "rmsnorm": {"operations": 4 * d + 2, "reductions": 1, "parameters": d}}


# --- RoPE ------------------------------------------------------------------------------------

def halves_to_pairs(d: int) -> np.ndarray:
    """The permutation [d] that takes a vector in the halves layout (i paired with i + d/2)
    to the pairs layout (2i paired with 2i + 1): ``v_pairs = v_halves[perm]``. It is how
    llama.cpp's converter permutes the rows of W_Q and W_K."""
    half = d // 2
    return np.stack([np.arange(half), np.arange(half) + half], axis=1).reshape(-1)


def rope_rotate(x, positions, base: float = 10000.0, *, layout: str = "halves",
                trace=NULL_TRACE):
    """The vectors x [n, d] (row p at position ``positions[p]``) rotated by RoPE in float64:
    pair i turned by the angle pos·θ_i, θ_i = base^(−2i/d) (Su et al. 2021, eq. 15; the
    pairs chosen by ``layout``, see :func:`tutor.nn.llama.apply_rope`; θ and the angles from
    :func:`tutor.nn.llama.rope_angles`). Records ``theta`` [d/2], ``angles`` [n, d/2] and
    ``out`` [n, d]. Raises ValueError for an odd d."""
    x = np.asarray(x, dtype=np.float64)
    theta, angles = rope_angles(positions, x.shape[-1], base, np.float64)  # [d/2], [n, d/2]
    out = apply_rope(x, np.cos(angles), np.sin(angles), layout=layout)     # [n, d]
    if trace.enabled:
        trace.record("theta", theta)
        trace.record("angles", angles)
        trace.record("out", out)
    return out


def rope_score(q, k, m: int, n: int, base: float = 10000.0, layout: str = "halves") -> float:
    """q rotated to position m · k rotated to position n: a function of m − n alone."""
    rq = rope_rotate(np.asarray(q)[None, :], [m], base, layout=layout)[0]
    rk = rope_rotate(np.asarray(k)[None, :], [n], base, layout=layout)[0]
    return float(rq @ rk)


# --- grouped-query attention -----------------------------------------------------------------

def repeat_kv(x, group: int):
    """[B, n_kv, n, d] -> [B, n_kv·group, n, d], each key/value head repeated ``group``
    times in place (head h of the result is head h // group): Hugging Face's ``repeat_kv``."""
    return np.repeat(x, group, axis=1)


# --- feed-forward ----------------------------------------------------------------------------

def ffn_parameters(kind: str, d_model: int, d_ff: int, *, bias: bool = False) -> int:
    """Weights of one feed-forward block: two matrices d_model × d_ff for relu and gelu
    (W1, W2), three for swiglu (W_gate, W_up, W_down; Shazeer 2020); with ``bias`` the
    biases of the two-matrix kinds too (d_ff + d_model). Raises ValueError for another kind."""
    if kind in ("relu", "gelu"):
        return 2 * d_model * d_ff + ((d_ff + d_model) if bias else 0)
    if kind == "swiglu":
        return 3 * d_model * d_ff
    raise ValueError(f"kind must be relu, gelu or swiglu, got {kind!r}")


def swiglu_width_at_equal_size(d_ff: int) -> int:
    """The hidden width that gives SwiGLU's three matrices the parameters of a two-matrix
    FFN of width d_ff: 2/3·d_ff (Shazeer 2020; LLaMA then rounds it up to a multiple of 256)."""
    return (2 * d_ff) // 3


# --- quantization ----------------------------------------------------------------------------

#: Bits a stored number takes, scales included: 8 × bytes per block / numbers per block.
BITS_PER_WEIGHT = {kind: 8 * size / block for kind, (block, size) in quant.BLOCK_SIZES.items()}


def quantize_blocks(x, kind: str) -> dict[str, np.ndarray]:
    """Quantize the numbers x [n] in blocks of 32 as GGML does (:mod:`tutor.nn.quant`) and
    take each block apart. A last block shorter than 32 is filled with copies of its last
    number (which changes neither its max |x| nor its min and max), and the copies dropped.

    Returns ``scale`` [blocks] (d, as stored: float16), ``min`` [blocks] (m, Q4_1 only),
    ``codes`` [n] (the integers q), ``reconstruction`` [n] (d·q, or d·q + m, float32) and
    ``error`` [n] (reconstruction − x, x as given). Raises ValueError for another kind or
    no numbers."""
    given = np.asarray(x, dtype=np.float64).reshape(-1)
    x = given.astype(np.float32)
    if x.size == 0:
        raise ValueError("no numbers to quantize")
    n = x.size
    padded = np.concatenate([x, np.full((-n) % 32, x[-1], dtype=np.float32)])
    if kind == "Q8_0":
        raw = quant.quantize_q8_0(padded)
    elif kind == "Q4_1":
        raw = quant.quantize_q4_1(padded)
    else:
        raise ValueError(f"kind must be Q8_0 or Q4_1, got {kind!r}")
    parts = stored_blocks(raw, kind)
    scale, low, codes, rebuilt = (parts.get(name) for name in
                                  ("scale", "min", "codes", "reconstruction"))
    out = {"scale": scale, "codes": codes[:n], "reconstruction": rebuilt[:n],
           "error": rebuilt[:n] - given}
    if low is not None:
        out["min"] = low
    return out


def stored_blocks(raw, kind: str) -> dict[str, np.ndarray]:
    """GGML blocks as stored (uint8 bytes, a whole number of blocks of ``kind`` Q8_0 or
    Q4_1) taken apart: ``scale`` [blocks] (the float16 d), ``min`` [blocks] (the float16 m,
    Q4_1 only), ``codes`` [blocks·32] (Q4_1: byte j's low nibble is number j, its high
    nibble number j + 16) and ``reconstruction`` [blocks·32] (:mod:`tutor.nn.quant`'s
    dequantization), all float64 or int64. Raises ValueError for another kind or a partial
    block."""
    raw = np.asarray(raw, dtype=np.uint8).reshape(-1)
    if kind not in ("Q8_0", "Q4_1"):
        raise ValueError(f"kind must be Q8_0 or Q4_1, got {kind!r}")
    size = quant.BLOCK_SIZES[kind][1]
    if raw.size == 0 or raw.size % size:
        raise ValueError(f"{kind} data must be whole blocks of {size} bytes, got {raw.size}")
    blocks = raw.reshape(-1, size)
    scale = blocks[:, :2].copy().view(np.float16).reshape(-1).astype(np.float64)
    out = {"scale": scale}
    if kind == "Q8_0":
        codes = blocks[:, 2:].copy().view(np.int8)
        rebuilt = quant.dequantize_q8_0(blocks)
    else:
        out["min"] = blocks[:, 2:4].copy().view(np.float16).reshape(-1).astype(np.float64)
        qs = blocks[:, 4:]
        codes = np.concatenate([qs & 0x0F, qs >> 4], axis=1)
        rebuilt = quant.dequantize_q4_1(blocks)
    out["codes"] = codes.reshape(-1).astype(np.int64)
    out["reconstruction"] = rebuilt.astype(np.float64)
    return out


# --- online softmax --------------------------------------------------------------------------

def online_softmax_attention(q, k, v, block: int, *, trace=NULL_TRACE):
    """softmax(Q Kᵀ / √d_k) V one block of ``block`` keys at a time, never holding the n_q×n_k
    scores: per query a running max m, a running sum l of exp(s − m) and an output o
    accumulated with those weights; a block that raises m rescales l and o by exp(m_old −
    m_new) (Milakov & Gimelshein 2018; Dao et al. 2022, "FlashAttention", algorithm 1).

    ``q`` [n_q, d_k], ``k`` [n_k, d_k], ``v`` [n_k, d_v]. Records per block ``block{j}.scores``
    [n_q, b], ``block{j}.max`` [n_q], ``block{j}.rescale`` [n_q], ``block{j}.sum`` [n_q] and
    ``block{j}.acc`` [n_q, d_v], then ``out`` = o / l [n_q, d_v]. Raises ValueError for
    block < 1."""
    if block < 1:
        raise ValueError(f"block must be at least 1, got {block}")
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    scale = 1.0 / math.sqrt(q.shape[-1])
    n_q, n_k = q.shape[0], k.shape[0]
    running_max = np.full(n_q, -np.inf)
    total = np.zeros(n_q)
    acc = np.zeros((n_q, v.shape[-1]))
    for j, start in enumerate(range(0, n_k, block)):
        keys = slice(start, min(start + block, n_k))
        scores = (q @ k[keys].T) * scale                                 # [n_q, b]
        new_max = np.maximum(running_max, scores.max(axis=-1))           # [n_q]
        rescale = np.exp(running_max - new_max)                          # [n_q]; 0 at first
        weights = np.exp(scores - new_max[:, None])                      # [n_q, b]
        total = total * rescale + weights.sum(axis=-1)
        acc = acc * rescale[:, None] + weights @ v[keys]                 # [n_q, d_v]
        running_max = new_max
        if trace.enabled:
            scope = trace.scope(f"block{j}")
            scope.record("scores", scores)
            scope.record("max", running_max)
            scope.record("rescale", rescale)
            scope.record("sum", total)
            scope.record("acc", acc)
    out = acc / total[:, None]
    trace.record("out", out)
    return out


def softmax_attention(q, k, v, *, trace=NULL_TRACE):
    """The one-pass reference: softmax(Q Kᵀ / √d_k) V with the whole score matrix, recording
    ``scores`` [n_q, n_k], ``weights`` and ``out`` [n_q, d_v]."""
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    scores = (q @ k.T) * (1.0 / math.sqrt(q.shape[-1]))
    weights = softmax(scores, axis=-1)
    out = weights @ v
    trace.record("scores", scores)
    trace.record("weights", weights)
    trace.record("out", out)
    return out


def attention_memory(n: int, d: int, block: int) -> dict[str, int]:
    """Numbers held besides Q, K, V and the output, per head: the whole score (and weight)
    matrix n·n for softmax attention; for online softmax, per query a max and a sum (2n)
    plus one block of scores (n·block) — O(n·d) with the output, against O(n²)."""
    return {"softmax": n * n, "online": 2 * n + n * min(block, n), "output": n * d}
