"""The positional-encoding walkthrough: a sinusoidal or a learned table, and embedding + PE
for a sentence. Shared by ``tutor posenc`` and the lessons."""

from __future__ import annotations

from tutor.nn.posenc import (add_positional_encoding, init_learned_encoding, learned_encoding,
                             sinusoidal_encoding)

from . import Recording, new_trace


def positional_table(n_positions: int, d_model: int, *, learned: bool = False, table=None,
                     rng=None, x=None, tokens: list[str] | None = None) -> Recording:
    """PE [n_positions, d_model]: sinusoidal (recorded under ``sinusoidal.``) or the first rows
    of a learned ``table`` (recorded as ``table`` and under ``learned.``; with no table, an
    untrained one drawn from ``rng``, N(0, 1) as ``nn.Embedding`` starts). With the
    sentence's embeddings ``x`` [n_tokens, d_model], X + PE is recorded under ``input.``.
    Vaswani et al. 2017, section 3.5.
    """
    trace = new_trace()
    if learned:
        pe = _record_learned(trace, n_positions, d_model, table, rng)   # [n_pos, d_model]
    else:
        pe = sinusoidal_encoding(n_positions, d_model, trace=trace.scope("sinusoidal"))  # [n_pos, d_model]
    if x is not None:
        add_positional_encoding(x, pe, trace=trace.scope("input"))       # [n_tokens, d_model]
    return Recording(trace, pe, list(tokens or []),
                     {"kind": "learned" if learned else "sinusoidal"},
                     walkthrough="posenc.positional_table")


def _record_learned(trace, n_positions: int, d_model: int, table, rng):
    if table is None:
        table = init_learned_encoding(rng, n_positions, d_model)         # [n_pos, d_model]
    trace.record("table", table)
    return learned_encoding(table, n_positions, trace=trace.scope("learned"))  # [n_pos, d_model]


def sinusoidal_beside_learned(n_positions: int, d_model: int, rng) -> Recording:
    """The sinusoidal table (under ``sinusoidal.``) beside an untrained learned one drawn
    from ``rng`` (``table`` and ``learned.``), both [n_positions, d_model]."""
    trace = new_trace()
    sinusoidal_encoding(n_positions, d_model, trace=trace.scope("sinusoidal"))
    pe = _record_learned(trace, n_positions, d_model, None, rng)        # [n_pos, d_model]
    return Recording(trace, pe, info={"kind": "learned"},
                     walkthrough="posenc.sinusoidal_beside_learned")
