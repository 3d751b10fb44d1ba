"""Element-wise and per-row building blocks: erf, activations, softmax, linear, norms, feed-forward.

Pure NumPy. Dimension names used in shape comments throughout ``tutor.nn``:
``batch`` (B), ``n_q`` / ``n_k`` (query and key positions, L and S), ``d_model`` (E),
``n_head`` (H), ``d_head`` (E / H), ``d_ff`` (F), ``n_vocab`` (V).
Every function keeps the dtype of its input: float32 in, float32 out.
"""

from __future__ import annotations

import numpy as np

from ..trace import NULL_TRACE

# W. J. Cody's rational approximations of erf/erfc ("Rational Chebyshev approximations for
# the error function", Math. Comp. 1969), as in his CALERF routine; about 1e-16 relative error.
_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)
_ERFC_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
           2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
           2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_ERFC_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
           1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
           3.43936767414372164e03, 1.23033935480374942e03)
_ERFC_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
           1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_ERFC_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
           6.05183413124413191e-2, 2.33520497626869185e-3)
_INV_SQRT_PI = 5.6418958354775628695e-1


def _erf_small(x):
    """erf(x) for |x| <= 0.5: x * P(x^2) / Q(x^2)."""
    ysq = x * x
    num, den = _ERF_A[4] * ysq, ysq
    for i in range(3):
        num, den = (num + _ERF_A[i]) * ysq, (den + _ERF_B[i]) * ysq
    return x * (num + _ERF_A[3]) / (den + _ERF_B[3])


def _erfc_large(y):
    """erfc(y) for y > 0.5: exp(-y^2) * R(y), with R rational in y (y <= 4) or in 1/y^2."""
    mid = y <= 4.0
    ym = np.where(mid, y, 1.0)
    num, den = _ERFC_C[8] * ym, ym
    for i in range(7):
        num, den = (num + _ERFC_C[i]) * ym, (den + _ERFC_D[i]) * ym
    r_mid = (num + _ERFC_C[7]) / (den + _ERFC_D[7])
    yt = np.where(mid, 5.0, y)
    inv = 1.0 / (yt * yt)
    num, den = _ERFC_P[5] * inv, inv
    for i in range(4):
        num, den = (num + _ERFC_P[i]) * inv, (den + _ERFC_Q[i]) * inv
    r_tail = (_INV_SQRT_PI - inv * (num + _ERFC_P[4]) / (den + _ERFC_Q[4])) / yt
    # exp(-y^2) split as exp(-ys^2) * exp(-(y-ys)(y+ys)) with ys = y rounded to 1/16, for accuracy.
    ys = np.trunc(y * 16.0) / 16.0
    return np.exp(-ys * ys) * np.exp(-(y - ys) * (y + ys)) * np.where(mid, r_mid, r_tail)


# The rational approximation erf(x) ~ x P(x^2) / Q(x^2) on [-4, 4] (outside it erf is +-1 to
# float32 precision) that Eigen and XLA use for float32 erf; evaluated here in float64, its
# error is below 7e-8, so the float32 result is within about one float32 step of erf.
_ERF_FAST_P = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
               -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
               -1.60960333262415e-02)
_ERF_FAST_Q = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
               -7.37332916720468e-03, -1.42647390514189e-02)


# Elements of float32 erf evaluated at a time: the four float64 temporaries of a block
# (4 x 128 KB) stay in the L2 cache instead of making ~25 passes over main memory.
_ERF_BLOCK = 16_384


def _erf_float32_block(x, out, clipped, x2, num, den):
    """The rational approximation for one block: ``x`` float32 in, ``out`` float32 written;
    ``clipped``, ``x2``, ``num``, ``den`` are float64 scratch buffers of the same size."""
    np.clip(x, -4.0, 4.0, out=clipped)                                 # [n], float64 inside
    np.multiply(clipped, clipped, out=x2)
    np.multiply(x2, _ERF_FAST_P[0], out=num)
    num += _ERF_FAST_P[1]
    for c in _ERF_FAST_P[2:]:
        num *= x2
        num += c
    np.multiply(x2, _ERF_FAST_Q[0], out=den)
    den += _ERF_FAST_Q[1]
    for c in _ERF_FAST_Q[2:]:
        den *= x2
        den += c
    num *= clipped
    np.divide(num, den, out=out, casting="same_kind")                  # [n], rounded to float32 once


def _erf_float32(x, out=None):
    """erf for float32 arrays: the rational approximation above (8x fewer passes than Cody's),
    block by block. ``out`` (float32, x's shape) receives the result and may be ``x``."""
    x = np.asarray(x)
    flat = np.ascontiguousarray(x).reshape(-1)                         # [n], a view when contiguous
    if out is not None and not out.flags.c_contiguous:                 # write where it can, then copy
        out[...] = _erf_float32(flat).reshape(x.shape)
        return out
    if out is None:
        if x.ndim == 0:                                                # a scalar for a scalar
            return _erf_float32(flat)[0]
        out = np.empty(x.shape, dtype=np.float32)                      # [...], float32
    result = out.reshape(-1)                                           # [n], a view of out
    block = max(1, min(_ERF_BLOCK, flat.size))
    scratch = [np.empty(block) for _ in range(4)]                      # 4 x [block], float64
    for start in range(0, flat.size, block):
        stop = min(start + block, flat.size)
        part = [buf[:stop - start] for buf in scratch]
        _erf_float32_block(flat[start:stop], result[start:stop], *part)
    return out


