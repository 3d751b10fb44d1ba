"""The self-attention walkthrough's computation, shared by ``tutor attention`` and the lessons:
record the inputs, optionally add positional encodings, run one head or several, and (without
scaling) run once more with scaling so the two can be compared."""

from __future__ import annotations

from ..trace import NULL_TRACE
from .attention import attention_head, multi_head_attention_xw
from .masks import causal_mask
from .posenc import add_positional_encoding, sinusoidal_encoding


def self_attention_walkthrough(x, w_q, w_k, w_v, w_o=None, *, n_head: int = 1,
                               causal: bool = False, scaled: bool = True,
                               posenc: str = "none", trace=NULL_TRACE):
    """Z = Attention(X Wq, X Wk, X Wv) for one head, or the notes' multi-head form with Wo.

    Records ``x``, ``w_q``, ``w_k``, ``w_v`` (and ``w_o``), ``posenc.*`` and ``input.*`` when
    ``posenc`` is "sinusoidal", every step of attention, and with ``scaled=False`` the scaled
    run too under ``with_scaling.``. Returns (out [n, d_model or d_v], weights).
    """
    trace.record("x", x)
    trace.record("w_q", w_q)
    trace.record("w_k", w_k)
    trace.record("w_v", w_v)
    n, d_model = x.shape
    inputs = x
    if posenc == "sinusoidal":
        pe = sinusoidal_encoding(n, d_model, dtype=x.dtype, trace=trace.scope("posenc"))  # [n, d_model]
        inputs = add_positional_encoding(x, pe, trace=trace.scope("input"))  # [n, d_model]
    mask = causal_mask(n) if causal else None                          # [n, n], True = hidden

    def run(scale, scope):
        if n_head > 1:
            return multi_head_attention_xw(inputs, inputs, w_q, w_k, w_v, w_o, n_head, mask,
                                           scale=scale, trace=scope)
        return attention_head(inputs, inputs, w_q, w_k, w_v, mask, scale=scale, trace=scope)

    if n_head > 1:
        trace.record("w_o", w_o)
    result = run(None if scaled else 1.0, trace)
    if not scaled:
        run(None, trace.scope("with_scaling"))
    return result
