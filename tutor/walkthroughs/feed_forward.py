"""The position-wise feed-forward network on a sentence's vectors: what the second sublayer
of every Transformer layer computes, token by token. Shared by the lessons (the lesson
computation ``feed-forward``)."""

from __future__ import annotations

import numpy as np

from tutor.nn.functional import ACTIVATIONS, feed_forward, relu

from . import Recording, new_trace


def position_wise(tokens: list[str], x, w1, b1, w2, b2, activation: str = "gelu") -> Recording:
    """FFN(x) = act(x·W1ᵀ + b1)·W2ᵀ + b2 on each row of x [n, d_model] (Vaswani et al. 2017,
    section 3.3; GELU: Hendrycks & Gimpel 2016), run by :func:`tutor.nn.functional.feed_forward`.

    Shapes: w1 [d_ff, d_model], b1 [d_ff], w2 [d_model, d_ff], b2 [d_model] (PyTorch's
    ``linear1`` / ``linear2``). Records ``x`` [n, d_model], what ``feed_forward`` records under
    ``ff.`` (``hidden`` and ``activated`` [n, d_ff], ``out`` [n, d_model]) and, when the
    activation is not relu, ``relu`` [n, d_ff]: relu of the same hidden values, to compare.
    Raises ValueError for an activation ``feed_forward`` does not know.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"expected an activation in {sorted(ACTIVATIONS)}, got {activation!r}")
    trace = new_trace()
    x = np.asarray(x)
    trace.record("x", x)                                                # [n, d_model]
    out = feed_forward(x, w1, b1, w2, b2, activation, trace=trace.scope("ff"))  # [n, d_model]
    if activation != "relu":
        trace.record("relu", relu(trace["ff.hidden"]))                  # [n, d_ff], a new array
    return Recording(trace, out, list(tokens), {"activation": activation},
                     walkthrough="feed_forward.position_wise")