def erf(x, *, out=None):
    """The error function erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt, element-wise.

    float64 (and other) input: Cody's rational approximations, about 1e-16 relative error.
    float32 input: a cheaper rational approximation accurate to float32 precision (|error|
    < 7e-8, computed in float64 and returned as float32), as float32 libraries do.
    ``out`` (an array of x's shape and dtype; it may be ``x`` itself) receives the result.
    """
    x = np.asarray(x)
    if x.dtype == np.float32:
        return _erf_float32(x, out)
    y = np.abs(x)
    small = y <= 0.5
    erfc_y = _erfc_large(np.where(small, 1.0, y))
    result = np.where(small, _erf_small(np.where(small, x, 0.0)), np.copysign(1.0 - erfc_y, x))
    if out is None:
        return result
    out[...] = result
    return out


def relu(x, *, out=None):
    """relu(x) = max(x, 0)."""
    return np.maximum(x, 0, out=out)


def gelu(x, approximate: str = "none"):
    """GELU, as ``torch.nn.functional.gelu(x, approximate=...)`` computes it.

    ``approximate="none"``: gelu(x) = x * Phi(x) = x/2 * (1 + erf(x / sqrt 2)) (exact).
    ``approximate="tanh"``: x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))), the form of
    Hendrycks & Gimpel (2016) that GPT-2 and BERT's original code use ("gelu_new" in
    Hugging Face ``transformers``). Raises ValueError for any other ``approximate``.
    """
    # One new array, then in place: (1 + f) * x * 0.5 rounds exactly as 0.5 * x * (1 + f)
    # (halving is exact), so the result is the formula's to the bit.
    if approximate == "none":
        out = np.asarray(np.multiply(x, 0.7071067811865476, order="C"))  # [...], x / sqrt 2
        erf(out, out=out)                                              # erf(x / sqrt 2)
    elif approximate == "tanh":
        out = np.asarray(np.multiply(x, 0.044715, order="C"))          # [...]
        out *= x
        out *= x                                                       # 0.044715 x^3
        out += x
        out *= 0.7978845608028654                                      # sqrt(2/pi) (x + 0.044715 x^3)
        np.tanh(out, out=out)
    else:
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    out += 1.0
    out *= x
    out *= 0.5                                                         # x/2 (1 + f)
    return out if out.ndim else out[()]                                # a scalar for a scalar


def gelu_tanh(x):
    """gelu(x, approximate="tanh"): GPT-2's activation ("gelu_new")."""
    return gelu(x, "tanh")


ACTIVATIONS = {"relu": relu, "gelu": gelu, "gelu_tanh": gelu_tanh}


def softmax(x, axis: int = -1, *, overwrite: bool = False, trace=NULL_TRACE):
    """softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x).

    Subtracting the row maximum changes nothing mathematically and keeps exp() from
    overflowing. A row whose entries are all -inf (every key masked) gives zeros rather than
    NaN; ``torch.softmax`` gives NaN there (PyTorch's attention in the Transformer layers
    gives zeros, as here). ``overwrite=True`` lets the fast path reuse ``x``'s memory
    for the result (the caller's array is then destroyed; ignored while recording).
    """
    x = np.asarray(x)
    in_place = not trace.enabled                                       # reuse buffers the trace does not hold
    # fmax skips NaN checks (faster than max); a row holding NaN comes out all NaN either way
    row_max = np.fmax.reduce(x, axis=axis, keepdims=True)              # [..., 1]
    # all -inf: shift by the lowest finite number instead (x - it stays -inf, exp gives 0);
    # every other row keeps its maximum. No boolean indexing: this runs per decoding step.
    np.maximum(row_max, np.finfo(x.dtype).min, out=row_max)
    with np.errstate(over="ignore"):                                   # -3e38 - 3e38 = -inf: exp gives 0
        shifted = np.subtract(x, row_max, out=x if overwrite and in_place else None)  # [..., n], <= 0
    exp = np.exp(shifted, out=shifted if in_place else None)    # [..., n], in [0, 1]
    total = np.add.reduce(exp, axis=axis, keepdims=True)               # [..., 1]
    # a row's maximum gives exp(0) = 1, so a sum is >= 1 unless every key is masked (0):
    np.maximum(total, 1, out=total)                                    # all masked: 0 / 1 = 0
    out = np.divide(exp, total, out=exp if in_place else None)  # [..., n]
    if trace.enabled:
        trace.record("shifted", shifted)
        trace.record("exp", exp)
        trace.record("sum", total)
        trace.record("out", out)
    return out


