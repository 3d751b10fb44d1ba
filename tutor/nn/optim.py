"""Adam and AdamW, step for step as ``torch.optim.Adam`` / ``torch.optim.AdamW``, and the
warm-up learning-rate schedule of "Attention Is All You Need" (section 5.3).

The optimizer updates the parameter arrays in place (a model's ``params`` dict), so the model
sees the new weights at once. Its state is plain arrays (:meth:`Adam.state_dict`), which a
checkpoint can save as .npz and load back to continue bit-identically.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

import numpy as np

from ..errors import ParameterError, TutorError
from ..trace import NULL_TRACE


class NoamSchedule:
    """lr(step) = factor * d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5).

    The rate grows linearly for the first ``warmup_steps`` steps, then decays as 1/sqrt(step)
    (Vaswani et al. 2017, eq. 3; the paper uses warmup_steps = 4000 and factor 1). Steps count
    from 1. Call it with a step number; pass it as ``lr`` to :class:`Adam`.

    Its largest rate, at step = warmup_steps, is ``peak`` = factor * (d_model * warmup_steps)^-0.5,
    and the schedule is computed from it as lr(step) = peak * min(step / warmup_steps,
    sqrt(warmup_steps / step)), the same function (for step <= warmup_steps both are
    factor * d_model^-0.5 * step * warmup_steps^-1.5, after it factor * d_model^-0.5 * step^-0.5).
    :meth:`with_peak` makes the schedule from its peak. Raises TutorError for d_model < 1,
    warmup_steps < 1, factor <= 0, and for a step < 1.
    """

    def __init__(self, d_model: int, warmup_steps: int = 4000, factor: float = 1.0):
        if d_model < 1 or warmup_steps < 1 or not factor > 0:
            raise TutorError(f"NoamSchedule needs d_model >= 1, warmup_steps >= 1 and factor > 0, "
                             f"got {d_model}, {warmup_steps}, {factor}")
        self.d_model, self.warmup_steps, self.factor = d_model, warmup_steps, factor
        self.peak = factor * (d_model * warmup_steps) ** -0.5            # lr(warmup_steps)

    @classmethod
    def with_peak(cls, peak: float, warmup_steps: int, d_model: int = 1) -> "NoamSchedule":
        """The schedule whose largest rate, at step = ``warmup_steps``, is ``peak``: factor =
        peak * sqrt(d_model * warmup_steps). ``d_model`` only changes ``factor`` (the rates do
        not depend on it). ``peak`` is kept as given, so lr(step) = peak * min(step /
        warmup_steps, sqrt(warmup_steps / step)) exactly as written (``tutor train``'s ``--lr``
        and ``--warmup``). Raises TutorError unless peak > 0 and warmup_steps >= 1."""
        if not peak > 0 or warmup_steps < 1:
            raise TutorError(f"NoamSchedule.with_peak needs peak > 0 and warmup_steps >= 1, "
                             f"got {peak}, {warmup_steps}")
        schedule = cls(d_model, warmup_steps, peak * math.sqrt(d_model * warmup_steps))
        schedule.peak = peak                                           # not rounded via factor
        return schedule

    def __call__(self, step: int) -> float:
        if step < 1:
            raise TutorError(f"the schedule's steps count from 1, got {step}")
        return self.peak * min(step / self.warmup_steps, math.sqrt(self.warmup_steps / step))

    def __repr__(self) -> str:
        return (f"NoamSchedule(d_model={self.d_model}, warmup_steps={self.warmup_steps}, "
                f"factor={self.factor})")



def check_grads(params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
    """Every parameter has a gradient of its own shape and dtype; else ParameterError naming it."""
    for name, p in params.items():
        g = grads.get(name)
        if g is None:
            raise ParameterError(f"grads has no entry for parameter {name!r}")
        if g.shape != p.shape or g.dtype != p.dtype:
            raise ParameterError(f"gradient {name!r} is {g.dtype}{list(g.shape)}, expected "
                                 f"{p.dtype}{list(p.shape)}")

def gradient_descent_step(params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray],
                          lr: float, *, trace=NULL_TRACE) -> dict[str, np.ndarray]:
    """One step of plain gradient descent, p_new = p - lr * dL/dp, for every parameter
    (``torch.optim.SGD`` without momentum or weight decay).

    Returns new arrays (the given ones are left as they are, so a recorded parameter stays
    what it was). Records ``sq_norm`` (0-d), the sum over every parameter of the squared
    gradient, and ``predicted_decrease`` = lr * sq_norm, the drop of the loss a first-order
    Taylor expansion predicts: L(p - lr g) ≈ L(p) - lr ‖g‖². Raises TutorError for a rate that
    is not a positive finite number and ParameterError for gradients that do not fit.
    """
    if not (np.isfinite(lr) and lr > 0):
        raise TutorError(f"lr must be a positive finite number, got {lr}")
    check_grads(params, grads)
    new, sq_norm = {}, 0.0
    for name, p in params.items():
        g = grads[name]
        new[name] = p - lr * g                                         # like p
        sq_norm = sq_norm + np.sum(g * g)                              # scalar of p's dtype
    if trace.enabled:
        dtype = next(iter(params.values())).dtype if params else np.float64
        trace.record("sq_norm", np.asarray(sq_norm, dtype=dtype))
        trace.record("predicted_decrease", np.asarray(lr * sq_norm, dtype=dtype))
    return new


class Adam:
    """Adam (Kingma & Ba 2015) exactly as ``torch.optim.Adam`` (single-tensor path) computes it.

    At step t, for each parameter p with gradient g (PyTorch's order of operations):

        g = g + weight_decay * p                  (L2 penalty; AdamW decays p instead)
        m = m + (1 - beta1) * (g - m)             v = beta2 * v + (1 - beta2) * g * g
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    ``params``: name -> array, updated in place (e.g. ``model.params``). ``lr``: a number, or
    a callable step -> rate such as :class:`NoamSchedule` (evaluated at t = 1, 2, ...).
    State: ``exp_avg`` (m) and ``exp_avg_sq`` (v) per parameter, in its dtype (float32 stays
    float32), and the step count. Raises TutorError for bad hyper-parameters and
    ParameterError for gradients that do not match the parameters.
    """

    decoupled = False

    def __init__(self, params: Mapping[str, np.ndarray], lr: float | Callable[[int], float] = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        if not callable(lr) and not lr >= 0:
            raise TutorError(f"lr must be >= 0 or a schedule, got {lr}")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise TutorError(f"betas must each be in [0, 1), got {betas}")
        if not eps >= 0 or not weight_decay >= 0:
            raise TutorError(f"eps and weight_decay must be >= 0, got {eps} and {weight_decay}")
        self.params = params
        self.lr, self.betas, self.eps, self.weight_decay = lr, tuple(betas), eps, weight_decay
        self.step_count = 0
        self.last_lr: float | None = None
        self.exp_avg = {name: np.zeros_like(p) for name, p in params.items()}
        self.exp_avg_sq = {name: np.zeros_like(p) for name, p in params.items()}

    def rate(self, step: int) -> float:
        """The learning rate used at ``step`` (from 1)."""
        return float(self.lr(step)) if callable(self.lr) else float(self.lr)

    def step(self, grads: Mapping[str, np.ndarray]) -> float:
        """One update of every parameter from ``grads`` (same names, shapes and dtypes).
        Returns the learning rate used."""
        check_grads(self.params, grads)
        self.step_count += 1
        t = self.step_count
        lr = self.rate(t)
        beta1, beta2 = self.betas
        step_size = lr / (1 - beta1 ** t)                              # Python floats, as PyTorch
        bias_correction2_sqrt = (1 - beta2 ** t) ** 0.5
        wd = self.weight_decay
        for name, p in self.params.items():
            g, m, v = grads[name], self.exp_avg[name], self.exp_avg_sq[name]
            if wd != 0:
                if self.decoupled:
                    p *= 1 - lr * wd                                   # AdamW: decay the weights
                else:
                    g = g + wd * p                                     # Adam: L2 in the gradient
            scratch = np.subtract(g, m)                                # g - m
            scratch *= 1 - beta1
            m += scratch                                               # m.lerp_(g, 1 - beta1)
            v *= beta2
            np.multiply(g, g, out=scratch)
            scratch *= 1 - beta2
            v += scratch                                               # v * beta2 + (1 - beta2) g^2
            denom = np.sqrt(v)
            denom /= bias_correction2_sqrt
            denom += self.eps
            np.divide(m, denom, out=scratch)
            scratch *= -step_size
            p += scratch                                               # p.addcdiv_(m, denom, -step_size)
        self.last_lr = lr
        return lr

    # -- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """The state as plain arrays: ``step`` (0-d int64), ``exp_avg.<name>``,
        ``exp_avg_sq.<name>`` (copies). ``numpy.savez(path, **opt.state_dict())`` saves it."""
        state = {"step": np.asarray(self.step_count, dtype=np.int64)}
        for name in self.params:
            state[f"exp_avg.{name}"] = self.exp_avg[name].copy()
            state[f"exp_avg_sq.{name}"] = self.exp_avg_sq[name].copy()
        return state

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore what :meth:`state_dict` gave (checked: names, shapes, dtypes, a step >= 0).
        Raises ParameterError naming the first entry that does not fit."""
        expected = {"step"} | {f"{kind}.{name}" for name in self.params
                               for kind in ("exp_avg", "exp_avg_sq")}
        missing = sorted(expected - set(state))
        extra = sorted(set(state) - expected)
        if missing or extra:
            what = f"missing {missing[0]!r}" if missing else f"unexpected {extra[0]!r}"
            raise ParameterError(f"optimizer state does not fit these parameters: {what}")
        step = np.asarray(state["step"])
        if step.shape != () or not np.issubdtype(step.dtype, np.integer) or step < 0:
            raise ParameterError(f"optimizer state 'step' must be a 0-d integer >= 0, got {step!r}")
        arrays = {}
        for key in expected - {"step"}:
            name = key.split(".", 1)[1]
            value, p = np.asarray(state[key]), self.params[name]
            if value.shape != p.shape or value.dtype != p.dtype:
                raise ParameterError(f"optimizer state {key!r} is {value.dtype}{list(value.shape)}, "
                                     f"expected {p.dtype}{list(p.shape)}")
            arrays[key] = value.copy()
        self.step_count = int(step)
        for name in self.params:
            self.exp_avg[name] = arrays[f"exp_avg.{name}"]
            self.exp_avg_sq[name] = arrays[f"exp_avg_sq.{name}"]
        self.last_lr = self.rate(self.step_count) if self.step_count else None


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter 2019) as ``torch.optim.AdamW``: the weights decay on their
    own, p = p * (1 - lr * weight_decay), before the Adam update (which then sees the plain
    gradient). Default weight_decay 0.01, as PyTorch. Otherwise as :class:`Adam`."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas, eps, weight_decay)
