"""Backpropagation through one attention head (tutor.nn.backward.attention_head_backward, the
squared-error loss, gradient descent, and the walkthrough behind `tutor backward`): every
recorded gradient against central finite differences of the loss and against the closed
forms (dL/dZ = Z − T, the softmax's Jacobian), and the step lowering the loss."""

import numpy as np
import pytest

from tutor.errors import ParameterError, ShapeError, TutorError
from tutor.nn import backward as bw
from tutor.nn.attention import attention_head
from tutor.nn.functional import softmax
from tutor.nn.loss import squared_error, squared_error_backward
from tutor.nn.masks import causal_mask
from tutor.nn.optim import gradient_descent_step
from tutor.nn.posenc import sinusoidal_encoding
from tutor.trace import Trace
from tutor.walkthroughs.backward import DEFAULT_LR, backpropagation

from test_nn_backward import assert_fd

X = np.array([[1.0, 0, 1, 0], [0, 1, 0, 1], [1, 1, 1, 1]])              # THE, CAT, SAT
EYE = np.eye(4)
TOKENS = ["the", "cat", "sat"]


@pytest.fixture
def rng():
    return np.random.default_rng(2026)


def head_loss(x_q, x_kv, w_q, w_k, w_v, target, mask=None, scale=None):
    out, _ = attention_head(x_q, x_kv, w_q, w_k, w_v, mask, scale=scale)
    return float(squared_error(out, target))


# --- the math layer -------------------------------------------------------------------------

def test_squared_error_and_its_gradient_closed_form(rng):
    out, target = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    trace = Trace()
    loss = squared_error(out, target, trace=trace)
    assert loss.shape == () and loss.dtype == np.float64
    assert float(loss) == pytest.approx(0.5 * np.sum((out - target) ** 2), rel=1e-15)
    np.testing.assert_array_equal(squared_error_backward(trace), out - target)
    assert_fd(lambda: float(squared_error(out, target)), out, out - target)
    with pytest.raises(ShapeError, match=r"target must have the output's shape \(3, 2\), got \(2, 3\)"):
        squared_error(out, target.T)


def test_squared_error_keeps_float32():
    out = np.ones((2, 2), np.float32)
    assert squared_error(out, np.zeros((2, 2), np.float32)).dtype == np.float32


@pytest.mark.parametrize("causal, scale", [(False, None), (True, None), (False, 1.0), (True, 0.3)])
def test_attention_head_backward_self_attention_against_finite_differences(rng, causal, scale):
    n, d_model, d_k, d_v = 4, 5, 3, 2
    x = rng.standard_normal((n, d_model))
    w_q, w_k = rng.standard_normal((d_model, d_k)), rng.standard_normal((d_model, d_k))
    w_v, target = rng.standard_normal((d_model, d_v)), rng.standard_normal((n, d_v))
    mask = causal_mask(n) if causal else None
    trace = Trace()
    out, _ = attention_head(x, x, w_q, w_k, w_v, mask, scale=scale, trace=trace)
    grad_x, grad_kv, grads = bw.attention_head_backward(trace, x, x, w_q, w_k, w_v,
                                                       out - target, scale=scale, trace=trace)
    assert grad_kv is None
    loss = lambda: head_loss(x, x, w_q, w_k, w_v, target, mask, scale)  # noqa: E731
    for array, grad in ((w_q, grads["w_q"]), (w_k, grads["w_k"]), (w_v, grads["w_v"]), (x, grad_x)):
        assert_fd(loss, array, grad)
    np.testing.assert_array_equal(trace["x.grad"], grad_x)
    np.testing.assert_allclose(trace["x.grad.via_q"] + trace["x.grad.via_k"] + trace["x.grad.via_v"],
                               grad_x, rtol=1e-15, atol=1e-15)
    for name in ("w_q", "w_k", "w_v"):
        np.testing.assert_array_equal(trace[f"{name}.grad"], grads[name])


def test_attention_head_backward_cross_attention(rng):
    x_q, x_kv = rng.standard_normal((2, 4)), rng.standard_normal((3, 4))
    w_q, w_k, w_v = (rng.standard_normal((4, 3)) for _ in range(3))
    target = rng.standard_normal((2, 3))
    trace = Trace()
    out, _ = attention_head(x_q, x_kv, w_q, w_k, w_v, trace=trace)
    grad_q, grad_kv, grads = bw.attention_head_backward(trace, x_q, x_kv, w_q, w_k, w_v,
                                                       out - target, trace=trace)
    loss = lambda: head_loss(x_q, x_kv, w_q, w_k, w_v, target)        # noqa: E731
    for array, grad in ((x_q, grad_q), (x_kv, grad_kv), (w_k, grads["w_k"])):
        assert_fd(loss, array, grad)
    assert "x_q.grad" in trace and "x_kv.grad" in trace and "x.grad" not in trace


