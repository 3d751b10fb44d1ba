"""Attention masks with PyTorch's meanings.

* A boolean mask marks what is NOT allowed: True = this query may not look at this key.
* A float mask is added to the scaled scores: 0 keeps a key, -inf removes it.
* A key padding mask is [batch, n_k], True where the key is padding.
"""

from __future__ import annotations

import numpy as np


def causal_mask(n_q: int, n_k: int | None = None, *, past: int = 0):
    """The causal mask [n_q, n_k], boolean, True = not allowed: query i is position past + i
    of the sequence and may see the keys j <= past + i, so True where j > past + i.

    ``past`` is the number of positions already decoded (a key/value cache holds them): the
    new queries are the last n_q of n_k = past + n_q positions (the default ``n_k``). With
    past = 0 it is ``nn.Transformer.generate_square_subsequent_mask`` as booleans, True above
    the diagonal (``scaled_dot_product_attention``'s ``is_causal``, aligned at the top left).
    """
    n_k = past + n_q if n_k is None else n_k
    return np.triu(np.ones((n_q, n_k), dtype=bool), k=past + 1)       # [n_q, n_k]


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


def is_causal_mask(mask, n_q: int, n_k: int) -> bool:
    """True when ``mask`` ([n_q, n_k] or [..., n_q, n_k], boolean or additive float) lets
    position i see exactly the keys j <= i: True / -inf above the diagonal, False / 0 elsewhere.
    This is the mask ``is_causal=True`` stands for in PyTorch (``scaled_dot_product_attention``
    uses ``ones(L, S).tril()``, aligned at the top left)."""
    mask = np.asarray(mask)
    if mask.shape[-2:] != (n_q, n_k):
        return False
    blocked = causal_mask(n_q, n_k)                                    # [n_q, n_k]
    if mask.dtype == np.bool_:
        return bool(np.all(mask == blocked))
    return bool(np.all(np.where(blocked, np.isneginf(mask), mask == 0)))


def check_causal_hint(hint_name: str, hint, mask_name: str, mask, n_q: int, n_k: int) -> None:
    """PyTorch's ``is_causal`` arguments are hints that the given mask IS the causal mask.

    ``None`` or False: the mask is used as given. True: PyTorch raises when the mask is None
    ("Need attn_mask if specifying the is_causal hint") and, when it is not causal, may compute
    with a causal mask instead of it; both are a TutorError here that names the arguments.
    """
    from ..errors import TutorError

    if hint is None:
        return
    if not isinstance(hint, (bool, np.bool_)):
        raise TutorError(f"{hint_name} must be True, False or None, got {hint!r}")
    if not hint:
        return
    if mask is None:
        raise TutorError(f"{hint_name}=True is a hint that {mask_name} is the causal mask, but "
                         f"{mask_name} is None; pass {mask_name}=causal_mask({n_q}"
                         f"{'' if n_q == n_k else f', {n_k}'}) (PyTorch raises here too)")
    if not is_causal_mask(mask, n_q, n_k):
        raise TutorError(f"{hint_name}=True but {mask_name} is not the causal mask (True or "
                         f"-inf exactly above the diagonal); PyTorch would compute with a causal "
                         f"mask instead of the one given. Pass {hint_name}=False to use it")
