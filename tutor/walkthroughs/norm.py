"""The normalisation walkthroughs: layer norm on a vector, batch norm beside layer norm on a
matrix, and add & norm. Shared by ``tutor layernorm`` and the lessons."""

from __future__ import annotations

from tutor.nn.analysis import add_and_norm as add_and_norm_
from tutor.nn.functional import batch_norm, layer_norm

from . import Recording, new_trace


def layer_norm_steps(x, gamma, beta, eps: float) -> Recording:
    """LayerNorm(x) = γ (x − mean) / √(var + ε) + β of a vector x [d] (Ba et al. 2016; PyTorch
    ``nn.LayerNorm``: biased variance, ε inside the root). Records ``gamma``, ``beta``,
    ``layer.input`` and the steps of layer_norm under ``layer.``."""
    trace = new_trace()
    trace.record("gamma", gamma)
    trace.record("beta", beta)
    trace.record("layer.input", x)
    out = layer_norm(x, gamma, beta, eps, trace=trace.scope("layer"))   # [d]
    return Recording(trace, out,
                     walkthrough="norm.layer_norm_steps")


def batch_beside_layer_norm(x, gamma, beta, eps: float) -> Recording:
    """A batch x [n, d]: layer norm per row (under ``layer.``) beside batch norm per column
    (under ``batch.``, Ioffe & Szegedy 2015), with ``gamma``, ``beta`` and ``input``."""
    trace = new_trace()
    trace.record("gamma", gamma)
    trace.record("beta", beta)
    trace.record("input", x)
    layer_norm(x, gamma, beta, eps, trace=trace.scope("layer"))         # [n, d]
    out = batch_norm(x, gamma, beta, eps, trace=trace.scope("batch"))   # [n, d]
    return Recording(trace, out,
                     walkthrough="norm.batch_beside_layer_norm")


def add_and_norm(x, sublayer_out, gamma, beta, eps: float) -> Recording:
    """LayerNorm(x + sublayer(x)) for a vector x [d] and the sublayer's output [d] (the
    residual is the sublayer's own input; Vaswani et al. 2017, section 3.1)."""
    trace = new_trace()
    trace.record("gamma", gamma)
    trace.record("beta", beta)
    out = add_and_norm_(x, sublayer_out, gamma, beta, eps, trace=trace)  # [d]
    return Recording(trace, out,
                     walkthrough="norm.add_and_norm")
