"""The llama family's decoder-only Transformer: RMSNorm, RoPE, grouped-query attention, SwiGLU.

One pre-norm block, for every layer ``l``:

    h = x + Attention(RMSNorm(x))          attention with RoPE-rotated queries and keys,
    x = h + SwiGLU(RMSNorm(h))             each key/value head shared by a group of query heads

then a final RMSNorm and the output head (the token embedding itself when tied). Sources:
Touvron et al. 2023, "LLaMA" (pre-norm with RMSNorm, SwiGLU, RoPE); Zhang & Sennrich 2019
(RMSNorm); Su et al. 2021, "RoFormer" (RoPE); Shazeer 2020, "GLU Variants" (SwiGLU);
Ainslie et al. 2023, "GQA". The numbers follow Hugging Face's ``LlamaForCausalLM``
(``modeling_llama.py``, eager attention), checked to 1e-5 by tests/test_llama.py.

Everything is float32 end to end: scales are Python floats (``x / np.sqrt(d)`` would
promote to float64 under NumPy 2 and copy every weight at every product).
Weights are [in, out], multiplied on the right as the notes write it (``x W``): the transpose
of PyTorch's ``nn.Linear`` weight. For one position, ``x @ W`` streams W in the order it is
stored, nearly twice as fast as ``W^T @ x`` on SmolLM2's 576-wide rows (single thread).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..trace import NULL_TRACE
from .attention import KVCache
from .functional import softmax

ROPE_LAYOUTS = ("halves", "pairs")


def rms_norm(x, weight, eps: float = 1e-5, *, trace=NULL_TRACE):
    """RMSNorm(x) = x / sqrt(mean(x^2) + eps) * g over the last axis (no mean subtracted, no
    bias; Zhang & Sennrich 2019). ``x`` [..., d] float32, ``weight`` g [d]; returns [..., d]."""
    if (x.size == x.shape[-1] > 0 and x.dtype == np.float32 and not trace.enabled
            and getattr(weight, "dtype", None) == np.float32):
        # one float32 vector (a decoding step): the same formula in three NumPy calls instead
        # of eight; each call costs far more between the weight streams of a step than alone
        flat = x.reshape(-1)
        inverse = np.float32(1.0 / math.sqrt(float(flat @ flat) / flat.size + float(eps)))
        out = x * inverse
        out *= weight
        return out
    mean_square = np.add.reduce(np.square(x), axis=-1, keepdims=True) / float(x.shape[-1])
    inverse = 1.0 / np.sqrt(mean_square + float(eps))                  # [..., 1]
    out = weight * (x * inverse)                                       # [..., d]
    if trace.enabled:
        trace.record("mean_square", mean_square)
        trace.record("out", out)
    return out


def rope_angles(positions, d_head: int, base: float = 10000.0, dtype=np.float32):
    """RoPE's frequencies theta [d_head / 2], theta_i = base^(-2i / d_head) (Su et al. 2021,
    eq. 15; computed as 1 / base^(2i / d_head), as transformers' ``inv_freq``), and angles
    [n, d_head / 2], angle (p, i) = positions[p] * theta_i, both in ``dtype``. Raises
    ValueError for an odd ``d_head``."""
    if d_head % 2:
        raise ValueError(f"RoPE rotates pairs of numbers; d_head={d_head} is odd")
    exponent = np.arange(0, d_head, 2, dtype=dtype) / dtype(d_head)
    theta = dtype(1.0) / (dtype(base) ** exponent)                     # [d/2]
    angles = np.asarray(positions, dtype=dtype)[:, None] * theta[None, :]  # [n, d/2]
    return theta, angles


def rope_tables(positions, d_head: int, base: float = 10000.0):
    """cos and sin of RoPE's angles (:func:`rope_angles`), each [n, d_head / 2] float32.
    Computed in float32 as transformers does (so positions in the thousands round alike).
    Raises ValueError for an odd ``d_head``."""
    angles = rope_angles(positions, d_head, base)[1]
    return np.cos(angles), np.sin(angles)


_ROPE_TABLES: dict = {}                                                # (d_head, base) -> (cos, sin)


def rope_rows(start: int, n: int, d_head: int, base: float = 10000.0):
    """cos, sin [n, d_head / 2] of positions start .. start + n - 1, as :func:`rope_tables`
    gives them, sliced from a table kept per (d_head, base) and grown by doubling, so a
    decoding step does not compute cosines (read-only views). Raises ValueError for an odd
    ``d_head``."""
    end = start + n
    key = (d_head, float(base))
    table = _ROPE_TABLES.get(key)
    if table is None or table[0].shape[0] < end:
        size = max(end, 2 * (0 if table is None else table[0].shape[0]), 64)
        table = rope_tables(np.arange(size), d_head, base)
        for part in table:
            part.flags.writeable = False
        _ROPE_TABLES[key] = table
    return table[0][start:end], table[1][start:end]


def apply_rope(x, cos, sin, *, layout: str = "halves", trace=NULL_TRACE):
    """Rotate each pair of x's numbers by its angle: (a, b) -> (a cos - b sin, b cos + a sin).

    ``x`` [..., n, d_head]; ``cos``, ``sin`` [n, d_head / 2] from :func:`rope_tables`.
    ``layout`` says which numbers pair up: ``"halves"`` pairs i with i + d/2 (Hugging Face's
    ``rotate_half``), ``"pairs"`` pairs 2i with 2i + 1 (llama.cpp, whose converter permutes
    the rows of W_Q and W_K so the two give the same scores). Returns [..., n, d_head].
    """
    if layout == "halves":
        half = x.shape[-1] // 2
        a, b = x[..., :half], x[..., half:]
    elif layout == "pairs":
        a, b = x[..., 0::2], x[..., 1::2]
    else:
        raise ValueError(f"RoPE layout must be one of {ROPE_LAYOUTS}, got {layout!r}")
    out = np.empty_like(x)
    if layout == "halves":
        out_a, out_b = out[..., :half], out[..., half:]
    else:
        out_a, out_b = out[..., 0::2], out[..., 1::2]
    np.add(a * cos, -b * sin, out=out_a)                               # a cos + (-b) sin
    np.add(b * cos, a * sin, out=out_b)                                # b cos + a sin
    trace.record("out", out)
    return out


def causal_additive_mask(n_q: int, n_k: int, dtype=np.float32):
    """[n_q, n_k] additive mask for queries at the last n_q of n_k positions: 0 where key j <=
    query i's position (n_k - n_q + i), -inf after it."""
    start = n_k - n_q
    allowed = np.arange(n_k)[None, :] <= (start + np.arange(n_q))[:, None]
    return np.where(allowed, 0.0, -np.inf).astype(dtype)


