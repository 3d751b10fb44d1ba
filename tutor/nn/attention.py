"""Scaled dot-product attention, one attention head in the notes' X*W form, and PyTorch-style
multi-head attention with a packed in-projection. One formula, used by all three."""

from __future__ import annotations

import math

import numpy as np

from ..trace import NULL_TRACE
from .functional import linear, softmax
from .masks import combine_masks, to_additive


def scaled_dot_product_attention(q, k, v, mask=None, *, scale=None, chunk_size=None,
                                 trace=NULL_TRACE):
    """Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k) + mask) V; returns (out, weights).

    ``mask`` is boolean (True = not allowed) or additive float, broadcastable to the scores.
    ``scale`` defaults to 1/sqrt(d_k); pass 1.0 to see attention without scaling. A query whose
    keys are all masked gets weights of zero and an output of zero (PyTorch gives NaN).
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


def multi_head_attention(query, key, value, params, n_head: int, *, attn_mask=None,
                         key_padding_mask=None, cache: KVCache | None = None, chunk_size=None,
                         trace=NULL_TRACE):
    """MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W_O^T + b_O,
    head_i = Attention(Q W_Q,i, K W_K,i, V W_V,i), as ``torch.nn.MultiheadAttention``.

    ``params`` holds PyTorch's names: ``in_proj_weight`` [3*d_model, d_model] (rows: q, k, v),
    ``in_proj_bias`` [3*d_model], ``out_proj.weight`` [d_model, d_model], ``out_proj.bias``.
    Inputs are [batch, n, d_model]. Returns (out [batch, n_q, d_model],
    weights [batch, n_head, n_q, n_k]): the weights of every head, never only their average.
    With a ``cache``, the queries attend to the cached keys and values as well (see KVCache).
    ``chunk_size`` bounds memory for long sequences (see scaled_dot_product_attention).
    """
    d_model = query.shape[-1]
    w_in, b_in = params["in_proj_weight"], params.get("in_proj_bias")
    b_q, b_k, b_v = (None, None, None) if b_in is None else np.split(b_in, 3)
    reuse = cache is not None and cache.static and cache.length > 0
    if query is key and key is value and not reuse:                    # self-attention: one product
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
    q = split_heads(q, n_head)                                         # [B, H, L, d_head]
    if reuse:
        k, v = cache.get()                                             # [B, H, S, d_head]
    else:
        k, v = split_heads(k, n_head), split_heads(v, n_head)          # [B, H, S_new, d_head]
        if cache is not None:
            k, v = cache.extend(k, v)                                  # [B, H, S, d_head]
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
