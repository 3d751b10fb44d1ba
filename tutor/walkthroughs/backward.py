"""Backpropagation through one attention head, shared by ``tutor backward`` (and any lesson
that shows it): the forward pass of :mod:`tutor.walkthroughs.attention`, a squared-error loss
against a target, the engine's backward pass of the head, and one step of gradient descent
followed by the forward pass and the loss again, all recorded in one trace."""

from __future__ import annotations

import numpy as np

from tutor.nn.attention import attention_head
from tutor.nn.backward import attention_head_backward
from tutor.nn.loss import squared_error, squared_error_backward
from tutor.nn.masks import causal_mask
from tutor.nn.optim import gradient_descent_step

from . import Recording, new_trace
from .attention import record_self_attention

DEFAULT_LR = 0.05         # lowers the loss of the notes' example (with and without PE, causal,
                          # unscaled) and of 226 of 232 runs on random-tenths weights, d_model 4-8


ROUNDING_ULPS = 64       # a drop smaller than this many float64 spacings of L is within the
                         # rounding of the forward pass: whether L goes down is chance
ADVICE_TRIES = 30        # rates tried below a --lr that did not lower the loss (1-2-5 steps:
                         # 10 decades, so the smallest tried is lr/10^10 or so)


def _smaller_rates(lr: float, tries: int = ADVICE_TRIES):
    """The round rates below ``lr`` in 1-2-5 steps (50 -> 20, 10, 5, 2, 1, 0.5, ...)."""
    exponent = np.floor(np.log10(lr))
    found = 0
    while found < tries:
        for mantissa in (5.0, 2.0, 1.0):
            rate = float(f"{mantissa * 10.0 ** exponent:.12g}")
            if rate < lr and found < tries:
                found += 1
                yield rate
        exponent -= 1


def checked_rate(inputs, target, w_q, w_k, w_v, grads, loss: float, lr: float, *, mask,
                 scale) -> tuple[float | None, list[float]]:
    """A learning rate smaller than ``lr`` that this step has been checked to lower the loss
    with: the round rates below ``lr`` in 1-2-5 steps (:func:`_smaller_rates`, at most
    ADVICE_TRIES), each run through the same step and forward pass, the first whose loss is
    below ``loss``. Returns (that rate or None, the rates tried in order)."""
    tried = []
    for rate in _smaller_rates(lr):
        tried.append(rate)
        new = gradient_descent_step({"w_q": w_q, "w_k": w_k, "w_v": w_v}, grads, rate)
        with np.errstate(over="ignore", invalid="ignore"):
            out, _ = attention_head(inputs, inputs, new["w_q"], new["w_k"], new["w_v"], mask,
                                    scale=scale)                       # [n, d_v]
            new_loss = squared_error(out, target)
        if np.isfinite(new_loss) and new_loss < loss:
            return rate, tried
    return None, tried


def default_target(inputs, d_v: int, posenc: str = "none"):
    """The target when none is given: the head's own input (X, or X + PE) when Z has its
    shape, "each token should come out as the vector it went in as"; else zeros [n, d_v].
    Returns (T, what it is: "X", "X + PE" or "zeros"); ``info["target_kind"]`` says
    "X (the default)" and so on."""
    if inputs.shape[1] == d_v:
        return inputs, "X + PE" if posenc == "sinusoidal" else "X"
    return np.zeros((inputs.shape[0], d_v), dtype=inputs.dtype), "zeros"  # [n, d_v]


def backpropagation(tokens: list[str], x, w_q, w_k, w_v, target=None, *, lr: float = DEFAULT_LR,
                    causal: bool = False, scaled: bool = True, posenc: str = "none",
                    sources: list[str] | None = None, weight_kinds: dict[str, str] | None = None,
                    target_kind: str | None = None) -> Recording:
    """One head's forward pass, the loss L = ½‖Z − T‖², every gradient back to Wq, Wk, Wv and
    X, and one gradient-descent step W ← W − lr·dL/dW with the new loss.

    X [n, d_model], Wq/Wk [d_model, d_k], Wv [d_model, d_v], ``target`` T [n, d_v] or None
    (then the head's input, :func:`default_target`). Records what :func:`record_self_attention` records, then
    ``target``, ``error`` and ``loss`` (:func:`tutor.nn.loss.squared_error`), the head's
    gradients (``out.grad`` ... ``x.grad``, :func:`tutor.nn.backward.attention_head_backward`),
    and under ``step.``: ``sq_norm``, ``predicted_decrease``, the new ``w_q``, ``w_k``,
    ``w_v``, the head's forward pass with them and its ``error`` and ``loss``. ``info`` says
    what the target is, the rate, whether the step lowered the loss, and ``below_rounding``:
    whether its first-order drop lr·‖g‖² is under ROUNDING_ULPS float64 spacings of L (too
    small for float64 to show, so the outcome is rounding); when it did not lower it and the
    step was not below rounding,
    ``advised_lr`` is a smaller rate checked to lower it (or None) and ``rates_tried`` the
    rates tried (:func:`checked_rate`). Raises ShapeError
    when T does not have Z's shape. Rumelhart, Hinton & Williams 1986; Vaswani et al. 2017,
    section 3.2.1.
    """
    trace = new_trace()
    out, _ = record_self_attention(x, w_q, w_k, w_v, causal=causal, scaled=scaled,
                                   posenc=posenc, trace=trace)       # [n, d_v]
    inputs = trace["input.out"] if posenc == "sinusoidal" else trace["x"]  # [n, d_model], the head's input
    if target is None:
        target, described = default_target(inputs, out.shape[1], posenc)
        target_kind = target_kind or f"{described} (the default)"
    trace.record("target", target)
    loss = squared_error(out, target, trace=trace)
    scale = None if scaled else 1.0
    _, _, grads = attention_head_backward(trace, inputs, inputs, w_q, w_k, w_v,
                                          squared_error_backward(trace), scale=scale,
                                          trace=trace)
    step = trace.scope("step")
    new = gradient_descent_step({"w_q": w_q, "w_k": w_k, "w_v": w_v}, grads, lr, trace=step)
    for name, value in new.items():
        step.record(name, value)
    mask = causal_mask(len(tokens)) if causal else None                # [n, n], True = hidden
    new_out, _ = attention_head(inputs, inputs, new["w_q"], new["w_k"], new["w_v"], mask,
                                scale=scale, trace=step)               # [n, d_v]
    new_loss = squared_error(new_out, target, trace=step)
    lowered = bool(new_loss < loss)
    # a step whose first-order drop lr·‖g‖² is within float64's rounding of L cannot be seen:
    # too small, not too large (then no smaller rate is worth trying)
    below_rounding = bool(float(trace["step.predicted_decrease"])
                          < ROUNDING_ULPS * np.spacing(abs(float(loss))))
    advice, tried = (None, [])
    if not lowered and not below_rounding and float(trace["step.sq_norm"]) > 0:
        advice, tried = checked_rate(inputs, target, w_q, w_k, w_v, grads, float(loss), lr,
                                     mask=mask, scale=scale)
    info = {"heads": 1, "causal": causal, "scaled": scaled, "posenc": posenc,
            "sources": sources or ["derived"] * len(tokens), "weight_kinds": weight_kinds or {},
            "lr": float(lr), "target_kind": target_kind or "given",
            "lowered": lowered, "advised_lr": advice, "rates_tried": tried,
            "below_rounding": below_rounding}
    return Recording(trace, (loss, new_loss), list(tokens), info,
                     walkthrough="backward.backpropagation")