def grouped_query_attention(q, k, v, mask=None, *, trace=NULL_TRACE):
    """softmax(Q K^T / sqrt(d_head) + mask) V with each key/value head shared by a group of
    query heads: query head h reads key/value head h // (n_head / n_kv_head) (Ainslie et al.
    2023; Hugging Face's ``repeat_kv``), without repeating the keys and values in memory.

    ``q`` [batch, n_head, n_q, d_head]; ``k``, ``v`` [batch, n_kv_head, n_k, d_head];
    ``mask`` additive float [n_q, n_k] or None. Returns (out [batch, n_head, n_q, d_head],
    weights [batch, n_head, n_q, n_k]). Records, as
    :func:`tutor.nn.attention.scaled_dot_product_attention` does, ``scores`` (Q K^T),
    ``scaled``, ``mask`` and ``masked`` (with a mask), ``softmax.*``, ``weights`` and ``out``,
    one [n_q, n_k] per batch row and query head. Raises ValueError when n_kv_head does not
    divide n_head.
    """
    batch, n_head, n_q, d_head = q.shape
    n_kv = k.shape[1]
    if n_kv < 1 or n_head % n_kv:
        raise ValueError(f"{n_kv} key/value heads must divide {n_head} query heads")
    group = n_head // n_kv
    n_k = k.shape[2]
    grouped = q.reshape(batch, n_kv, group * n_q, d_head)              # a copy only if q is strided
    scores = grouped @ k.swapaxes(-1, -2)                              # [B, kv, g*n_q, n_k]
    scores = scores.reshape(batch, n_head, n_q, n_k)                   # a view: head h = (h // g, h % g)
    if trace.enabled:
        trace.record("scores", scores.copy())                          # scaled in place next
    scores *= 1.0 / math.sqrt(d_head)                                  # a Python float keeps float32
    if trace.enabled:
        trace.record("scaled", scores if mask is None else scores.copy())
    if mask is not None:
        scores += mask                                                 # [n_q, n_k] broadcast
        trace.record("mask", mask)
        trace.record("masked", scores)                                 # softmax copies while recording
    weights = softmax(scores, axis=-1, overwrite=True, trace=trace.scope("softmax"))
    out = weights.reshape(batch, n_kv, group * n_q, n_k) @ v           # [B, kv, g*n_q, d_head]
    out = out.reshape(batch, n_head, n_q, d_head)
    trace.record("weights", weights)
    trace.record("out", out)
    return out, weights


