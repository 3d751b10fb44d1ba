"""Attention masks with PyTorch's meanings.

* A boolean mask marks what is NOT allowed: True = this query may not look at this key.
* A float mask is added to the scaled scores: 0 keeps a key, -inf removes it.
* A key padding mask is [batch, n_k], True where the key is padding.
"""

from __future__ import annotations

import numpy as np


def causal_mask(n_q: int, n_k: int | None = None):
    """[n_q, n_k] boolean mask, True above the diagonal: position i may not see j > i."""
    n_k = n_q if n_k is None else n_k
    return np.triu(np.ones((n_q, n_k), dtype=bool), k=1)              # [n_q, n_k]


def causal_float_mask(n: int, dtype=np.float64):
    """PyTorch's ``generate_square_subsequent_mask``: 0 on and below the diagonal, -inf above."""
    return np.where(causal_mask(n), -np.inf, 0.0).astype(dtype)       # [n, n]


def to_additive(mask, dtype):
    """A boolean (True = not allowed) or float mask as the float mask to add to scores."""
    mask = np.asarray(mask)
    if mask.dtype == np.bool_:
        return np.where(mask, -np.inf, 0.0).astype(dtype, copy=False)
    return mask.astype(dtype, copy=False)


def combine_masks(attn_mask, key_padding_mask, batch: int, n_head: int, n_q: int, n_k: int, dtype):
    """One additive mask broadcastable to the scores [batch, n_head, n_q, n_k], or None.

    ``attn_mask`` is [n_q, n_k] or [batch * n_head, n_q, n_k]; ``key_padding_mask`` is
    [batch, n_k]. Shapes are checked where the data enters (the model's public methods).
    """
    total = None
    if attn_mask is not None:
        add = to_additive(attn_mask, dtype)
        if add.ndim == 3:
            add = add.reshape(batch, n_head, n_q, n_k)                 # [B*H, L, S] -> [B, H, L, S]
        total = add
    if key_padding_mask is not None:
        pad = to_additive(key_padding_mask, dtype)[:, None, None, :]   # [B, S] -> [B, 1, 1, S]
        total = pad if total is None else total + pad
    return total
