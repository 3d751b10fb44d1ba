"""The multi-head walkthrough: the self-attention steps per head (from
:mod:`tutor.render.attention`) with a step after the inputs that shows how Wq, Wk, Wv split
into heads."""

from __future__ import annotations

from .document import Document, Part, dim_labels


def _split_step(builder) -> None:
    """Wq = [Wq1 | … | Wqh]: each head's columns of Wq, Wk, Wv, as the engine used them."""
    heads = builder.heads
    d_model, d_k = builder.trace["w_q"].shape
    width = d_k // heads
    parts = []
    for i in range(heads):
        lo = i * width + 1
        cols = [f"d{lo + j}" for j in range(width)]                   # Wq's own column numbers
        mats = [builder.view(f"Wq{i + 1}", f"head{i}.w_q", dim_labels(d_model), cols),
                builder.view(f"Wk{i + 1}", f"head{i}.w_k", dim_labels(d_model), cols),
                builder.view(f"Wv{i + 1}", f"head{i}.w_v", dim_labels(d_model), cols)]
        if builder.max_columns is not None and d_model > builder.max_columns:
            mats = []                                   # wide real vectors: described, not drawn
        parts.append(Part(f"Head {i + 1} of {heads}", mats,
                          [f"Wq{i + 1} = columns {lo}–{lo + width - 1} of Wq"
                           + ("" if mats else f" ({d_model}×{width}; --format json has it)")],
                          f"Head {i + 1} projects every token to {width} numbers of its own; "
                          f"with other weights it can attend to other words."))
    builder.step("Split the weights into heads", "Wq = [Wq1 | … | Wqh] (likewise Wk, Wv)",
                 r"W_q = [W_q^{(1)} \mid \dots \mid W_q^{(h)}]", parts, key="split")


def multihead_document(trace, tokens, *, precision: int, heads: int, sources,
                       weight_kinds, causal: bool = False, scaled: bool = True,
                       posenc: str = "none") -> Document:
    from .attention import attention_document

    return attention_document(trace, tokens, precision=precision, heads=heads, sources=sources,
                              weight_kinds=weight_kinds, causal=causal, scaled=scaled,
                              posenc=posenc, after_inputs=_split_step,
                              command="multihead",
                              title=f"Multi-head attention on \"{' '.join(tokens)}\"")