def test_softmax_backward_records_the_weighted_mean(rng):
    p, g = softmax(rng.standard_normal((3, 4))), rng.standard_normal((3, 4))
    trace = Trace()
    grad = bw.softmax_backward(p, g, trace=trace)
    np.testing.assert_allclose(trace["grad_mean"][:, 0], np.einsum("ij,ij->i", p, g), rtol=1e-14)
    np.testing.assert_allclose(grad, p * (g - trace["grad_mean"]), rtol=1e-15)


def test_gradient_descent_step(rng):
    params = {"a": rng.standard_normal((2, 3)), "b": rng.standard_normal(4)}
    grads = {"a": rng.standard_normal((2, 3)), "b": rng.standard_normal(4)}
    before = {k: v.copy() for k, v in params.items()}
    trace = Trace()
    new = gradient_descent_step(params, grads, 0.25, trace=trace)
    for name in params:
        np.testing.assert_array_equal(new[name], before[name] - 0.25 * grads[name])
        np.testing.assert_array_equal(params[name], before[name])        # not in place
    sq = np.sum(grads["a"] ** 2) + np.sum(grads["b"] ** 2)
    assert float(trace["sq_norm"]) == pytest.approx(sq, rel=1e-15)
    assert float(trace["predicted_decrease"]) == pytest.approx(0.25 * sq, rel=1e-15)
    with pytest.raises(TutorError, match="lr must be a positive finite number, got 0"):
        gradient_descent_step(params, grads, 0)
    with pytest.raises(ParameterError, match="grads has no entry for parameter 'b'"):
        gradient_descent_step(params, {"a": grads["a"]}, 0.1)


# --- the walkthrough: every recorded gradient is the loss's derivative ----------------------

RUNS = [dict(), dict(causal=True), dict(scaled=False), dict(posenc="sinusoidal"),
        dict(causal=True, scaled=False, posenc="sinusoidal")]


def _weights(rng):
    return [rng.integers(-10, 11, (4, 4)) / 10.0 for _ in range(3)]


@pytest.mark.parametrize("options", RUNS, ids=lambda o: ",".join(o) or "default")
def test_every_recorded_gradient_is_the_derivative_of_the_loss(rng, options):
    w_q, w_k, w_v = _weights(rng)
    target = rng.integers(-10, 11, (3, 4)) / 10.0
    rec = backpropagation(TOKENS, X.copy(), w_q, w_k, w_v, target, **options)
    t = rec.trace
    scale = 0.5 if options.get("scaled", True) else 1.0                  # 1/sqrt(4)
    mask = causal_mask(3) if options.get("causal") else None
    inputs = t["input.out"] if options.get("posenc") else t["x"]
    additive = 0.0 if mask is None else np.where(mask, -np.inf, 0.0)
    q, k, v = (np.array(t[n]) for n in ("q", "k", "v"))
    weights, scaled, scores = (np.array(t[n]) for n in ("weights", "scaled", "scores"))

    def loss_of(out):
        return 0.5 * np.sum((out - target) ** 2)

    def from_scaled():
        return loss_of(softmax(scaled + additive) @ v)

    checks = {
        "out.grad": (lambda: loss_of(out), out := np.array(t["out"])),
        "weights.grad": (lambda: loss_of(weights @ v), weights),
        "scaled.grad": (from_scaled, scaled),
        "scores.grad": (lambda: loss_of(softmax(scores * scale + additive) @ v), scores),
        "q.grad": (lambda: loss_of(softmax(q @ k.T * scale + additive) @ v), q),
        "k.grad": (lambda: loss_of(softmax(q @ k.T * scale + additive) @ v), k),
        "v.grad": (lambda: loss_of(softmax(q @ k.T * scale + additive) @ v), v),
    }
    if mask is not None:
        checks["masked.grad"] = (from_scaled, scaled)
    for name, (loss, array) in checks.items():
        assert_fd(loss, array, t[name], tol=1e-7)
    x_in = np.array(inputs)
    params = {"w_q": np.array(t["w_q"]), "w_k": np.array(t["w_k"]), "w_v": np.array(t["w_v"])}
    loss = lambda: head_loss(x_in, x_in, params["w_q"], params["w_k"], params["w_v"], target,  # noqa: E731
                             mask, None if options.get("scaled", True) else 1.0)
    for name, array in params.items():
        assert_fd(loss, array, t[f"{name}.grad"], tol=1e-7)
    assert_fd(loss, x_in, t["x.grad"], tol=1e-7)
    assert float(t["loss"]) == pytest.approx(loss(), rel=1e-14)


