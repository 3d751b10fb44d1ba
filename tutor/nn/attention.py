"""Scaled dot-product attention, one attention head in the notes' X*W form, and PyTorch-style
multi-head attention with a packed in-projection. One formula, used by all three."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..trace import NULL_TRACE
from .functional import linear, softmax
from .masks import combine_masks, to_additive


def scaled_dot_product_attention(q, k, v, mask=None, *, scale=None, chunk_size=None,
                                 trace=NULL_TRACE):
    """Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k) + mask) V; returns (out, weights).

    ``mask`` is boolean (True = not allowed) or additive float, broadcastable to the scores.
    ``scale`` defaults to 1/sqrt(d_k); pass 1.0 to see attention without scaling. A query whose
    keys are all masked gets weights of zero and an output of zero; PyTorch's
    ``scaled_dot_product_attention`` outputs zero there too, while ``torch.softmax`` alone and
    ``nn.MultiheadAttention(need_weights=True)`` give NaN.
    ``chunk_size`` (fast path only; a recording trace shows the full weights instead) goes
    through the keys that many at a time, so memory grows linearly with the number of keys;
    it returns (out, None).
    """
    d_k = q.shape[-1]
    scale = 1.0 / math.sqrt(d_k) if scale is None else scale
    if chunk_size is not None and not trace.enabled and chunk_size < k.shape[-2]:
        return _chunked_attention(q * scale, k, v, mask, chunk_size), None
    k_t = np.swapaxes(k, -1, -2)                                       # [..., d_k, n_k]
    # Scaling q before the product equals scaling the scores after it, with one pass over
    # [n_q, d_k] instead of [n_q, n_k] (PyTorch does the same).
    scaled = (q * scale) @ k_t                                         # [..., n_q, d_k] @ [..., d_k, n_k] -> [..., n_q, n_k]
    if trace.enabled:
        trace.record("scores", q @ k_t)                                # unscaled, for the walkthrough
        trace.record("scaled", scaled)
    logits = scaled
    if mask is not None:
        additive = to_additive(mask, scaled.dtype)                     # broadcastable to [..., n_q, n_k]
        if trace.enabled:
            logits = scaled + additive                                 # [..., n_q, n_k]
            trace.record("mask", additive)
            trace.record("masked", logits)
        else:
            logits += additive                                         # in place: scaled is not kept
    weights = softmax(logits, axis=-1, overwrite=True,                 # logits is ours to reuse
                      trace=trace.scope("softmax"))                    # [..., n_q, n_k], rows sum to 1
    out = weights @ v                                                  # [..., n_q, n_k] @ [..., n_k, d_v] -> [..., n_q, d_v]
    trace.record("weights", weights)
    trace.record("out", out)
    return out, weights


def _chunked_attention(q_scaled, k, v, mask, chunk_size: int):
    """softmax(q_scaled K^T + mask) V computed one block of keys at a time ("online softmax").

    Keeps, per query, the largest logit m seen so far, the sum l of exp(logit - m) and the
    output accumulated with those weights; when a block raises m, the earlier sums are
    rescaled by exp(m_old - m_new). The result equals the one-pass formula up to rounding.
    """
    n_k = k.shape[-2]
    additive = None if mask is None else to_additive(mask, q_scaled.dtype)
    row_shape = q_scaled.shape[:-1] + (1,)
    running_max = np.full(row_shape, -np.inf, dtype=q_scaled.dtype)   # [..., n_q, 1]
    total = np.zeros(row_shape, dtype=q_scaled.dtype)                  # [..., n_q, 1]
    acc = np.zeros(q_scaled.shape[:-1] + (v.shape[-1],), dtype=q_scaled.dtype)  # [..., n_q, d_v]
    for start in range(0, n_k, chunk_size):
        keys = slice(start, min(start + chunk_size, n_k))
        logits = q_scaled @ np.swapaxes(k[..., keys, :], -1, -2)       # [..., n_q, chunk]
        if additive is not None:
            logits += additive if additive.shape[-1] == 1 else additive[..., keys]
        new_max = np.maximum(running_max, logits.max(axis=-1, keepdims=True))  # [..., n_q, 1]
        shift = np.where(np.isneginf(new_max), 0, new_max)             # all masked so far: 0
        weights = np.exp(logits - shift, out=logits)                   # [..., n_q, chunk]
        rescale = np.exp(running_max - shift)                          # [..., n_q, 1]; 0 at first
        total = total * rescale + weights.sum(axis=-1, keepdims=True)
        acc = acc * rescale + weights @ v[..., keys, :]                # [..., n_q, d_v]
        running_max = new_max
    total[total == 0] = 1                                              # all masked: output 0
    return acc / total


def attention_head(x_q, x_kv, w_q, w_k, w_v, mask=None, *, scale=None, b_q=None, b_k=None,
                   b_v=None, trace=NULL_TRACE):
    """One head as the notes write it: Q = X Wq (+ bq), K = X Wk (+ bk), V = X Wv (+ bv), then
    attention.

    Weights are [d_model, d_k] (multiplied on the right, unlike PyTorch's [out, in]); the
    optional biases are [d_k] (``b_v``: [d_v]), as one head's slice of a pretrained layer's
    in-projection bias (``torch.nn.MultiheadAttention``'s ``in_proj_bias``). Returns
    (out, weights).
    """
    q = x_q @ w_q                                                      # [..., n_q, d_model] -> [..., n_q, d_k]
    k = x_kv @ w_k                                                     # [..., n_k, d_model] -> [..., n_k, d_k]
    v = x_kv @ w_v                                                     # [..., n_k, d_model] -> [..., n_k, d_v]
    if b_q is not None:
        q = q + b_q                                                    # [..., n_q, d_k] + [d_k]
    if b_k is not None:
        k = k + b_k                                                    # [..., n_k, d_k] + [d_k]
    if b_v is not None:
        v = v + b_v                                                    # [..., n_k, d_v] + [d_v]
    trace.record("q", q)
    trace.record("k", k)
    trace.record("v", v)
    return scaled_dot_product_attention(q, k, v, mask, scale=scale, trace=trace)


def split_heads(x, n_head: int):
    """[batch, n, d_model] -> [batch, n_head, n, d_head]."""
    batch, n, d_model = x.shape
    return x.reshape(batch, n, n_head, d_model // n_head).transpose(0, 2, 1, 3)


def merge_heads(x):
    """[batch, n_head, n, d_head] -> [batch, n, n_head * d_head] (the concatenation of heads)."""
    batch, n_head, n, d_head = x.shape
    return x.transpose(0, 2, 1, 3).reshape(batch, n, n_head * d_head)


@dataclass(frozen=True)
class HeadWeights:
    """One head's slices of the query, key and value projections, in the notes' X·W form:
    Q = X Wq + bq. ``w_*`` are [d_model, d_head], ``b_*`` are [d_head] (zeros without a bias).
    Unpacks as ``w_q, b_q, w_k, b_k, w_v, b_v``."""

    w_q: np.ndarray
    b_q: np.ndarray
    w_k: np.ndarray
    b_k: np.ndarray
    w_v: np.ndarray
    b_v: np.ndarray

    def __iter__(self):
        return iter((self.w_q, self.b_q, self.w_k, self.b_k, self.w_v, self.b_v))


def head_weights(in_proj_weight, in_proj_bias, head: int, n_head: int) -> HeadWeights:
    """Head ``head`` (from 0) of a packed in-projection, as :func:`multi_head_attention`
    splits it: ``in_proj_weight`` [3E, E] (PyTorch's layout, rows query, key, value, each
    y = x Wᵀ), ``in_proj_bias`` [3E] or None. Head h owns rows h·d_head … (h+1)·d_head of
    each block (d_head = E / n_head), so Wq = in_proj_weight[h·d_head:(h+1)·d_head]ᵀ
    [E, d_head]. Source: ``torch.nn.MultiheadAttention`` (Vaswani et al. 2017, 3.2.2).
    Raises ValueError for a head out of range or a width n_head does not divide."""
    w_in = np.asarray(in_proj_weight)
    d_model = w_in.shape[1]
    if w_in.shape != (3 * d_model, d_model) or d_model % n_head:
        raise ValueError(f"in_proj_weight must be [3E, E] with E divisible by n_head={n_head}, "
                         f"got {w_in.shape}")
    if not 0 <= head < n_head:
        raise ValueError(f"head must be 0 to {n_head - 1}, got {head}")
    d_head = d_model // n_head
    b_in = np.zeros(3 * d_model, dtype=w_in.dtype) if in_proj_bias is None else in_proj_bias
    parts = []
    for block in range(3):                                             # query, key, value
        rows = slice(block * d_model + head * d_head, block * d_model + (head + 1) * d_head)
        parts += [w_in[rows].T, b_in[rows]]                            # [E, d_head], [d_head]
    return HeadWeights(*parts)


class KVCache:
    """Keys and values kept between decoding steps, per head: [batch, n_head, n, d_head].

    A growing cache (self-attention) appends the new positions' keys and values at each step;
    its buffers double when full, so a step costs the same however long the output is. A
    static cache (encoder-decoder attention) holds the keys and values of the encoder's output,
    computed at the first step and reused after it.
    """

    def __init__(self, static: bool = False):
        self.static = static
        self.length = 0
        self._k = self._v = None

    def extend(self, k, v):
        """Append [batch, n_head, n_new, d_head] keys and values; return all of them so far."""
        end = self.length + k.shape[2]
        if self._k is None or end > self._k.shape[2]:
            capacity = max(end, 2 * self.length, 16)
            grown_k = np.empty(k.shape[:2] + (capacity,) + k.shape[3:], dtype=k.dtype)
            grown_v = np.empty(v.shape[:2] + (capacity,) + v.shape[3:], dtype=v.dtype)
            if self.length:
                grown_k[:, :, :self.length] = self._k[:, :, :self.length]
                grown_v[:, :, :self.length] = self._v[:, :, :self.length]
            self._k, self._v = grown_k, grown_v
        self._k[:, :, self.length:end] = k
        self._v[:, :, self.length:end] = v
        self.length = end
        return self.get()

    def get(self):
        """All keys and values so far, as views (no copy)."""
        return self._k[:, :, :self.length], self._v[:, :, :self.length]


# The names a ``torch.nn.MultiheadAttention`` state dict can hold, and the options that make them.
MHA_PARAMETERS = {
    "in_proj_weight": "[3*d_model, d_model], packed q, k, v projections",
    "q_proj_weight": "[d_model, d_model] (kdim/vdim differ from d_model)",
    "k_proj_weight": "[d_model, kdim]",
    "v_proj_weight": "[d_model, vdim]",
    "in_proj_bias": "[3*d_model] (absent with bias=False)",
    "out_proj.weight": "[d_model, d_model]",
    "out_proj.bias": "[d_model] (absent with bias=False)",
    "bias_k": "[1, 1, d_model] (add_bias_kv=True)",
    "bias_v": "[1, 1, d_model] (add_bias_kv=True)",
}


def _check_mha_params(params, d_model: int, kdim: int, vdim: int, n_head: int) -> None:
    """Every name of ``params`` is one multi_head_attention uses, with PyTorch's shape."""
    from ..errors import ParameterError

    names = set(params)
    unknown = sorted(names - set(MHA_PARAMETERS))
    if unknown:
        raise ParameterError(f"unexpected parameter {unknown[0]!r} for multi-head attention; "
                             f"expected names of nn.MultiheadAttention: {', '.join(MHA_PARAMETERS)}")
    separate = {"q_proj_weight", "k_proj_weight", "v_proj_weight"}
    if "in_proj_weight" in names:
        if names & separate:
            raise ParameterError(f"parameter {sorted(names & separate)[0]!r} given with "
                                 "'in_proj_weight'; expected one or the other")
        expected = {"in_proj_weight": (3 * d_model, d_model)}
    elif names & separate:
        missing = sorted(separate - names)
        if missing:
            raise ParameterError(f"parameter {missing[0]!r} is missing; separate projections "
                                 "need all of q_proj_weight, k_proj_weight, v_proj_weight")
        expected = {"q_proj_weight": (d_model, d_model), "k_proj_weight": (d_model, kdim),
                    "v_proj_weight": (d_model, vdim)}
    else:
        raise ParameterError("parameter 'in_proj_weight' is missing (or q_proj_weight, "
                             "k_proj_weight, v_proj_weight)")
    if "out_proj.weight" not in names:
        raise ParameterError(f"parameter 'out_proj.weight' is missing; expected shape "
                             f"{(d_model, d_model)}")
    if ("bias_k" in names) != ("bias_v" in names):
        given, absent = ("bias_k", "bias_v") if "bias_k" in names else ("bias_v", "bias_k")
        raise ParameterError(f"parameter {absent!r} is missing; {given!r} (add_bias_kv=True) "
                             "needs both")
    expected.update({"in_proj_bias": (3 * d_model,), "out_proj.weight": (d_model, d_model),
                     "out_proj.bias": (d_model,), "bias_k": (1, 1, d_model),
                     "bias_v": (1, 1, d_model)})
    for name in names:
        shape = np.shape(params[name])
        if shape != expected[name]:
            raise ParameterError(f"parameter {name!r} has shape {shape}, expected {expected[name]}")
    if n_head < 1 or d_model % n_head:
        raise ParameterError(f"n_head={n_head} must divide d_model={d_model}")


def multi_head_attention(query, key, value, params, n_head: int, *, attn_mask=None,
                         key_padding_mask=None, need_weights: bool = True,
                         average_attn_weights: bool = False, is_causal: bool = False,
                         add_zero_attn: bool = False, batch_first: bool = True,
                         cache: KVCache | None = None, chunk_size=None, trace=NULL_TRACE):
    """MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W_O^T + b_O,
    head_i = Attention(Q W_Q,i, K W_K,i, V W_V,i), as ``torch.nn.MultiheadAttention`` computes
    it (``torch.nn.functional.multi_head_attention_forward``, eval mode).

    ``params`` holds the names of ``nn.MultiheadAttention(...).state_dict()``, each used or
    refused: ``in_proj_weight`` [3E, E] (rows: q, k, v) or, when kdim/vdim differ from E,
    ``q_proj_weight`` [E, E], ``k_proj_weight`` [E, kdim], ``v_proj_weight`` [E, vdim];
    ``in_proj_bias`` [3E] and ``out_proj.bias`` [E] (both absent with ``bias=False``);
    ``out_proj.weight`` [E, E]; ``bias_k``, ``bias_v`` [1, 1, E] (``add_bias_kv=True``: one more
    key and value, appended after the others and never masked). ``add_zero_attn=True`` appends
    a key and a value of zeros per head after those, as PyTorch does.

    Inputs are [batch, n, E] (``batch_first=False``: [n, batch, E]) or unbatched [n, E], with
    key/value of width kdim/vdim. ``attn_mask`` is [n_q, n_k] or [batch*n_head, n_q, n_k],
    boolean (True = not allowed) or additive float of any float dtype (cast to the query's);
    ``key_padding_mask`` is [batch, n_k] ([n_k] unbatched), True (or -inf) at padding.
    ``is_causal=True`` is PyTorch's hint that ``attn_mask`` is the causal mask: the mask is
    required and must be causal (PyTorch raises without one and silently uses a causal mask
    instead of a wrong one).

    Returns (out, weights): out like ``query``; weights [batch, n_head, n_q, n_k] per head, or
    averaged over heads [batch, n_q, n_k] with ``average_attn_weights=True`` (PyTorch's
    default; ours is per head), without the batch axis for unbatched input, and None with
    ``need_weights=False``. A query whose keys are all masked gets weights of zero and an
    output of ``out_proj.bias`` (PyTorch returns NaN weights and output with need_weights=True,
    and zeros through out_proj with need_weights=False).
    With a ``cache``, the queries attend to the cached keys and values as well (see KVCache).
    ``chunk_size`` bounds memory for long sequences (see scaled_dot_product_attention); the
    weights are then None, as they are never formed.

    Raises ParameterError for a name it does not use or a wrong shape, ShapeError for inputs
    and masks of the wrong shape, DTypeError for a mask neither boolean nor float, TutorError
    for a wrong ``is_causal`` hint.
    """
    from ..errors import DTypeError, ShapeError, TutorError
    from .masks import check_causal_hint

    query, key, value = np.asarray(query), np.asarray(key), np.asarray(value)
    same_kv = key is value
    same_qkv = same_kv and query is key
    if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
        raise ShapeError(f"query, key and value must all be [batch, n, d] or all [n, d], got "
                         f"shapes {query.shape}, {key.shape}, {value.shape}")
    unbatched = query.ndim == 2
    if unbatched:
        query, key, value = query[None], key[None], value[None]        # [n, d] -> [1, n, d]
    elif not batch_first:
        query, key, value = (np.swapaxes(x, 0, 1) for x in (query, key, value))  # [n, B, d] -> [B, n, d]
    if same_kv:
        value = key
    if same_qkv:
        key = value = query
    batch, n_q, d_model = query.shape
    if key.shape[:2] != value.shape[:2] or key.shape[0] != batch:
        raise ShapeError(f"key and value must share the query's batch size {batch} and one "
                         f"length, got shapes {key.shape} and {value.shape}")
    _check_mha_params(params, d_model, key.shape[-1], value.shape[-1], n_head)
    n_k = key.shape[1]
    if attn_mask is not None:
        attn_mask = np.asarray(attn_mask)
        allowed = ((n_q, n_k), (batch * n_head, n_q, n_k))
        if attn_mask.shape not in allowed:
            raise ShapeError(f"attn_mask must have shape {allowed[0]} or {allowed[1]}, "
                             f"got {attn_mask.shape}")
    if key_padding_mask is not None:
        key_padding_mask = np.asarray(key_padding_mask)
        if unbatched and key_padding_mask.shape == (n_k,):
            key_padding_mask = key_padding_mask[None]                  # [S] -> [1, S]
        if key_padding_mask.shape != (batch, n_k):
            expected = (n_k,) if unbatched else (batch, n_k)
            raise ShapeError(f"key_padding_mask must have shape {expected}, "
                             f"got {key_padding_mask.shape}")
    for name, mask in (("attn_mask", attn_mask), ("key_padding_mask", key_padding_mask)):
        if mask is not None and mask.dtype != np.bool_ and not np.issubdtype(mask.dtype, np.floating):
            raise DTypeError(f"{name} must be boolean (True = not allowed) or float, got "
                             f"{mask.dtype}")
    check_causal_hint("is_causal", is_causal, "attn_mask", attn_mask, n_q, n_k)
    if cache is not None and (add_zero_attn or "bias_k" in params):
        raise TutorError("a KVCache cannot be combined with bias_k/bias_v or add_zero_attn")
    out, weights = _multi_head_attention(
        query, key, value, params, n_head, attn_mask=attn_mask,
        key_padding_mask=key_padding_mask, add_zero_attn=add_zero_attn, cache=cache,
        chunk_size=chunk_size, trace=trace)                            # [B, L, E], [B, H, L, S]
    if not need_weights:
        weights = None
    elif average_attn_weights and weights is not None:                 # None when chunked
        weights = weights.mean(axis=1)                                 # [B, H, L, S] -> [B, L, S]
    if unbatched:
        return out[0], None if weights is None else weights[0]
    if not batch_first:
        out = np.swapaxes(out, 0, 1)                                   # [B, L, E] -> [L, B, E]
    return out, weights


def _pad_one_key(mask):
    """One more key column that every query may see (False, or 0 added): PyTorch's
    ``pad(mask, (0, 1))``."""
    if mask is None:
        return None
    return np.pad(mask, [(0, 0)] * (mask.ndim - 1) + [(0, 1)])        # [..., S] -> [..., S + 1]


def _multi_head_attention(query, key, value, params, n_head: int, *, attn_mask=None,
                          key_padding_mask=None, add_zero_attn: bool = False,
                          cache: KVCache | None = None, chunk_size=None, trace=NULL_TRACE):
    """The computation of :func:`multi_head_attention` on inputs already checked: batched
    [batch, n, d], masks of the right shapes. Returns (out [B, L, E], weights [B, H, L, S])."""
    d_model = query.shape[-1]
    w_in, b_in = params.get("in_proj_weight"), params.get("in_proj_bias")
    reuse = cache is not None and cache.static and cache.length > 0
    if b_in is None or (w_in is not None and query is key and key is value and not reuse):
        b_q = b_k = b_v = None                                         # none, or not needed apart
    else:
        b_q, b_k, b_v = np.split(b_in, 3)                              # 3 x [E]
    if w_in is None:                                                   # kdim/vdim: three matrices
        q = linear(query, params["q_proj_weight"], b_q)                # [B, L, E] -> [B, L, E]
        k = None if reuse else linear(key, params["k_proj_weight"], b_k)      # [B, S, kdim] -> [B, S, E]
        v = None if reuse else linear(value, params["v_proj_weight"], b_v)    # [B, S, vdim] -> [B, S, E]
    elif query is key and key is value and not reuse:                  # self-attention: one product
        qkv = linear(query, w_in, b_in)                                # [B, L, E] -> [B, L, 3E]
        q, k, v = np.split(qkv, 3, axis=-1)                            # 3 x [B, L, E]
    else:
        q = linear(query, w_in[:d_model], b_q)                         # [B, L, E] -> [B, L, E]
        if reuse:
            k = v = None                                               # taken from the cache below
        elif key is value:
            kv = linear(key, w_in[d_model:], None if b_in is None else b_in[d_model:])  # [B, S, 2E]
            k, v = np.split(kv, 2, axis=-1)                            # 2 x [B, S, E]
        else:
            k = linear(key, w_in[d_model:2 * d_model], b_k)            # [B, S, E]
            v = linear(value, w_in[2 * d_model:], b_v)                 # [B, S, E]
    if "bias_k" in params:                                             # add_bias_kv: one more key
        batch = query.shape[0]
        k = np.concatenate([k, np.broadcast_to(params["bias_k"][0], (batch, 1, d_model))],
                           axis=1)                                     # [B, S, E] -> [B, S+1, E]
        v = np.concatenate([v, np.broadcast_to(params["bias_v"][0], (batch, 1, d_model))],
                           axis=1)                                     # [B, S, E] -> [B, S+1, E]
        attn_mask, key_padding_mask = _pad_one_key(attn_mask), _pad_one_key(key_padding_mask)
    q = split_heads(q, n_head)                                         # [B, H, L, d_head]
    if reuse:
        k, v = cache.get()                                             # [B, H, S, d_head]
    else:
        k, v = split_heads(k, n_head), split_heads(v, n_head)          # [B, H, S_new, d_head]
        if cache is not None:
            k, v = cache.extend(k, v)                                  # [B, H, S, d_head]
    if add_zero_attn:                                                  # a key and value of zeros
        zeros = np.zeros(k.shape[:2] + (1, k.shape[3]), dtype=k.dtype)  # [B, H, 1, d_head]
        k = np.concatenate([k, zeros], axis=2)                         # [B, H, S+1, d_head]
        v = np.concatenate([v, zeros], axis=2)                         # [B, H, S+1, d_head]
        attn_mask, key_padding_mask = _pad_one_key(attn_mask), _pad_one_key(key_padding_mask)
    trace.record("q", q)
    trace.record("k", k)
    trace.record("v", v)
    batch, _, n_q, _ = q.shape
    mask = combine_masks(attn_mask, key_padding_mask, batch, n_head, n_q, k.shape[2], q.dtype)
    heads, weights = scaled_dot_product_attention(q, k, v, mask, chunk_size=chunk_size,
                                                  trace=trace)         # [B, H, L, d_head], [B, H, L, S]
    concat = merge_heads(heads)                                        # [B, H, L, d_head] -> [B, L, E]
    out = linear(concat, params["out_proj.weight"], params.get("out_proj.bias"))  # [B, L, E]
    trace.record("concat", concat)
    trace.record("out_proj", out)
    return out, weights


def multi_head_attention_xw(x_q, x_kv, w_q, w_k, w_v, w_o, n_head: int, mask=None, *,
                            scale=None, trace=NULL_TRACE):
    """MultiHead(X) = Concat(head_1, ..., head_h) W_O, head_i = attention_head(X, X, Wq_i, Wk_i,
    Wv_i), in the notes' X*W form.

    ``Wq_i`` is the i-th block of d_k / h columns of ``w_q`` [d_model, d_k] (likewise for
    ``w_k`` and ``w_v`` [d_model, d_v]), as the paper splits d_model among the heads; ``w_o`` is
    [d_v, d_model]. Each head scales by 1/sqrt(d_k / h) unless ``scale`` is given. Records each
    head under ``head<i>.`` (its blocks ``w_q``, ``w_k``, ``w_v``, then ``q``, ``k``, ``v``,
    ``scores``, ... ``out``), then ``concat``
    and ``out``. Returns (out [..., n_q, d_model], weights [..., n_head, n_q, n_k]).
    """
    from ..errors import ShapeError

    d_k, d_v = w_q.shape[-1], w_v.shape[-1]
    if n_head < 1 or d_k % n_head or d_v % n_head:
        raise ShapeError(f"n_head={n_head} must divide the query/key width {d_k} and the "
                         f"value width {d_v}")
    if w_k.shape[-1] != d_k:
        raise ShapeError(f"w_q has {d_k} columns but w_k has {w_k.shape[-1]}")
    if w_o.shape[-2] != d_v:
        raise ShapeError(f"w_o has {w_o.shape[-2]} rows but the heads give {d_v} columns")
    d_head_k, d_head_v = d_k // n_head, d_v // n_head
    heads, weights = [], []
    for i in range(n_head):
        cols_k = slice(i * d_head_k, (i + 1) * d_head_k)
        cols_v = slice(i * d_head_v, (i + 1) * d_head_v)
        scope = trace.scope(f"head{i}")
        head_w = {"w_q": w_q[:, cols_k], "w_k": w_k[:, cols_k], "w_v": w_v[:, cols_v]}
        for name, block in head_w.items():                             # the blocks this head uses
            scope.record(name, block)
        head, head_weights = attention_head(
            x_q, x_kv, head_w["w_q"], head_w["w_k"], head_w["w_v"], mask,
            scale=scale, trace=scope)                                  # [..., n_q, d_head_v], [..., n_q, n_k]
        heads.append(head)
        weights.append(head_weights)
    concat = np.concatenate(heads, axis=-1)                            # h x [..., n_q, d_head_v] -> [..., n_q, d_v]
    out = concat @ w_o                                                 # [..., n_q, d_v] -> [..., n_q, d_model]
    trace.record("concat", concat)
    trace.record("out", out)
    return out, np.stack(weights, axis=-3)                             # [..., n_head, n_q, n_k]
