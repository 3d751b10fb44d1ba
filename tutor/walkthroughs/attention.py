"""The self-attention walkthrough, shared by ``tutor attention``, ``tutor multihead``,
``tutor posenc --compare`` and the lessons: record the inputs, optionally add positional
encodings, run one head or several, and (without scaling) run once more with scaling so the
two can be compared."""

from __future__ import annotations

import numpy as np

from tutor.nn.attention import attention_head, multi_head_attention_xw
from tutor.nn.masks import causal_mask
from tutor.nn.posenc import add_positional_encoding, sinusoidal_encoding
from tutor.trace import NULL_TRACE

from . import Recording, new_trace


def record_self_attention(x, w_q, w_k, w_v, w_o=None, *, heads: int = 1, causal: bool = False,
                          scaled: bool = True, posenc: str = "none", multi_head_form: bool = False,
                          trace=NULL_TRACE):
    """Z = Attention(X Wq, X Wk, X Wv) for one head, or the notes' multi-head form with Wo
    (with several heads, or with ``multi_head_form`` for one), recorded into ``trace``.
    Returns (out [n, d_model or d_v], weights).

    Records ``x``, ``w_q``, ``w_k``, ``w_v`` (and ``w_o``), ``posenc.*`` and ``input.*`` when
    ``posenc`` is "sinusoidal", every step of attention, and with ``scaled=False`` the scaled
    run too under ``with_scaling.``. Vaswani et al. 2017, sections 3.2.1-3.2.2 and 3.5.
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
    multi_head_form = multi_head_form or heads > 1

    def attend(scale, scope):
        if multi_head_form:
            return multi_head_attention_xw(inputs, inputs, w_q, w_k, w_v, w_o, heads, mask,
                                           scale=scale, trace=scope)
        return attention_head(inputs, inputs, w_q, w_k, w_v, mask, scale=scale, trace=scope)

    if multi_head_form:
        trace.record("w_o", w_o)
    result = attend(None if scaled else 1.0, trace)
    if not scaled:
        attend(None, trace.scope("with_scaling"))
    return result


def self_attention(tokens: list[str], x, w_q, w_k, w_v, w_o=None, *, heads: int = 1,
                   causal: bool = False, scaled: bool = True, posenc: str = "none",
                   multi_head_form: bool = False, sources: list[str] | None = None,
                   weight_kinds: dict[str, str] | None = None) -> Recording:
    """Self-attention on ``tokens`` (X [n, d_model], Wq/Wk [d_model, d_k], Wv [d_model, d_v],
    Wo [d_v, d_model] with several heads), recorded as :func:`record_self_attention` says.

    ``sources`` (per token: "notes", "derived", "--embed", ...) and ``weight_kinds``
    ({"w_q": "identity" | "random" | "inline" | "a file", ...}) go to the renderer in
    ``info``. The output is (Z or MultiHead(X), the weights).
    """
    trace = new_trace()
    output = record_self_attention(x, w_q, w_k, w_v, w_o, heads=heads, causal=causal,
                                   scaled=scaled, posenc=posenc,
                                   multi_head_form=multi_head_form, trace=trace)
    info = {"heads": heads, "causal": causal, "scaled": scaled, "posenc": posenc,
            "sources": sources or ["derived"] * len(tokens), "weight_kinds": weight_kinds or {}}
    return Recording(trace, output, list(tokens), info,
                     walkthrough="attention.self_attention")


def word_order(sentences: list[list[str]], embeddings: list[np.ndarray]) -> Recording:
    """Why order needs positional encoding: self-attention with identity weights on two
    orderings of the same words (X [n, d_model] each), without and with sinusoidal PE.

    Records ``a.plain.*``, ``a.with_pe.*``, ``b.plain.*``, ``b.with_pe.*`` (each as
    :func:`record_self_attention`); ``info`` says whether the outputs of one ordering are a
    row permutation of the other's, without PE (``same_without``) and with it (``same_with``).
    """
    from tutor.nn.analysis import row_permutation

    trace = new_trace()
    outputs = {}
    for name, x in zip("ab", embeddings):
        eye = np.eye(x.shape[1])                                         # Wq = Wk = Wv = I
        for key, posenc in (("plain", "none"), ("with_pe", "sinusoidal")):
            outputs[name, key], _ = record_self_attention(
                x, eye, eye, eye, posenc=posenc, trace=trace.scope(f"{name}.{key}"))
    info = {"same_without": row_permutation(outputs["a", "plain"], outputs["b", "plain"]) is not None,
            "same_with": row_permutation(outputs["a", "with_pe"], outputs["b", "with_pe"]) is not None,
            "sentences": sentences}
    return Recording(trace, outputs, list(sentences[0]), info,
                     walkthrough="attention.word_order")