def silu(x):
    """SiLU(x) = x * sigmoid(x) = x / (1 + exp(-x)) (Elfwing et al. 2017), element-wise."""
    t = np.negative(x)
    with np.errstate(over="ignore"):                                   # exp(large) = inf: x / inf = 0
        np.exp(t, out=t)
    t += 1.0
    return np.divide(x, t, out=t)                                      # one buffer, four passes


def swiglu(x, w_gate_up, w_down, *, trace=NULL_TRACE):
    """SwiGLU(x) = (SiLU(x W_gate) * (x W_up)) W_down (Shazeer 2020).

    ``x`` [..., d_model]; ``w_gate_up`` [d_model, 2 * d_ff] (W_gate's columns, then W_up's:
    one product instead of two); ``w_down`` [d_ff, d_model]. Returns [..., d_model]. Records
    ``gate``, ``silu`` (SiLU(gate)), ``up``, ``hidden`` [..., d_ff] and ``out``."""
    gate_up = _project(x, w_gate_up)                                   # [..., 2 * d_ff]
    d_ff = w_gate_up.shape[1] // 2
    gate, up = gate_up[..., :d_ff], gate_up[..., d_ff:]
    hidden = silu(gate)
    if trace.enabled:
        trace.record("gate", gate)
        trace.record("silu", hidden.copy())                            # before the product
        trace.record("up", up)
    hidden *= up                                                       # [..., d_ff]
    trace.record("hidden", hidden)
    out = _project(hidden, w_down)                                     # [..., d_model]
    trace.record("out", out)
    return out


def _project(x, w):
    """x W for weights [in, out]: a vector-matrix product for one position (BLAS gemv), one
    matrix product for all positions otherwise."""
    if x.size == x.shape[-1]:
        return (x.reshape(-1) @ w).reshape(*x.shape[:-1], w.shape[1])
    return (x.reshape(-1, x.shape[-1]) @ w).reshape(*x.shape[:-1], w.shape[1])


