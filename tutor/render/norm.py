"""The layer-norm walkthrough (mean, variance, normalise, scale and shift), batch norm beside
it on a matrix, and add & norm, built from what the engine recorded. Nothing here computes."""

from __future__ import annotations

from .document import (Document, Part, difference_precision, difference_text, dim_labels,
                       factor, format_number, is_integral, signed_sum)
from .builder import DocumentBuilder


def _normalised_meaning(w: DocumentBuilder, var: float, eps: float) -> str:
    """What the normalised numbers are, true of the recorded σ² and ε: the variance of n is
    σ²/(σ² + ε), which shows as 1 only when ε is small next to σ² at the precision shown."""
    if var == 0:
        return ("All the numbers were equal, so every one of n is 0: there is no spread to "
                "scale to variance 1, and ε keeps the division safe.")
    shortfall = eps / (var + eps)                                     # 1 − variance of n
    if shortfall < 0.5 * 10.0 ** -w.precision:
        return ("Now the numbers have mean 0 and variance 1 (up to ε), unless they were all "
                "equal: then every one is 0, and ε keeps the division safe.")
    return (f"Now the numbers have mean 0, but their variance is σ²/(σ² + ε) = "
            f"{w.fmt(var / (var + eps), False)}, not 1: ε = {eps:g} is not small next to "
            f"σ² = {w.fmt(var)}, so it shrinks the numbers. It keeps the division safe when "
            f"the numbers barely differ.")


def _differences(values, reference: float, precision: int):
    """A function writing a number at the decimals that keep ``values`` − ``reference`` true
    (see difference_precision): whole numbers stay whole."""
    decimals = difference_precision(values, reference, precision)
    return lambda value: format_number(value, decimals, is_integral([value]))


def _norm_steps(w: DocumentBuilder, scope: str, what: str, eps: float, has_affine: bool,
                input_name: str, symbol: str = "x") -> None:
    """The four steps of layer norm on the vector ``input_name``, from
    ``scope``.mean/var/normalized/out; the formulas call that vector ``symbol`` (x, or r for
    the residual sum r = x + Sublayer(x))."""
    x = w[input_name]
    mean, var = float(w[f"{scope}.mean"].ravel()[0]), float(w[f"{scope}.var"].ravel()[0])
    normalized, out = w[f"{scope}.normalized"], w[f"{scope}.out"]
    d = x.shape[-1]
    cols = dim_labels(d)
    terms = signed_sum([w.fmt(v) for v in x[:6]]) + (" + …" if d > 6 else "")
    v = symbol
    w.step("Mean", f"μ = (1/d) Σ {v}_j", rf"\mu = \frac{{1}}{{d}}\sum_j {v}_j",
           Part("", [w.view("μ", f"{scope}.mean", ["μ"], ["μ"])],
                [f"μ = ({terms}) / {d} = {w.fmt(mean)}"],
                f"The mean of the {d} numbers of {what}."), key="mean")
    fmt = _differences(x[:3], mean, w.precision)
    squares = " + ".join(f"({fmt(v)} − {factor(fmt(mean))})²" for v in x[:3]) \
        + (" + …" if d > 3 else "")
    w.step("Variance", f"σ² = (1/d) Σ ({v}_j − μ)²",
           rf"\sigma^2 = \frac{{1}}{{d}}\sum_j ({v}_j-\mu)^2",
           Part("", [w.view("σ²", f"{scope}.var", ["σ²"], ["σ²"])],
                [f"σ² = ({squares}) / {d} = {w.fmt(var)}"],
                "Divided by d, not d − 1 (the biased variance, as PyTorch's LayerNorm uses)."),
           key="var")
    w.step("Normalise", f"n = ({v} − μ) / √(σ² + ε)",
           rf"\hat {v} = \frac{{{v}-\mu}}{{\sqrt{{\sigma^2+\epsilon}}}}",
           Part("", [w.view("n", f"{scope}.normalized", ["n"], cols)],
                [f"n1 = ({difference_text(x[0], mean, w.precision)}) "
                 f"/ √({w.fmt(var)} + {eps:g}) = "
                 f"{w.fmt(normalized[0])}"],
                _normalised_meaning(w, var, eps)), key="normalize")
    w.step("Scale and shift", "y = γ ⊙ n + β", rf"y = \gamma \odot \hat {v} + \beta",
           Part("", [w.view("y", f"{scope}.out", ["y"], cols)],
                ["y1 = γ1 × n1 + β1 = " + signed_sum([
                    f"{factor(w.fmt(w['gamma'][0]))} × {factor(w.fmt(normalized[0]))}",
                    w.fmt(w['beta'][0])]) + f" = {w.fmt(out[0])}"],
                "γ and β are learned per feature, so the network can undo the normalisation "
                "where that helps." + ("" if has_affine else " Here γ = 1 and β = 0.")),
           key="affine")


