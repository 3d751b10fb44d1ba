"""Small computations the calculator commands show beside the model: softmax with a scale and
a temperature, the statistics of why attention scales by 1/sqrt(d_k), add & norm on one
sublayer, per-head weight slices, the next-token distribution of a tied output projection,
and whether two sets of output vectors are the same set reordered.

Pure NumPy, like the rest of ``tutor.nn``; randomness comes in as a ``numpy.random.Generator``.
Every function takes a keyword-only ``trace`` and records its named intermediates.
"""

from __future__ import annotations

import math

import numpy as np

from ..trace import NULL_TRACE
from .functional import layer_norm, softmax


def softmax_with_temperature(x, *, scale: float = 1.0, temperature: float = 1.0,
                             trace=NULL_TRACE):
    """softmax(x * scale / T): ``scale`` as attention's 1/sqrt(d_k), ``temperature`` T > 0
    flattens (T > 1) or sharpens (T < 1) the distribution. Records ``input``, ``logits``
    and the softmax's ``softmax.shifted``, ``.exp``, ``.sum``, ``.out``; returns the weights."""
    x = np.asarray(x)
    logits = x * (scale / temperature)                                 # [..., n]
    trace.record("input", x)
    trace.record("logits", logits)
    return softmax(logits, axis=-1, trace=trace.scope("softmax"))      # [..., n], sums to 1


def softmax_jacobian_norm(weights):
    """||J||_F of the softmax Jacobian J = diag(p) - p pᵀ, per row of ``weights``.

    ||J||_F² = Σ p_i² - 2 Σ p_i³ + (Σ p_i²)²: zero for a one-hot row (a saturated softmax
    passes no gradient) and largest when two entries share the weight (0.5 for p = [½, ½]).
    """
    p2 = np.sum(weights ** 2, axis=-1)                                 # [...]
    p3 = np.sum(weights ** 3, axis=-1)                                 # [...]
    return np.sqrt(np.maximum(p2 - 2 * p3 + p2 ** 2, 0.0))             # [...]


def scaling_statistics(d_k_values, rng: np.random.Generator, n_samples: int = 2000,
                       n_keys: int = 8, *, trace=NULL_TRACE):
    """For each d_k: draw q and n_keys keys with independent N(0, 1) entries, n_samples times.

    The dot product q·k has mean 0 and variance d_k, so its spread grows like sqrt(d_k).
    Per d_k (scope ``dk<d>``) records ``dots`` [n_samples] (one q·k each), ``std``, and for the
    softmax over the n_keys logits q·k_j, unscaled and divided by sqrt(d_k): the mean
    largest weight ``max_weight_unscaled`` / ``max_weight_scaled`` and the mean Jacobian norm
    ``grad_unscaled`` / ``grad_scaled``. Records ``table`` [len(d_k_values), 7] with the
    columns d_k, sqrt(d_k), std, max weight unscaled, scaled, gradient unscaled, scaled.
    """
    rows = []
    for d_k in d_k_values:
        q = rng.standard_normal((n_samples, 1, d_k))                   # [n_samples, 1, d_k]
        k = rng.standard_normal((n_samples, n_keys, d_k))              # [n_samples, n_keys, d_k]
        logits = np.sum(q * k, axis=-1)                                # [n_samples, n_keys]
        dots = logits[:, 0]                                            # [n_samples]: one q·k each
        std = np.std(dots)
        unscaled = softmax(logits)                                     # [n_samples, n_keys]
        scaled = softmax(logits / math.sqrt(d_k))                      # [n_samples, n_keys]
        row = [float(d_k), math.sqrt(d_k), std,
               float(np.mean(np.max(unscaled, axis=-1))), float(np.mean(np.max(scaled, axis=-1))),
               float(np.mean(softmax_jacobian_norm(unscaled))),
               float(np.mean(softmax_jacobian_norm(scaled)))]
        scope = trace.scope(f"dk{d_k}")
        scope.record("dots", dots)
        for name, value in zip(("std", "max_weight_unscaled", "max_weight_scaled",
                                "grad_unscaled", "grad_scaled"), row[2:]):
            scope.record(name, np.float64(value))
        rows.append(row)
    table = np.array(rows, dtype=np.float64)                           # [n_dk, 7]
    trace.record("table", table)
    return table


def add_and_norm(x, sublayer_out, weight=None, bias=None, eps: float = 1e-5, *,
                 trace=NULL_TRACE):
    """LayerNorm(x + Sublayer(x)): the residual added is the sublayer's own input ``x``.

    Records ``input``, ``sublayer``, ``add`` and the norm's ``norm.mean``, ``.var``,
    ``.normalized``, ``.out``.
    """
    resid = x + sublayer_out                                           # [..., d]
    trace.record("input", x)
    trace.record("sublayer", sublayer_out)
    trace.record("add", resid)
    return layer_norm(resid, weight, bias, eps, trace=trace.scope("norm"))  # [..., d]


def next_token_distribution(hidden, vocab_embeddings, *, trace=NULL_TRACE):
    """p(next word) = softmax(h · Eᵀ): the decoder's last vector scored against every word's
    embedding (an output projection tied to the embeddings, as in the 2017 paper).
    ``hidden`` [..., d_model], ``vocab_embeddings`` [n_vocab, d_model]. Records ``hidden``,
    ``logits`` and ``softmax.*``; returns the probabilities [..., n_vocab]."""
    logits = hidden @ vocab_embeddings.T                               # [..., d_model] -> [..., n_vocab]
    trace.record("hidden", hidden)
    trace.record("logits", logits)
    return softmax(logits, axis=-1, trace=trace.scope("softmax"))      # [..., n_vocab]


def row_permutation(a, b, *, atol: float = 1e-9):
    """``perm`` with a[perm] == b row for row (to ``atol``), or None when b's rows are not a
    reordering of a's. [n, d], [n, d] -> [n] or None."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return None
    unused = list(range(a.shape[0]))
    perm = []
    for row in b:
        match = next((i for i in unused if np.allclose(a[i], row, rtol=0, atol=atol)), None)
        if match is None:
            return None
        unused.remove(match)
        perm.append(match)
    return np.array(perm, dtype=np.int64)