@dataclass(frozen=True)
class LlamaConfig:
    """The sizes of a llama model. ``rope_layout``: "halves" for Hugging Face weights,
    "pairs" for GGUF weights (llama.cpp's permuted W_Q, W_K rows)."""

    vocab_size: int
    d_model: int
    n_layer: int
    n_head: int
    n_kv_head: int
    d_head: int
    d_ff: int
    rope_base: float = 10000.0
    rms_eps: float = 1e-5
    rope_layout: str = "halves"
    tied: bool = True
    max_positions: int = 2048

    def __post_init__(self):
        for name in ("vocab_size", "d_model", "n_layer", "n_head", "n_kv_head", "d_head",
                     "d_ff", "max_positions"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.n_head % self.n_kv_head:
            raise ValueError(f"n_kv_head={self.n_kv_head} must divide n_head={self.n_head}")
        if self.d_head % 2:
            raise ValueError(f"d_head={self.d_head} must be even (RoPE rotates pairs)")
        if self.rope_layout not in ROPE_LAYOUTS:
            raise ValueError(f"rope_layout must be one of {ROPE_LAYOUTS}, got {self.rope_layout!r}")

    @property
    def group(self) -> int:
        """Query heads per key/value head."""
        return self.n_head // self.n_kv_head

    def cache_bytes_per_token(self, *, itemsize: int = 4) -> int:
        """Bytes the key/value cache adds per token (:func:`kv_cache_bytes`)."""
        return kv_cache_bytes(self.n_layer, self.n_kv_head, self.d_head, itemsize)


def kv_cache_bytes(n_layer: int, n_kv_head: int, d_head: int, itemsize: int = 4) -> int:
    """Bytes the key/value cache adds per token: 2 (a key and a value) × layers × key/value
    heads × d_head × bytes per number (Ainslie et al. 2023, section 2)."""
    return 2 * n_layer * n_kv_head * d_head * itemsize


def llama_step_macs(cfg: LlamaConfig, n_new: int, n_total: int, *, batch: int = 1) -> int:
    """Multiply-adds of one decoding step of a llama (matrix products only, as
    :func:`tutor.nn.decoding.decoder_step_macs` counts them): ``n_new`` positions computed,
    attending to ``n_total``. Per layer, E = d_model, d = d_head, F = d_ff:
    n_new E (H + 2 H_kv) d (Q, and K, V of the key/value heads only) + n_new H d E (output)
    + 2 n_new n_total H d (Q K^T and weights V, every query head) + 3 n_new E F (SwiGLU's gate,
    up and down); plus V E for the logits of the last position."""
    e, d, f = cfg.d_model, cfg.d_head, cfg.d_ff
    h, kv = cfg.n_head, cfg.n_kv_head
    per_layer = (n_new * e * (h + 2 * kv) * d + n_new * h * d * e
                 + 2 * n_new * n_total * h * d + 3 * n_new * e * f)
    return batch * (cfg.n_layer * per_layer + cfg.vocab_size * e)


@dataclass
class LlamaLayer:
    """One block's weights, float32, [in, out]: ``wqkv`` [d_model, (n_head + 2 n_kv_head)
    d_head] (W_Q's columns, then W_K's, then W_V's), ``wo`` [n_head d_head, d_model],
    ``w_gate_up`` [d_model, 2 d_ff], ``w_down`` [d_ff, d_model], and the two RMSNorm gains
    [d_model]."""

    attn_norm: np.ndarray
    wqkv: np.ndarray
    wo: np.ndarray
    ffn_norm: np.ndarray
    w_gate_up: np.ndarray
    w_down: np.ndarray


class LlamaCache:
    """Per layer, the keys and values of the positions seen so far: [batch, n_kv_head, n,
    d_head] each (the key/value heads only, not repeated per query head)."""

    def __init__(self, n_layer: int):
        self.layers = [KVCache() for _ in range(n_layer)]

    @property
    def length(self) -> int:
        return self.layers[0].length


@dataclass
class Llama:
    """A llama model: ``embed`` [vocab, d_model], ``layers``, ``norm`` [d_model] and ``head``
    [d_model, vocab] (logits = x head; when tied, ``embed`` is ``head.T``, a view)."""

    config: LlamaConfig
    embed: np.ndarray
    layers: list[LlamaLayer]
    norm: np.ndarray
    head: np.ndarray

    def new_cache(self) -> LlamaCache:
        return LlamaCache(self.config.n_layer)

    def rope(self, start: int, n: int):
        """cos, sin [n, d_head / 2] for positions start .. start + n - 1 (:func:`rope_rows`)."""
        return rope_rows(start, n, self.config.d_head, self.config.rope_base)

    def forward(self, ids, cache: LlamaCache | None = None, *, last_only: bool = False,
                trace=NULL_TRACE):
        """Logits [batch, n, vocab] (``last_only``: [batch, 1, vocab]) for token ids [batch, n]
        (or [n]: then [n, vocab]), float32. With a ``cache``, the ids continue the positions
        it holds, and their keys and values are appended to it.

        Records (when tracing): ``embed`` [B, n, d_model]; per layer ``layers.{i}.``
        ``attn_norm.out``, ``q_before_rope``/``k_before_rope`` and ``q``/``k`` (after RoPE)
        [B, heads, n, d_head] (n_head query heads, n_kv_head key heads), ``v``,
        ``attn.weights`` [B, n_head, n, n_k], ``attn.out``, ``attn_out`` [B, n, d_model],
        ``resid_attn``, ``ffn_norm.out``, ``ffn.gate``/``up``/``hidden``/``out``, ``out``;
        ``norm.out`` [B, n, d_model] and ``logits``. Raises IndexError for an id outside the
        vocabulary, ValueError for no ids or past ``max_positions``.
        """
        cfg = self.config
        ids = np.asarray(ids)
        unbatched = ids.ndim == 1
        if unbatched:
            ids = ids[None]
        if ids.size and (ids.min() < 0 or ids.max() >= cfg.vocab_size):
            raise IndexError(f"token ids must be in 0..{cfg.vocab_size - 1}")
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ValueError(f"token ids must be [batch, n] or [n] with n >= 1, got shape "
                             f"{ids.shape}")
        batch, n = ids.shape
        start = 0 if cache is None else cache.length
        if start + n > cfg.max_positions:
            raise ValueError(f"{start + n} positions exceed the model's {cfg.max_positions}")
        cos, sin = self.rope(start, n)
        mask = causal_additive_mask(n, start + n) if n > 1 else None
        x = self.embed[ids]                                            # [B, n, d_model]
        trace.record("embed", x)
        for i, layer in enumerate(self.layers):
            x = self._layer(x, layer, cos, sin, mask,
                            None if cache is None else cache.layers[i],
                            trace=trace.scope(f"layers.{i}"))
        if last_only:
            x = x[:, -1:]
        x = rms_norm(x, self.norm, cfg.rms_eps, trace=trace.scope("norm"))
        logits = _project(x, self.head)                                # [B, n, vocab]
        trace.record("logits", logits)
        return logits[0] if unbatched else logits

    def _layer(self, x, layer: LlamaLayer, cos, sin, mask, cache, *, trace=NULL_TRACE):
        cfg = self.config
        return llama_block(x, layer, n_head=cfg.n_head, n_kv_head=cfg.n_kv_head,
                           eps=cfg.rms_eps, cos=cos, sin=sin, layout=cfg.rope_layout,
                           mask=mask, cache=cache, trace=trace, qkv_trace=trace,
                           attention_trace=trace.scope("attn"))


def llama_block(x, layer: LlamaLayer, *, n_head: int, n_kv_head: int, eps: float, cos, sin,
                layout: str, mask, cache, trace=NULL_TRACE, qkv_trace=NULL_TRACE,
                attention_trace=NULL_TRACE, block_trace=None):
    """One pre-norm llama block, the one copy of its math (``Llama`` and the ``llama`` model
    family both call it): h = x + Wo·GQA(RoPE(q), RoPE(k), v) of RMSNorm(x), then
    out = h + SwiGLU(RMSNorm(h)). Source: ``transformers`` ``LlamaDecoderLayer``.

    ``x`` [B, n, d_model] float32; ``layer`` the block's weights; ``cos``, ``sin`` [n, d/2]
    (:func:`rope_tables` for these positions); ``mask`` [n, n_k] additive or None; ``cache`` a
    :class:`KVCache` (the new keys and values join it) or None. Records ``attn_norm.*`` and
    ``ffn_norm.*``/``ffn.*`` in ``trace``; ``q_before_rope``, ``k_before_rope``,
    ``rope_cos``, ``rope_sin``, ``q``, ``k``, ``v`` in ``qkv_trace``; the attention's steps
    (:func:`grouped_query_attention`) in ``attention_trace``; ``attn_out``, ``resid_attn``
    and ``out`` in ``block_trace`` (``trace`` when None). Returns [B, n, d_model].
    """
    block_trace = trace if block_trace is None else block_trace
    batch, n, _ = x.shape
    d_head = cos.shape[-1] * 2
    h = rms_norm(x, layer.attn_norm, eps, trace=trace.scope("attn_norm"))
    qkv = _project(h, layer.wqkv)                                      # [B, n, (H + 2 Hkv) d]
    heads = n_head + n_kv_head
    qk = qkv[..., :heads * d_head].reshape(batch, n, heads, d_head).transpose(0, 2, 1, 3)
    v = qkv[..., heads * d_head:].reshape(batch, n, n_kv_head, d_head).transpose(0, 2, 1, 3)
    if qkv_trace.enabled:
        qkv_trace.record("q_before_rope", qk[:, :n_head])
        qkv_trace.record("k_before_rope", qk[:, n_head:])
        qkv_trace.record("rope_cos", cos)
        qkv_trace.record("rope_sin", sin)
    qk = apply_rope(qk, cos, sin, layout=layout)                       # queries and keys at once
    q, k = qk[:, :n_head], qk[:, n_head:]                              # [B, H, n, d], [B, Hkv, n, d]
    if qkv_trace.enabled:
        qkv_trace.record("q", q)
        qkv_trace.record("k", k)
        qkv_trace.record("v", v)
    if cache is not None:
        k, v = cache.extend(k, v)                                      # [B, Hkv, n_k, d]
    out, _ = grouped_query_attention(q, k, v, mask, trace=attention_trace)
    merged = out.transpose(0, 2, 1, 3).reshape(batch, n, n_head * d_head)  # [B, n, H d]
    attn_out = _project(merged, layer.wo)                              # [B, n, d_model]
    block_trace.record("attn_out", attn_out)
    x = x + attn_out
    block_trace.record("resid_attn", x)
    h = rms_norm(x, layer.ffn_norm, eps, trace=trace.scope("ffn_norm"))
    x = x + swiglu(h, layer.w_gate_up, layer.w_down, trace=trace.scope("ffn"))
    block_trace.record("out", x)
    return x


def greedy(model: Llama, ids, n_new: int, *, use_cache: bool = True, stop=None) -> list[int]:
    """The ``n_new`` tokens greedy decoding appends to ``ids`` [n] (the argmax at each step).

    With ``use_cache`` the prompt is read once and each step feeds one token; without, each
    step runs the whole sequence again (the same tokens, slower). Decoding stops early after
    a token in ``stop`` (ids; it is included)."""
    ids = [int(i) for i in ids]
    stop = set(stop or ())
    new: list[int] = []
    cache = model.new_cache() if use_cache else None
    feed = ids
    for _ in range(n_new):
        if use_cache:
            logits = model.forward(np.array(feed), cache, last_only=True)
        else:
            logits = model.forward(np.array(ids + new), last_only=True)
        token = int(np.argmax(logits[-1]))
        new.append(token)
        feed = [token]
        if token in stop:
            break
    return new
