"""The softmax walkthroughs: softmax step by step with a scale and a temperature, softmax of
each row of a matrix, and why attention divides the scores by √dk. Shared by ``tutor
softmax``, ``tutor scaling`` and the lessons."""

from __future__ import annotations

from tutor.nn.analysis import scaling_statistics, softmax_with_temperature
from tutor.nn.functional import softmax

from . import Recording, new_trace


def softmax_steps(x, *, scale: float = 1.0, temperature: float = 1.0) -> Recording:
    """softmax(x · scale / temperature) of a vector x [n]: shift, exp, sum, divide."""
    trace = new_trace()
    out = softmax_with_temperature(x, scale=scale, temperature=temperature, trace=trace)  # [n]
    return Recording(trace, out, info={"scale": scale, "temperature": temperature},
                     walkthrough="softmax.softmax_steps")


def softmax_rows(logits) -> Recording:
    """softmax of each row of ``logits`` [rows, cols], recorded as ``logits`` and under
    ``softmax.``."""
    trace = new_trace()
    trace.record("logits", logits)
    out = softmax(logits, axis=-1, trace=trace.scope("softmax"))        # [rows, cols]
    return Recording(trace, out,
                     walkthrough="softmax.softmax_rows")


def scaling(d_k_values: list[int], rng, samples: int, keys: int) -> Recording:
    """The statistics of q·k for random N(0, 1) queries and keys at each width dk, and of
    the softmax over them with and without ÷√dk (Vaswani et al. 2017, section 3.2.1)."""
    trace = new_trace()
    out = scaling_statistics(d_k_values, rng, samples, keys, trace=trace)
    return Recording(trace, out, info={"samples": samples, "keys": keys},
                     walkthrough="softmax.scaling")
