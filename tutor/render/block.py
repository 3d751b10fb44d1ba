"""The block tab's document: a recording of :mod:`tutor.walkthroughs.block` (the explorer's
sentence through one encoder layer, or one layer of a model) as one
:class:`~tutor.render.document.Step` whose parts are the residual add, the norm, the
feed-forward and the second residual, each matrix named, shaped and labelled by tokens;
and the worked line of one cell. Reads only the recorded names; computes nothing."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np

from .document import MatrixView, Part, Step, dim_labels, format_number, unique_labels
from .feed_forward import hidden_labels


def _view(recording, key: str, name: str, *, columns: int | None = None) -> MatrixView:
    """One recorded matrix [n, cols] named ``name``: rows the tokens, columns d1… or h1…
    (the feed-forward's hidden width); the caption says so (kept short: the grid is no
    wider than its numbers). With ``columns`` a wider matrix shows its first ``columns``
    columns, titled with its real shape and the caption saying which are shown."""
    values = np.asarray(recording[key])                                # [n, cols]
    hidden = key.startswith("ff.") and key != "ff.out"
    cols = (hidden_labels if hidden else dim_labels)(values.shape[1])
    view = MatrixView(name, key, values, unique_labels(recording.tokens), cols,
                      caption="rows = tokens")
    if columns is not None and values.shape[1] > columns:
        view = replace(view, window=(values.shape[0], columns)).corner(columns, at_least=False)
        view = replace(view, caption=f"rows = tokens · {view.cut_note()}")
    return view


def block_step(recording, *, number: int = 9, precision: int = 2,
               columns: int | None = None) -> Step:
    """The block as one step (key ``block``): parts in the order the block computes them,
    post-norm (add, norm, FFN, add, norm) or pre-norm (norm, attention, add, norm, FFN, add),
    as ``recording.info["norm_first"]`` says. Rows are tokens; columns d1… (the model's
    width) or h1… (the feed-forward's hidden width); with ``columns`` only the first
    ``columns`` of a wider matrix (a real model's 576 or 1536), said in its caption."""
    info = recording.info
    view = partial(_view, recording, columns=columns)
    norm, pre = info["norm"], info["norm_first"]
    heading = norm[0].upper() + norm[1:]                               # "Layer norm", "RMSNorm"
    act = {"relu": "ReLU", "gelu": "GELU", "gelu_tanh": "GELU (tanh)",
           "swiglu": "SwiGLU"}.get(info["activation"], info["activation"])
    order = "pre-norm: the norm before each sublayer, x + f(norm(x))" if pre else \
        "post-norm (the 2017 paper): the norm after each residual add, norm(x + f(x))"
    parts = []
    x = view("input", info.get("input_name", "X"))
    attn = view("attn_out", "Attention(X)" if not pre else "Attention(norm1)")
    add1 = view("add1", "X + Attention")
    norm1 = view("norm1.out", f"{norm}1")
    if pre:
        parts.append(Part(f"{heading} before attention", [x, norm1], [],
                          f"Each token's row of X is normalised ({norm}) before attention "
                          f"reads it; X itself goes around the sublayer."))
        parts.append(Part("Residual add", [attn, add1], [],
                          "X + Attention(norm1(X)): the attention adds to the input, it "
                          "does not replace it."))
    else:
        parts.append(Part("Residual add", [x, attn, add1], [],
                          "X + Attention(X): each token's vector keeps what it was and "
                          "gains what attention found."))
    cross_attention = info.get("side") == "decoder"
    swiglu = info["activation"] == "swiglu"
    if cross_attention:
        cross = view("cross_out", "Cross-attention")
        added = view("add_cross", "+ Cross-attention")
        views = [cross, added]
        if not pre:
            views.append(view("norm_cross.out", f"{norm}"))
        if not pre:
            parts.append(Part(heading, [norm1], [], f"{heading} of each row of the sum."))
        parts.append(Part("Attention over the encoder", views, [],
                          "The decoder's second sublayer: each output position reads the "
                          "input's tokens, and the result is added to it."))
    elif not pre:
        parts.append(Part(heading, [norm1], [],
                          f"{heading} of each row: mean 0 and variance 1 across its "
                          f"{recording['add1'].shape[-1]} numbers (times γ, plus β)."))
    norm2 = view("norm2.out", f"{norm}2")
    if pre:
        parts.append(Part(f"{heading} before the feed-forward", [norm2], [],
                          "The sum is normalised again before the feed-forward reads it."))
    ff = []
    if swiglu:
        ff += [view("ff.gate", "gate"),
               view("ff.silu", "SiLU(gate)"),
               view("ff.up", "up"),
               view("ff.activated", "SiLU(gate) ⊙ up")]
        meaning = ("SwiGLU: the gate decides, number by number, how much of 'up' passes "
                   "(SiLU(gate) near 0 closes it); W_down brings the product back to "
                   "d_model.")
    else:
        ff += [view("ff.hidden", "hidden"),
               view("ff.activated", act)]
        meaning = (f"Each token on its own: widen to d_ff = {info['d_ff']}, {act} keeps "
                   f"what is positive (and shrinks the rest), narrow back to d_model.")
    ff.append(view("ff.out", "FFN"))
    parts.append(Part(f"Feed-forward ({act})", ff, [], meaning))
    add2 = view("add2", "+ FFN")
    final = [add2]
    if not pre:
        final.append(view("norm2.out", f"{norm}2 = output"))
    parts.append(Part("Second residual" + ("" if pre else f" and {norm}"), final, [],
                      "The feed-forward adds to its input too" +
                      ("; this sum is the block's output (the next layer reads it)." if pre
                       else f"; {norm} of the sum is the block's output.")))
    formula = ("h = x + Attention(Norm(x));  out = h + FFN(Norm(h))" if pre else
               "h = Norm(x + Attention(x));  out = Norm(h + FFN(h))")
    return Step(number, f"The whole block · {info['layer_title']}", f"{formula}\n{order}",
                formula, parts, key="block")


def block_worked_cell(recording, key: str, row: int, col: int, *, precision: int = 2) -> list[str]:
    """The worked line of cell (row, col) of the block's matrix ``key``, from the recorded
    numbers: a residual add as its two terms, a norm's output from its row's mean and
    variance, an activation from hidden; other cells by their value."""
    f = lambda v: format_number(float(v), precision)                  # noqa: E731
    info = recording.info
    cross_attention = info.get("side") == "decoder"
    swiglu = info["activation"] == "swiglu"
    tokens = unique_labels(recording.tokens)
    token = tokens[row]
    value = np.asarray(recording[key])[row, col]
    if key in ("add1", "add2", "add_cross"):
        pre = info["norm_first"]
        left = {"add1": "input", "add2": "add1" if pre else "norm1.out",
                "add_cross": "add1" if pre else "norm1.out"}[key]
        right = {"add1": "attn_out", "add2": "ff.out", "add_cross": "cross_out"}[key]
        if key == "add2" and cross_attention:
            left = "add_cross" if pre else "norm_cross.out"
        a = np.asarray(recording[left])[row, col]
        b = np.asarray(recording[right])[row, col]
        return [f"{key}({token}, d{col + 1}) = {f(a)} + {f(b)} = {f(value)}"]
    scope = key.split(".")[0]
    if key.endswith(".out") and scope.startswith("norm"):
        if info["norm"] != "RMSNorm":
            mean = np.asarray(recording[f"{scope}.mean"])[row].ravel()[0]
            var = np.asarray(recording[f"{scope}.var"])[row].ravel()[0]
            normed = np.asarray(recording[f"{scope}.normalized"])[row, col]
            return [f"{scope}({token}, d{col + 1}): mean {f(mean)}, variance {f(var)}; "
                    f"(x − mean)/√(var + ε) = {f(normed)}; ×γ + β = {f(value)}"]
        else:
            ms = np.asarray(recording[f"{scope}.mean_square"])[row].ravel()[0]
            return [f"{scope}({token}, d{col + 1}): mean(x²) = {f(ms)}; "
                    f"g·x/√(mean(x²) + ε) = {f(value)}"]
    if key == "ff.activated" and not swiglu:
        hidden = np.asarray(recording["ff.hidden"])[row, col]
        act = recording.info["activation"]
        return [f"{act}({f(hidden)}) = {f(value)}   (hidden({token}, h{col + 1}))"]
    if key == "ff.activated" and swiglu:
        s = np.asarray(recording["ff.silu"])[row, col]
        u = np.asarray(recording["ff.up"])[row, col]
        return [f"SiLU(gate) × up = {f(s)} × {f(u)} = {f(value)}   ({token}, h{col + 1})"]
    prefix = "h" if key.startswith("ff.") and key != "ff.out" else "d"
    name = {"input": info.get("input_name", "X"), "attn_out": "Attention", "ff.hidden": "hidden",
            "ff.gate": "gate", "ff.up": "up", "ff.silu": "SiLU(gate)", "ff.out": "FFN",
            "cross_out": "cross-attention"}.get(key, key)
    return [f"{name}({token}, {prefix}{col + 1}) = {f(value)}"]