def test_closed_forms_of_the_walkthrough():
    rec = backpropagation(TOKENS, X, EYE, EYE, EYE)
    t = rec.trace
    np.testing.assert_array_equal(t["target"], X)                       # the stated default
    np.testing.assert_array_equal(t["out.grad"], t["out"] - X)          # dL/dZ = Z − T
    assert float(t["loss"]) == pytest.approx(0.5 * np.sum((t["out"] - X) ** 2), rel=1e-15)
    np.testing.assert_allclose(t["weights.grad"], t["out.grad"] @ t["v"].T, rtol=1e-15)
    np.testing.assert_allclose(t["v.grad"], t["weights"].T @ t["out.grad"], rtol=1e-15)
    for r in range(3):                                                   # the softmax's Jacobian
        p = t["weights"][r]
        jacobian = np.diag(p) - np.outer(p, p)                           # dp_i/dx_j
        np.testing.assert_allclose(t["scaled.grad"][r], jacobian.T @ t["weights.grad"][r],
                                   atol=1e-15)
    np.testing.assert_allclose(t["scaled.grad"].sum(axis=1), 0, atol=1e-15)
    np.testing.assert_allclose(t["scores.grad"], t["scaled.grad"] / 2, rtol=1e-15)  # ÷ √4
    np.testing.assert_allclose(t["q.grad"], t["scores.grad"] @ t["k"], rtol=1e-15)
    np.testing.assert_allclose(t["k.grad"], t["scores.grad"].T @ t["q"], rtol=1e-15)
    np.testing.assert_allclose(t["w_q.grad"], X.T @ t["q.grad"], rtol=1e-15)
    np.testing.assert_allclose(t["x.grad"], t["q.grad"] + t["k.grad"] + t["v.grad"], rtol=1e-14)  # W = I


def test_causal_mask_gives_masked_keys_no_gradient():
    t = backpropagation(TOKENS, X, EYE, EYE, EYE, causal=True).trace
    hidden = np.triu(np.ones((3, 3), bool), 1)
    assert np.all(t["scaled.grad"][hidden] == 0) and np.all(t["scores.grad"][hidden] == 0)
    np.testing.assert_array_equal(t["masked.grad"], t["scaled.grad"])


@pytest.mark.parametrize("options", RUNS, ids=lambda o: ",".join(o) or "default")
def test_one_small_step_lowers_the_loss(rng, options):
    w_q, w_k, w_v = _weights(rng)
    rec = backpropagation(TOKENS, X, w_q, w_k, w_v, lr=1e-3, **options)
    t = rec.trace
    assert float(t["step.loss"]) < float(t["loss"]) and rec.info["lowered"]
    for name in ("w_q", "w_k", "w_v"):
        np.testing.assert_array_equal(t[f"step.{name}"], t[name] - 1e-3 * t[f"{name}.grad"])
    drop = float(t["loss"]) - float(t["step.loss"])                     # first order: lr‖g‖²
    assert drop == pytest.approx(float(t["step.predicted_decrease"]), rel=0.05)


def test_the_default_rate_lowers_the_notes_example_and_a_large_one_is_reported():
    for options in RUNS:
        assert backpropagation(TOKENS, X, EYE, EYE, EYE, lr=DEFAULT_LR, **options).info["lowered"]
    rec = backpropagation(TOKENS, X, EYE, EYE, EYE, lr=2.0)
    assert not rec.info["lowered"] and float(rec.trace["step.loss"]) > float(rec.trace["loss"])


def test_default_target_follows_positional_encoding_and_width():
    t = backpropagation(TOKENS, X, EYE, EYE, EYE, posenc="sinusoidal").trace
    np.testing.assert_allclose(t["target"], X + sinusoidal_encoding(3, 4), rtol=1e-15)
    rec = backpropagation(TOKENS, X, EYE, EYE, np.eye(4, 2))
    np.testing.assert_array_equal(rec.trace["target"], np.zeros((3, 2)))
    assert rec.info["target_kind"] == "zeros (the default)"
    with pytest.raises(ShapeError, match=r"target must have the output's shape \(3, 4\), got \(1, 2\)"):
        backpropagation(TOKENS, X, EYE, EYE, EYE, np.array([[1.0, 2.0]]))


def test_recording_changes_nothing_and_float32_stays_float32(rng):
    for dtype in (np.float64, np.float32):
        x = rng.standard_normal((3, 4)).astype(dtype)
        w_q, w_k, w_v = (rng.standard_normal((4, 2)).astype(dtype) for _ in range(3))
        fwd = Trace()
        out, _ = attention_head(x, x, w_q, w_k, w_v, trace=fwd)
        grad_out = np.ones_like(out)
        quiet = bw.attention_head_backward(fwd, x, x, w_q, w_k, w_v, grad_out)
        loud = bw.attention_head_backward(fwd, x, x, w_q, w_k, w_v, grad_out, trace=Trace())
        np.testing.assert_array_equal(quiet[0], loud[0])
        for name in ("w_q", "w_k", "w_v"):
            np.testing.assert_array_equal(quiet[2][name], loud[2][name])
            assert quiet[2][name].dtype == dtype
        assert quiet[0].dtype == dtype
        new = gradient_descent_step({"w": w_q}, {"w": quiet[2]["w_q"]}, 0.1)
        assert new["w"].dtype == dtype
