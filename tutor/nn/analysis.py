"""Small computations the calculator commands show beside the model: softmax with a scale and
a temperature, the statistics of why attention scales by 1/sqrt(d_k), add & norm on one
sublayer, per-head weight slices, the next-token distribution of a tied output projection,
whether two sets of output vectors are the same set reordered, and the pattern one
attention head shows (:func:`head_pattern`, for any model: a toy, BERT, GPT-2).

Pure NumPy, like the rest of ``tutor.nn``; randomness comes in as a ``numpy.random.Generator``.
Every function takes a keyword-only ``trace`` and records its named intermediates.
"""

from __future__ import annotations

import math

import numpy as np

from dataclasses import dataclass

from ..errors import ShapeError
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


# -- what one head attends to ----------------------------------------------------------------

#: A head is labelled with a pattern when, on average over the query positions where the
#: pattern is defined, at least this share of each query's attention goes to its target.
PATTERN_THRESHOLD = 0.5

#: The patterns, in the order used to break exact ties.
PATTERNS = ("first", "last", "itself", "previous", "next", "one token")

#: The one vocabulary of pattern names, used by every screen (the ``tutor heads`` grid, its
#: text, the explorer): pattern -> name. "first" is named "[CLS]" and "last" "[SEP]" when
#: the sentence's first / last token is that token; "one token" is named by the token itself.
PATTERN_NAMES = {"first": "first token", "last": "last token", "itself": "itself",
                 "previous": "previous token", "next": "next token", "one token": "one token",
                 "broad": "broad"}


@dataclass(frozen=True)
class HeadPattern:
    """The label of one attention matrix and the evidence: ``shares[p]`` is the mean weight
    a query gives to pattern p's target; ``share`` is the winning one's; ``key`` is the key
    position every query looks at for "first", "last" and "one token" (else None)."""

    label: str
    pattern: str                                                       # a PATTERNS entry or "broad"
    share: float
    shares: dict[str, float]
    key: int | None = None


def head_pattern(weights, tokens=None, *, mask=None,
                 threshold: float = PATTERN_THRESHOLD) -> HeadPattern:
    """Label one head's attention matrix [n_q, n_k] (rows sum to 1) by a simple stated rule.

    For query position i, each pattern names one key position (its target):
      previous token: i - 1 (defined for i >= 1); next token: i + 1 (for i <= n - 2);
      itself: i; first token: 0 (label "[CLS]" when tokens[0] is [CLS], else "first token");
      last token: n - 1 ("[SEP]" when tokens[-1] is [SEP], else "end");
      one token: the same position j for every query, the inner position (0 < j < n - 1)
      with the largest column mean (label: that token, e.g. "cat" or "position 3").
    Forced rows are left out: a query row with a single allowed key (a causal model's first
    query, which the mask puts entirely on the first token) says nothing about the head.
    ``mask`` [n, n] (True = not allowed, as :func:`tutor.nn.masks.causal_mask`) gives the
    allowed keys; without it a key of weight exactly 0 counts as not allowed (a masked
    key's softmax weight is exactly 0). When every row is forced, all rows are used.
    share(p) = the mean, over the kept query rows where p is defined, of the weight on its
    target. The label is the pattern with the largest share if that share is at least
    ``threshold`` (0.5: most of the attention); otherwise "broad" (no single target takes
    most of it). Exact ties go to the earlier of first, last, itself, previous, next, one
    token. Needs n >= 2. Raises ShapeError for a matrix that is not square.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2 or weights.shape[0] != weights.shape[1] or weights.shape[0] < 2:
        raise ShapeError(f"weights must be a square [n, n] matrix with n >= 2, got {weights.shape}")
    n = weights.shape[0]
    allowed = weights != 0 if mask is None else ~np.asarray(mask, dtype=bool)  # [n_q, n_k]
    if allowed.shape != weights.shape:
        raise ShapeError(f"mask must have the shape of the weights {weights.shape}, got "
                         f"{allowed.shape}")
    rows = np.flatnonzero(allowed.sum(axis=1) >= 2)                    # the rows not forced
    if rows.size == 0:
        rows = np.arange(n)
    kept = weights[rows]                                               # [n_kept, n_k]
    column_means = kept.mean(axis=0)                                   # [n_k]
    inner = int(np.argmax(column_means[1:-1])) + 1 if n > 2 else None

    def mean_at(queries, keys) -> float:
        return float(weights[queries, keys].mean()) if len(queries) else 0.0

    after_first, before_last = rows[rows >= 1], rows[rows <= n - 2]
    shares = {
        "first": float(column_means[0]),
        "last": float(column_means[n - 1]),
        "itself": mean_at(rows, rows),
        "previous": mean_at(after_first, after_first - 1),
        "next": mean_at(before_last, before_last + 1),
        "one token": 0.0 if inner is None else float(column_means[inner]),
    }
    best = max(PATTERNS, key=lambda p: (shares[p], -PATTERNS.index(p)))
    if shares[best] < threshold:
        return HeadPattern(PATTERN_NAMES["broad"], "broad", shares[best], shares)
    key = {"first": 0, "last": n - 1, "one token": inner}.get(best)
    return HeadPattern(_label(best, tokens, key), best, shares[best], shares, key)


def _label(pattern: str, tokens, key) -> str:
    if pattern == "first" and tokens and tokens[0] == "[CLS]":
        return "[CLS]"
    if pattern == "last" and tokens and tokens[-1] == "[SEP]":
        return "[SEP]"
    if pattern == "one token":
        return f"{tokens[key]!r}" if tokens else f"position {key}"
    return PATTERN_NAMES[pattern]


def head_patterns(attentions, tokens=None, *, mask=None, threshold: float = PATTERN_THRESHOLD):
    """:func:`head_pattern` for every head: attentions [n_layer, n_head, n, n] (and the
    ``mask`` [n, n] they were computed with, True = not allowed) -> [n_layer][n_head]
    HeadPattern."""
    attentions = np.asarray(attentions)
    if attentions.ndim != 4:
        raise ShapeError(f"attentions must be [n_layer, n_head, n, n], got {attentions.shape}")
    return [[head_pattern(head, tokens, mask=mask, threshold=threshold) for head in layer]
            for layer in attentions]