def layernorm_document(trace, *, precision: int, eps: float, residual: bool,
                       has_affine: bool) -> Document:
    w = DocumentBuilder(trace, precision)
    if residual:
        x, f, resid = w["input"], w["sublayer"], w["add"]
        w.step("Add: the residual connection", "r = x + Sublayer(x)", r"r = x + F(x)",
               Part("", [w.view("x", "input", ["x"]), w.view("Sublayer(x)", "sublayer", ["F(x)"]),
                         w.view("x + Sublayer(x)", "add", ["r"])],
                    [f"r1 = {signed_sum([w.fmt(x[0]), w.fmt(f[0])])} = {w.fmt(resid[0])}"],
                    "The vector added back is the sublayer's own input x: the sublayer only "
                    "has to learn a change to x, and gradients reach earlier layers through "
                    "the addition unchanged."), key="add")
        _norm_steps(w, "norm", "r = x + Sublayer(x)", eps, has_affine, "add", symbol="r")
        title = "Add & norm"
    else:
        _norm_steps(w, "layer", "the vector", eps, has_affine, "layer.input")
        title = "Layer normalisation"
    d = int(w["gamma"].shape[0])
    return w.document("layernorm", title, [], {"d": d, "eps": eps, "residual": residual},
                      subtitle=f"d = {d}, ε = {eps:g}")


def batch_document(trace, *, precision: int, eps: float) -> Document:
    """Layer norm (each row on its own) beside batch norm (each column across the rows)."""
    w = DocumentBuilder(trace, precision)
    x = w["input"]
    n, d = x.shape
    rows, cols = [f"item {i + 1}" for i in range(n)], dim_labels(d)
    w.step("The batch", "X: one row per item, one column per feature", r"X",
           Part("", [w.view("X", "input", rows, cols)], [],
                f"{n} items of {d} features each."), key="input")
    lm, lv = w["layer.mean"], w["layer.var"]
    w.step("Layer norm: each row on its own", "μ, σ² over a row's features",
           r"\hat x_{ij} = (x_{ij} - \mu_i)/\sqrt{\sigma_i^2+\epsilon}",
           Part("", [w.view("μ", "layer.mean", rows, ["μ"]), w.view("σ²", "layer.var", rows, ["σ²"]),
                     w.view("layer norm", "layer.out", rows, cols)],
                [f"item 1: μ = {w.fmt(lm[0, 0])}, σ² = {w.fmt(lv[0, 0])}, "
                 f"n11 = ({difference_text(x[0, 0], lm[0, 0], w.precision)})"
                 f" / √({w.fmt(lv[0, 0])} + {eps:g})"
                 f" = {w.fmt(w['layer.out'][0, 0])}"],
                "Each row is normalised with its own statistics, so an item's result does not "
                "depend on the other items: this is what the Transformer uses, one token at a "
                "time."), key="layer")
    bm, bv = w["batch.mean"], w["batch.var"]
    w.step("Batch norm: each column across the batch", "μ, σ² over a column's items",
           r"\hat x_{ij} = (x_{ij} - \mu_j)/\sqrt{\sigma_j^2+\epsilon}",
           Part("", [w.view("μ", "batch.mean", ["μ"], cols), w.view("σ²", "batch.var", ["σ²"], cols),
                     w.view("batch norm", "batch.out", rows, cols)],
                [f"d1: μ = {w.fmt(bm[0, 0])}, σ² = {w.fmt(bv[0, 0])}, "
                 f"n11 = ({difference_text(x[0, 0], bm[0, 0], w.precision)})"
                 f" / √({w.fmt(bv[0, 0])} + {eps:g})"
                 f" = {w.fmt(w['batch.out'][0, 0])}"],
                "Each feature is normalised across the items of the batch, so an item's result "
                "changes with the batch it is in, and a batch of one has nothing to compare."),
           key="batch")
    return w.document("layernorm", "Layer norm beside batch norm", [],
                      {"items": n, "d": d, "eps": eps}, subtitle=f"{n} items, d = {d}, ε = {eps:g}")


