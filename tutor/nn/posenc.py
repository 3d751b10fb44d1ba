"""Positional encodings: the sinusoidal table of Vaswani et al. (2017) and a learned table."""

from __future__ import annotations

import numpy as np

from ..trace import NULL_TRACE


def sinusoidal_encoding(n_positions: int, d_model: int, *, offset: int = 0, dtype=np.float64,
                        trace=NULL_TRACE):
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)).

    Column j uses the frequency 1 / 10000^(2*(j//2)/d): sine on even columns, cosine on odd
    ones. An odd d_model ends with a sine column. Returns [n_positions, d_model] for the
    positions offset, ..., offset + n_positions - 1 (a decoding step needs only its own row).
    """
    positions = np.arange(offset, offset + n_positions, dtype=np.float64)[:, None]  # [n_pos, 1]
    pair = np.arange(d_model) // 2                                     # [d_model]: i of column j
    frequencies = 1.0 / 10000.0 ** (2.0 * pair / d_model)              # [d_model]
    angles = positions * frequencies                                   # [n_pos, d_model]
    even = np.arange(d_model) % 2 == 0                                 # [d_model]
    pe = np.where(even, np.sin(angles), np.cos(angles)).astype(dtype)  # [n_pos, d_model]
    trace.record("frequencies", frequencies)
    trace.record("angles", angles)
    trace.record("pe", pe)
    return pe


def init_learned_encoding(rng: np.random.Generator, n_positions: int, d_model: int, *,
                          dtype=np.float64):
    """A learned positional table before training: N(0, 1) entries, like ``nn.Embedding``."""
    return rng.standard_normal((n_positions, d_model)).astype(dtype)  # [n_pos, d_model]


def learned_encoding(table, n_positions: int, *, trace=NULL_TRACE):
    """The first ``n_positions`` rows of a learned table [max_positions, d_model]."""
    pe = table[:n_positions]                                           # [n_pos, d_model]
    trace.record("pe", pe)
    return pe


def add_positional_encoding(x, pe, *, trace=NULL_TRACE):
    """X + PE: each row (token) gets the encoding of its position added to it."""
    out = x + pe[: x.shape[-2]]                                        # [..., n, d_model]
    trace.record("embedded", x)
    trace.record("pe", pe[: x.shape[-2]])
    trace.record("out", out)
    return out