def linear(x, weight, bias=None):
    """linear(x) = x W^T + b, PyTorch's nn.Linear convention (weight is [out, in])."""
    rows = x.reshape(-1, x.shape[-1])                                  # [..., in] -> [rows, in]: one GEMM
    out = rows @ weight.T                                              # [rows, in] -> [rows, out]
    if bias is not None:
        out += bias
    return out.reshape(*x.shape[:-1], weight.shape[0])                 # [..., out]


def _normalize(x, axes, weight, bias, eps, trace):
    """(x - mean) / sqrt(var + eps) * gamma + beta, statistics over ``axes``, biased variance."""
    mean = np.mean(x, axis=axes, keepdims=True)                        # reduced axes kept as 1
    centered = x - mean                                                # [..., d]
    var = np.mean(np.square(centered), axis=axes, keepdims=True)       # biased: divides by n
    std = np.sqrt(var + eps)                                           # [..., 1]
    if eps == 0:                                                       # a constant row: 0 / 0;
        std[std == 0] = 1                                              # its limit as eps -> 0+ is 0
    if trace.enabled:
        normalized = centered / std                                    # [..., d]
        trace.record("mean", mean)
        trace.record("var", var)
        trace.record("normalized", normalized)
        out = normalized if weight is None else normalized * weight    # gamma: [d]
        out = out if bias is None else out + bias                      # beta: [d]
        trace.record("out", out)
        return out
    normalized = np.divide(centered, std, out=centered)                # the same, in place
    if weight is not None:
        normalized *= weight
    if bias is not None:
        normalized += bias
    return normalized


def layer_norm(x, weight=None, bias=None, eps: float = 1e-5, *, trace=NULL_TRACE):
    """y = (x - mean) / sqrt(var + eps) * gamma + beta over the last axis (each token on its
    own), biased variance, eps inside the square root, as ``torch.nn.LayerNorm``."""
    return _normalize(x, -1, weight, bias, eps, trace)


def batch_norm(x, weight=None, bias=None, eps: float = 1e-5, *, trace=NULL_TRACE):
    """y = (x - mean_batch) / sqrt(var_batch + eps) * gamma + beta, statistics over every axis
    but the last (each feature across the batch), as batch norm computes them in training."""
    return _normalize(x, tuple(range(np.ndim(x) - 1)), weight, bias, eps, trace)


def feed_forward(x, w1, b1, w2, b2, activation: str = "relu", *, trace=NULL_TRACE):
    """FFN(x) = act(x W1^T + b1) W2^T + b2, applied to every position on its own."""
    hidden = linear(x, w1, b1)                                         # [..., d_model] -> [..., d_ff]
    if activation == "relu" and not trace.enabled:
        activated = relu(hidden, out=hidden)                           # in place: hidden is not kept
    else:
        activated = ACTIVATIONS[activation](hidden)                    # [..., d_ff]
    out = linear(activated, w2, b2)                                    # [..., d_ff] -> [..., d_model]
    trace.record("hidden", hidden)
    trace.record("activated", activated)
    trace.record("out", out)
    return out


def cosine_similarity(a, b, *, trace=NULL_TRACE):
    """cos(a, b) = a·b / (|a| |b|) along the last axis: 1 the same direction, 0 orthogonal,
    -1 opposite.

    ``a`` [..., d] and ``b`` [..., d] broadcast ([d] against [n, d] gives [n]). Returns a
    float for two vectors, else an array [...]. Records ``a``, ``b``, ``dot``, ``norm_a``,
    ``norm_b``, ``cosine``. Raises ShapeError for different widths and TutorError for a zero
    vector (it has no direction, so the cosine is undefined).
    """
    from ..errors import ShapeError, TutorError

    a, b = np.asarray(a), np.asarray(b)
    if a.shape[-1] != b.shape[-1]:
        raise ShapeError(f"a and b must have the same width, got shapes {list(a.shape)} "
                         f"and {list(b.shape)}")
    dot = np.sum(a * b, axis=-1)                                       # [...]
    norm_a = np.sqrt(np.sum(a * a, axis=-1))                           # [...]
    norm_b = np.sqrt(np.sum(b * b, axis=-1))                           # [...]
    for norm, name in ((norm_a, "a"), (norm_b, "b")):
        if np.any(norm == 0):
            raise TutorError(f"{name} is a zero vector: it has no direction, so its cosine "
                             f"similarity is undefined")
    cosine = dot / (norm_a * norm_b)                                   # [...], in [-1, 1]
    if trace.enabled:
        for name, value in (("a", a), ("b", b), ("dot", dot), ("norm_a", norm_a),
                            ("norm_b", norm_b), ("cosine", cosine)):
            trace.record(name, value)
    return float(cosine) if cosine.ndim == 0 else cosine