def encoder_layer_norms_document(recording, *, precision: int = 2, seed: int) -> Document:
    """``walkthroughs.stack.norms_in_encoder_layer``: one encoder layer's residual around
    self-attention (step ``residual``), layer norm (``layer-norm``) and batch norm
    (``batch-norm``) of that sum, and the layer's output after the feed-forward's add & norm
    (``layer``). ``seed``: the random weights' seed, for the note."""
    from .document import unique_labels

    w = DocumentBuilder(recording.trace, precision)
    layer = "encoder.layers.0."
    labels = unique_labels(recording.tokens)
    d = dim_labels(w[layer + "add1"].shape[-1])
    w.matrices_step("residual", w.first_matrix("x (sublayer input)", layer + "input", labels, d),
                    w.first_matrix("attention(x)", layer + "self_attn.out_proj", labels, d),
                    w.first_matrix("x + attention(x)", layer + "add1", labels, d))
    w.matrices_step("layer-norm", w.first_matrix("layer norm: mean", "ln.mean", labels, ["mean"]),
                    w.first_matrix("variance", "ln.var", labels, ["var"]),
                    w.first_matrix("layer norm", "ln.out", labels, d))
    w.matrices_step("batch-norm", w.first_matrix("batch norm: mean", "bn.mean", ["mean"], d),
                    w.first_matrix("batch norm", "bn.out", labels, d))
    w.matrices_step("layer", w.first_matrix("after the feed-forward: add & norm",
                                            layer + "norm2.out", labels, d))
    facts = [f"One encoder layer, d_model = {len(d)}, one head, random weights (seed {seed}); "
             "post-norm as in the 2017 paper: norm(x + sublayer(x))."]
    return w.document("add-norm", "add-norm", [], {}, notes=facts)


def post_and_pre_norm_document(recording, *, precision: int = 2, seed: int) -> Document:
    """``walkthroughs.stack.post_and_pre_norm``: one encoder layer with the same weights
    run post-norm (step ``post``: x, x + attention(x), its norm, the layer's output) and
    pre-norm (step ``pre``: x, norm(x), x + attention(norm(x)), the layer's output), and
    the mean and variance of each token's row of the two outputs (step ``rows``)."""
    from .document import unique_labels

    w = DocumentBuilder(recording.trace, precision)
    labels = unique_labels(recording.tokens)
    post, pre = "post.encoder.layers.0.", "pre.encoder.layers.0."
    d = dim_labels(w[post + "add1"].shape[-1])
    w.matrices_step("post", w.first_matrix("x", post + "input", labels, d),
                    w.first_matrix("x + attention(x)", post + "add1", labels, d),
                    w.first_matrix("norm(x + attention(x))", post + "norm1.out", labels, d),
                    w.first_matrix("post-norm output", post + "output", labels, d))
    w.matrices_step("pre", w.first_matrix("x", pre + "input", labels, d),
                    w.first_matrix("norm(x)", pre + "norm1.out", labels, d),
                    w.first_matrix("x + attention(norm(x))", pre + "add1", labels, d),
                    w.first_matrix("pre-norm output", pre + "output", labels, d))
    w.matrices_step("rows", w.first_matrix("post-norm output: mean", "post.stats.mean", labels,
                                           ["mean"]),
                    w.first_matrix("post-norm output: variance", "post.stats.var", labels,
                                   ["var"]),
                    w.first_matrix("pre-norm output: mean", "pre.stats.mean", labels,
                                   ["mean"]),
                    w.first_matrix("pre-norm output: variance", "pre.stats.var", labels,
                                   ["var"]))
    facts = [f"One encoder layer, d_model = {len(d)}, one head, random weights (seed {seed}), "
             "the same weights run post-norm, norm(x + sublayer(x)), and pre-norm, "
             "x + sublayer(norm(x))."]
    return w.document("add-norm", "post-norm and pre-norm", [], {}, notes=facts)
