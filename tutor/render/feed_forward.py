"""The position-wise feed-forward network (``walkthroughs.feed_forward.position_wise``), built
from what the engine recorded. Nothing here computes."""

from __future__ import annotations

from .builder import DocumentBuilder
from .document import Document, dim_labels, unique_labels

ACTIVATION_NAMES = {"gelu": "GELU", "gelu_tanh": "GELU (tanh form)", "relu": "ReLU"}


def hidden_labels(n: int) -> list[str]:
    """Labels of the d_ff hidden units: h1, h2, ..."""
    return [f"h{i + 1}" for i in range(n)]


def feed_forward_document(recording, *, precision: int = 2, seed: int) -> Document:
    """A step of matrices each: the input X (``input``), hidden = X·W1ᵀ + b1 (``hidden``),
    the activation of it, with ReLU beside another activation (``activated``), and the
    output act(hidden)·W2ᵀ + b2 (``output``). ``seed``: the random weights', for the note."""
    w = DocumentBuilder(recording.trace, precision)
    labels = unique_labels(recording.tokens)
    dim, d_ff = w["x"].shape[-1], w["ff.hidden"].shape[-1]
    d, h = dim_labels(dim), hidden_labels(d_ff)
    activation = recording.info["activation"]
    name = ACTIVATION_NAMES[activation]
    w.matrices_step("input", w.first_matrix("x", "x", labels, d))
    w.matrices_step("hidden", w.first_matrix(
        "hidden = x·W1ᵀ + b1", "ff.hidden", labels, h,
        caption=f"{d_ff} hidden values per token: W1 widens {dim} to {d_ff}"))
    activated = [w.first_matrix(f"{name}(hidden)", "ff.activated", labels, h)]
    if activation != "relu":
        activated.append(w.first_matrix("ReLU(hidden), to compare", "relu", labels, h))
    w.matrices_step("activated", *activated)
    w.matrices_step("output", w.first_matrix("FFN(x) = act(hidden)·W2ᵀ + b2", "ff.out", labels,
                                             d, caption=f"W2 narrows {d_ff} back to {dim}"))
    facts = [f"d_model = {dim}, d_ff = {d_ff}, {name}, random weights in tenths (seed "
             f"{seed}); the same W1, b1, W2, b2 for every token."]
    return w.document("feed-forward", "feed-forward", [], {}, notes=facts)
