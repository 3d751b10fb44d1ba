"""Backward passes (reverse-mode gradients) of every block, reading what the forward recorded.

The forward pass is never written twice: :func:`transformer_forward_and_grads` and
:func:`seq2seq_loss_and_grads` run the ordinary forward functions with a recording
:class:`~tutor.trace.Trace`, and each ``*_backward`` function here reads the intermediates it
needs (``weights``, ``normalized``, ``hidden``...) from that record by their recorded names.
Given dL/d(output) it returns dL/d(inputs) and dL/d(parameters): the chain rule, block by block,
in the reverse order of the forward pass.

Each backward takes ``fwd`` (the recorded forward, scoped like the forward's ``trace``) and a
keyword-only ``trace``: a recording trace gets every gradient under the forward's name plus
``.grad`` (``self_attn.weights.grad``, ``norm1.out.grad``...); the default records nothing.
Parameter gradients go into a ``grads`` dict under the parameters' full names.
Shapes use the names of :mod:`tutor.nn.functional`; every array keeps the input's dtype.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError, TutorError
from ..trace import NULL_TRACE, Trace
from .attention import split_heads
from .functional import erf

_SQRT_HALF = 0.7071067811865476                                        # 1 / sqrt(2)
_INV_SQRT_2PI = 0.3989422804014327                                     # 1 / sqrt(2 pi)
_SQRT_2_OVER_PI = 0.7978845608028654                                   # sqrt(2 / pi)


# --------------------------------------------------------------------------- element-wise blocks

def linear_backward(x, weight, grad_out, *, bias: bool = True):
    """Backward of y = x W^T + b (``functional.linear``).

    dL/dx = dL/dy W, dL/dW = (dL/dy)^T x summed over rows, dL/db = dL/dy summed over rows.
    x [..., in], weight [out, in], grad_out [..., out]. Returns (grad_x [..., in],
    grad_weight [out, in], grad_bias [out] or None when ``bias`` is False).
    """
    rows = x.reshape(-1, x.shape[-1])                                  # [..., in] -> [rows, in]
    grad_rows = grad_out.reshape(-1, grad_out.shape[-1])               # [..., out] -> [rows, out]
    grad_weight = grad_rows.T @ rows                                   # [out, rows] @ [rows, in] -> [out, in]
    grad_bias = grad_rows.sum(axis=0) if bias else None                # [out]
    grad_x = (grad_rows @ weight).reshape(x.shape)                     # [rows, out] @ [out, in] -> [..., in]
    return grad_x, grad_weight, grad_bias


def softmax_backward(probs, grad_probs, *, trace=NULL_TRACE):
    """Row-wise Jacobian-vector product of p = softmax(x): dL/dx = p * (g - sum_j g_j p_j).

    (The Jacobian dp_i/dx_j = p_i (delta_ij - p_j), multiplied by g without forming it.)
    probs, grad_probs [..., n] -> grad_x [..., n]. A row of zeros (every key masked) gets
    a zero gradient, and so does every masked entry (p = 0 there). Records ``grad_mean``
    [..., 1], sum_j g_j p_j: the row's gradient averaged with the probabilities.
    """
    dot = np.sum(grad_probs * probs, axis=-1, keepdims=True)           # [..., 1]
    trace.record("grad_mean", dot)
    return probs * (grad_probs - dot)                                  # [..., n]


def relu_backward(hidden, grad_out):
    """d relu(x)/dx = 1 where x > 0, else 0 (0 at x = 0, as PyTorch)."""
    return grad_out * (hidden > 0)                                     # [..., d_ff]


def gelu_backward(hidden, grad_out, approximate: str = "none"):
    """Derivative of ``functional.gelu``, as PyTorch's ``gelu_backward``.

    exact: d/dx x Phi(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi).
    tanh: with u = sqrt(2/pi) (x + 0.044715 x^3) and t = tanh(u):
    0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2).
    """
    x = hidden
    if approximate == "none":
        cdf = 0.5 * (1.0 + erf(x * _SQRT_HALF))                        # Phi(x)
        pdf = _INV_SQRT_2PI * np.exp(-0.5 * x * x)                     # phi(x)
        return grad_out * (cdf + x * pdf)                              # [..., d_ff]
    if approximate == "tanh":
        x_sq = x * x
        t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x_sq * x))       # tanh(u)
        du = _SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * x_sq)           # du/dx
        return grad_out * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du)
    raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")


ACTIVATION_BACKWARD = {
    "relu": relu_backward,
    "gelu": lambda h, g: gelu_backward(h, g, "none"),
    "gelu_tanh": lambda h, g: gelu_backward(h, g, "tanh"),
}


def layer_norm_backward(fwd, weight, eps, grad_out, *, trace=NULL_TRACE):
    """Backward of ``functional.layer_norm`` (torch.nn.LayerNorm), from its recorded
    ``normalized`` n and ``var``: with s = sqrt(var + eps) and g' = dL/dy * gamma,

        dL/dx = (g' - mean(g') - n * mean(g' n)) / s,  dL/dgamma = sum dL/dy n,  dL/dbeta = sum dL/dy

    (means over the normalised axis, sums over every row). Returns (grad_x, grad_weight,
    grad_bias); grad_weight / grad_bias are None when the norm has no gamma / beta.
    """
    normalized = fwd["normalized"]                                     # [..., d]
    std = np.sqrt(fwd["var"] + eps)                                    # [..., 1]
    d = normalized.shape[-1]
    grad_rows = grad_out.reshape(-1, d)                                # [rows, d]
    grad_weight = np.sum(grad_rows * normalized.reshape(-1, d), axis=0) if weight is not None else None  # [d]
    grad_bias = grad_rows.sum(axis=0)                                  # [d]
    grad_norm = grad_out * weight if weight is not None else grad_out  # [..., d]
    mean_g = np.mean(grad_norm, axis=-1, keepdims=True)                # [..., 1]
    mean_gn = np.mean(grad_norm * normalized, axis=-1, keepdims=True)  # [..., 1]
    grad_x = (grad_norm - mean_g - normalized * mean_gn) / std         # [..., d]
    if trace.enabled:
        trace.record("out.grad", grad_out)
        trace.record("normalized.grad", grad_norm)
    return grad_x, grad_weight, grad_bias


def feed_forward_backward(fwd, x, w1, w2, activation, grad_out, *, trace=NULL_TRACE):
    """Backward of FFN(x) = act(x W1^T + b1) W2^T + b2 (``functional.feed_forward``), from
    its recorded ``hidden`` and ``activated``. x [..., d_model], grad_out [..., d_model].
    Returns (grad_x, {"linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias"})."""
    grad_activated, grad_w2, grad_b2 = linear_backward(fwd["activated"], w2, grad_out)  # [..., d_ff]
    if activation == "relu" and not trace.enabled:                     # in place: not recorded
        grad_hidden = np.multiply(grad_activated, fwd["hidden"] > 0, out=grad_activated)  # [..., d_ff]
    else:
        grad_hidden = ACTIVATION_BACKWARD[activation](fwd["hidden"], grad_activated)     # [..., d_ff]
    grad_x, grad_w1, grad_b1 = linear_backward(x, w1, grad_hidden)     # [..., d_model]
    if trace.enabled:
        trace.record("out.grad", grad_out)
        trace.record("activated.grad", grad_activated)
        trace.record("hidden.grad", grad_hidden)
    return grad_x, {"linear1.weight": grad_w1, "linear1.bias": grad_b1,
                    "linear2.weight": grad_w2, "linear2.bias": grad_b2}


# --------------------------------------------------------------------------- attention

def scaled_dot_product_attention_backward(fwd, q, k, v, grad_out, *, scale=None, out=None,
                                          trace=NULL_TRACE):
    """Backward of out = softmax(q k^T * scale + mask) v, from the recorded ``weights`` P.

    dL/dv = P^T g, dL/dP = g v^T, dL/dlogits = softmax_backward(P, dL/dP) (the mask is a
    constant: masked entries and fully masked rows get zero), dL/dq = scale dL/dlogits k,
    dL/dk = scale dL/dlogits^T q. q [..., n_q, d_k], k [..., n_k, d_k], v [..., n_k, d_v],
    grad_out [..., n_q, d_v]. Returns (grad_q, grad_k, grad_v); with ``out``, a triple of
    arrays of those shapes (e.g. views into one packed buffer), written into and returned.
    """
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    weights = fwd["weights"]                                           # [..., n_q, n_k]
    out_q, out_k, out_v = (None, None, None) if out is None else out
    grad_weights = grad_out @ np.swapaxes(v, -1, -2)                   # [..., n_q, d_v] @ [..., d_v, n_k] -> [..., n_q, n_k]
    grad_v = np.matmul(np.swapaxes(weights, -1, -2), grad_out, out=out_v)  # [..., n_k, n_q] @ [..., n_q, d_v] -> [..., n_k, d_v]
    grad_logits = softmax_backward(weights, grad_weights, trace=trace.scope("softmax"))  # [..., n_q, n_k]
    grad_scores = grad_logits * scale                                  # d/d(q k^T): [..., n_q, n_k]
    grad_q = np.matmul(grad_scores, k, out=out_q)                      # [..., n_q, n_k] @ [..., n_k, d_k] -> [..., n_q, d_k]
    grad_k = np.matmul(np.swapaxes(grad_scores, -1, -2), q, out=out_k)  # [..., n_k, n_q] @ [..., n_q, d_k] -> [..., n_k, d_k]
    if trace.enabled:
        trace.record("out.grad", grad_out)
        trace.record("weights.grad", grad_weights)
        if "masked" in fwd:
            trace.record("masked.grad", grad_logits)
        trace.record("scaled.grad", grad_logits)
        trace.record("scores.grad", grad_scores)
        trace.record("q.grad", grad_q)
        trace.record("k.grad", grad_k)
        trace.record("v.grad", grad_v)
    return grad_q, grad_k, grad_v


def attention_head_backward(fwd, x_q, x_kv, w_q, w_k, w_v, grad_out, *, scale=None,
                            trace=NULL_TRACE):
    """Backward of one head in the notes' X*W form (``attention.attention_head``), from its
    record ``fwd`` (``q``, ``k``, ``v``, ``weights``):

        dL/dWq = X_qᵀ dL/dQ,  dL/dWk = X_kvᵀ dL/dK,  dL/dWv = X_kvᵀ dL/dV,
        dL/dX_q = dL/dQ Wqᵀ,  dL/dX_kv = dL/dK Wkᵀ + dL/dV Wvᵀ

    with dL/dQ, dL/dK, dL/dV from :func:`scaled_dot_product_attention_backward` (``scale`` as
    the forward used: None for 1/sqrt(d_k)). x_q [n_q, d_model], x_kv [n_k, d_model] (the
    same array for self-attention), w_q, w_k [d_model, d_k], w_v [d_model, d_v],
    grad_out [n_q, d_v]. Returns (grad_x_q, grad_x_kv, {"w_q", "w_k", "w_v"}); for
    self-attention (``x_kv is x_q``) grad_x_q is the whole dL/dX, the sum of the three paths,
    and grad_x_kv is None. Records what the attention backward records, then ``w_q.grad``,
    ``w_k.grad``, ``w_v.grad`` and, for self-attention, ``x.grad`` with its three paths
    ``x.grad.via_q``, ``x.grad.via_k``, ``x.grad.via_v`` (otherwise ``x_q.grad``, ``x_kv.grad``).
    """
    grad_q, grad_k, grad_v = scaled_dot_product_attention_backward(
        fwd, fwd["q"], fwd["k"], fwd["v"], grad_out, scale=scale, trace=trace)  # [n_q, d_k], [n_k, d_k], [n_k, d_v]
    x_q_t, x_kv_t = np.swapaxes(x_q, -1, -2), np.swapaxes(x_kv, -1, -2)  # [d_model, n_q], [d_model, n_k]
    grads = {"w_q": x_q_t @ grad_q,                                    # [d_model, n_q] @ [n_q, d_k] -> [d_model, d_k]
             "w_k": x_kv_t @ grad_k,                                   # [d_model, n_k] @ [n_k, d_k] -> [d_model, d_k]
             "w_v": x_kv_t @ grad_v}                                   # [d_model, n_k] @ [n_k, d_v] -> [d_model, d_v]
    via_q = grad_q @ np.swapaxes(w_q, -1, -2)                          # [n_q, d_k] @ [d_k, d_model] -> [n_q, d_model]
    via_k = grad_k @ np.swapaxes(w_k, -1, -2)                          # [n_k, d_k] @ [d_k, d_model] -> [n_k, d_model]
    via_v = grad_v @ np.swapaxes(w_v, -1, -2)                          # [n_k, d_v] @ [d_v, d_model] -> [n_k, d_model]
    self_attention = x_kv is x_q
    grad_x_q = via_q + via_k + via_v if self_attention else via_q      # [n_q, d_model]
    grad_x_kv = None if self_attention else via_k + via_v              # [n_k, d_model]
    if trace.enabled:
        for name, grad in grads.items():
            trace.record(f"{name}.grad", grad)
        if self_attention:
            trace.record("x.grad", grad_x_q)
            trace.record("x.grad.via_q", via_q)
            trace.record("x.grad.via_k", via_k)
            trace.record("x.grad.via_v", via_v)
        else:
            trace.record("x_q.grad", grad_x_q)
            trace.record("x_kv.grad", grad_x_kv)
    return grad_x_q, grad_x_kv, grads


def multi_head_attention_backward(fwd, query, key, params, n_head: int, grad_out, *,
                                  trace=NULL_TRACE):
    """Backward of ``attention.multi_head_attention`` (torch.nn.MultiheadAttention).

    ``key`` is None for self-attention (query = key = value, one packed in-projection);
    otherwise key = value (encoder-decoder attention). query [B, L, E], key [B, S, E],
    grad_out [B, L, E]. Returns (grad_query, grad_key or None, parameter gradients under
    ``in_proj_weight``, ``in_proj_bias``, ``out_proj.weight``, ``out_proj.bias``).
    """
    batch, n_q, d_model = query.shape
    w_in, b_in = params["in_proj_weight"], params.get("in_proj_bias")
    b_out = params.get("out_proj.bias")
    grad_concat, grad_w_out, grad_b_out = linear_backward(
        fwd["concat"], params["out_proj.weight"], grad_out, bias=b_out is not None)  # [B, L, E]
    grad_heads = split_heads(grad_concat, n_head)                      # [B, H, L, d_head]
    n_k, d_head = fwd["k"].shape[2], d_model // n_head
    # dL/dq, dL/dk, dL/dv are written straight into the layout of the in-projection's output,
    # [B, n, (q|k|v), H, d_head], so no copy is needed to merge the heads back.
    grad_q_packed = np.empty((batch, n_q, 1 if key is not None else 3, n_head, d_head),
                             dtype=grad_out.dtype)                     # [B, L, 1|3, H, d_head]
    grad_kv_packed = grad_q_packed if key is None else np.empty(
        (batch, n_k, 2, n_head, d_head), dtype=grad_out.dtype)         # [B, S, 2, H, d_head]
    first_kv = 1 if key is None else 0

    def heads_view(buf, i):                                            # [B, n, m, H, d_head] -> [B, H, n, d_head]
        return buf[:, :, i].transpose(0, 2, 1, 3)

    scaled_dot_product_attention_backward(
        fwd, fwd["q"], fwd["k"], fwd["v"], grad_heads, trace=trace,
        out=(heads_view(grad_q_packed, 0), heads_view(grad_kv_packed, first_kv),
             heads_view(grad_kv_packed, first_kv + 1)))

    has_bias = b_in is not None
    if key is None:                                                    # self-attention: one product
        grad_query, grad_w_in, grad_b_in = linear_backward(
            query, w_in, grad_q_packed.reshape(batch, n_q, 3 * d_model), bias=has_bias)  # [B, L, E], [3E, E]
        grad_key = None
    else:
        grad_query, grad_w_q, grad_b_q = linear_backward(
            query, w_in[:d_model], grad_q_packed.reshape(batch, n_q, d_model), bias=has_bias)  # [B, L, E], [E, E]
        grad_key, grad_w_kv, grad_b_kv = linear_backward(
            key, w_in[d_model:], grad_kv_packed.reshape(batch, n_k, 2 * d_model), bias=has_bias)  # [B, S, E], [2E, E]
        grad_w_in = np.concatenate([grad_w_q, grad_w_kv])              # [3E, E]
        grad_b_in = np.concatenate([grad_b_q, grad_b_kv]) if has_bias else None  # [3E]
    if trace.enabled:
        trace.record("out_proj.grad", grad_out)
        trace.record("concat.grad", grad_concat)
    grads = {"in_proj_weight": grad_w_in, "out_proj.weight": grad_w_out}
    if has_bias:
        grads["in_proj_bias"] = grad_b_in
    if b_out is not None:
        grads["out_proj.bias"] = grad_b_out
    return grad_query, grad_key, grads


# --------------------------------------------------------------------------- layers and stacks

def _store(grads: dict, prefix: str, local: dict) -> None:
    for name, value in local.items():
        grads[prefix + name] = value


def _norm_backward(fwd, p, name, eps, grad_out, grads, prefix, trace):
    weight, bias = p.get(f"{name}.weight"), p.get(f"{name}.bias")
    grad_x, grad_w, grad_b = layer_norm_backward(fwd.scope(name), weight, eps, grad_out,
                                                 trace=trace.scope(name))
    if weight is not None:
        grads[f"{prefix}{name}.weight"] = grad_w
    if bias is not None:
        grads[f"{prefix}{name}.bias"] = grad_b
    return grad_x


def _sublayer_backward(fwd, p, k, config, grad_out, sublayer_backward, grads, prefix, trace):
    """Backward of the k-th residual block of a layer (``layers._sublayer``).

    post-norm: y = norm_k(x + f(x))  ->  r = norm_k'(dL/dy), dL/dx = r + f'(x)^T r.
    pre-norm:  y = x + f(norm_k(x))  ->  dL/dx = dL/dy + norm_k'(f'(norm_k(x))^T dL/dy).
    ``sublayer_backward(f_input, grad)`` returns dL/d(f_input).
    """
    norm, eps = f"norm{k}", config.layer_norm_eps
    if config.norm_first:
        grad_f_in = sublayer_backward(fwd[f"{norm}.out"], grad_out)    # [B, n, E]
        grad_x = grad_out + _norm_backward(fwd, p, norm, eps, grad_f_in, grads, prefix, trace)
    else:
        grad_resid = _norm_backward(fwd, p, norm, eps, grad_out, grads, prefix, trace)  # [B, n, E]
        x = fwd["input"] if k == 1 else fwd[f"norm{k - 1}.out"]        # the sublayer's input
        grad_x = grad_resid + sublayer_backward(x, grad_resid)         # [B, n, E]
        if trace.enabled:
            trace.record(f"add{k}.grad", grad_resid)
    return grad_x


def _attention_sublayer(fwd, p, name, config, memory, grads, prefix, trace, memory_grads):
    def run(x, grad):
        grad_x, grad_memory, local = multi_head_attention_backward(
            fwd.scope(name), x, memory, p.scope(name), config.nhead, grad,
            trace=trace.scope(name))
        _store(grads, f"{prefix}{name}.", local)
        if grad_memory is not None:
            memory_grads.append(grad_memory)
        return grad_x
    return run


def _ff_sublayer(fwd, p, config, grads, prefix, trace):
    def run(x, grad):
        grad_x, local = feed_forward_backward(fwd.scope("ff"), x, p["linear1.weight"],
                                              p["linear2.weight"], config.activation, grad,
                                              trace=trace.scope("ff"))
        _store(grads, prefix, local)
        return grad_x
    return run


def encoder_layer_backward(fwd, p, config, grad_out, grads, prefix="", *, trace=NULL_TRACE):
    """Backward of ``layers.encoder_layer`` (post- or pre-norm) from its record ``fwd``.
    grad_out [B, S, E] -> grad_input [B, S, E]; parameter gradients go into ``grads``
    under ``prefix`` + PyTorch's names."""
    if trace.enabled:
        trace.record("output.grad", grad_out)
    unused: list = []
    grad = _sublayer_backward(fwd, p, 2, config, grad_out, _ff_sublayer(fwd, p, config, grads, prefix, trace),
                              grads, prefix, trace)
    if trace.enabled and config.norm_first:
        trace.record("add1.grad", grad)
    grad = _sublayer_backward(fwd, p, 1, config, grad,
                              _attention_sublayer(fwd, p, "self_attn", config, None, grads,
                                                  prefix, trace, unused),
                              grads, prefix, trace)
    if trace.enabled:
        trace.record("input.grad", grad)
    return grad


def decoder_layer_backward(fwd, memory, p, config, grad_out, grads, prefix="", *,
                           trace=NULL_TRACE):
    """Backward of ``layers.decoder_layer`` (post- or pre-norm) from its record ``fwd``.
    grad_out [B, T, E], memory [B, S, E] -> (grad_input [B, T, E], grad_memory [B, S, E])."""
    if trace.enabled:
        trace.record("output.grad", grad_out)
    memory_grads: list = []
    grad = _sublayer_backward(fwd, p, 3, config, grad_out, _ff_sublayer(fwd, p, config, grads, prefix, trace),
                              grads, prefix, trace)
    if trace.enabled and config.norm_first:
        trace.record("add2.grad", grad)
    grad = _sublayer_backward(fwd, p, 2, config, grad,
                              _attention_sublayer(fwd, p, "multihead_attn", config, memory, grads,
                                                  prefix, trace, memory_grads),
                              grads, prefix, trace)
    if trace.enabled and config.norm_first:
        trace.record("add1.grad", grad)
    grad = _sublayer_backward(fwd, p, 1, config, grad,
                              _attention_sublayer(fwd, p, "self_attn", config, None, grads,
                                                  prefix, trace, memory_grads),
                              grads, prefix, trace)
    if trace.enabled:
        trace.record("input.grad", grad)
    return grad, memory_grads[0]


def encoder_backward(fwd, p, config, grad_out, grads, prefix="", *, trace=NULL_TRACE):
    """Backward of ``layers.encoder`` (the layers and the final norm): grad_memory [B, S, E]
    -> grad_src [B, S, E]."""
    grad = _norm_backward(fwd, p, "norm", config.layer_norm_eps, grad_out, grads, prefix, trace)
    for i in reversed(range(config.num_encoder_layers)):
        scope = f"layers.{i}"
        grad = encoder_layer_backward(fwd.scope(scope), p.scope(scope), config, grad, grads,
                                      f"{prefix}{scope}.", trace=trace.scope(scope))
    return grad


def decoder_backward(fwd, memory, p, config, grad_out, grads, prefix="", *, trace=NULL_TRACE):
    """Backward of ``layers.decoder`` (the layers and the final norm): grad_out [B, T, E] ->
    (grad_tgt [B, T, E], grad_memory [B, S, E], summed over the layers' cross-attention)."""
    grad = _norm_backward(fwd, p, "norm", config.layer_norm_eps, grad_out, grads, prefix, trace)
    grad_memory = None
    for i in reversed(range(config.num_decoder_layers)):
        scope = f"layers.{i}"
        grad, layer_memory = decoder_layer_backward(
            fwd.scope(scope), memory, p.scope(scope), config, grad, grads, f"{prefix}{scope}.",
            trace=trace.scope(scope))
        grad_memory = layer_memory if grad_memory is None else grad_memory + layer_memory
    return grad, grad_memory


def _transformer_backward(model, fwd, grad_output, *, trace=NULL_TRACE):
    """Backward of ``Transformer.forward`` recorded in ``fwd``: grad_output [B, T, E] ->
    (grads in state_dict order, grad_src [B, S, E], grad_tgt [B, T, E])."""
    grads: dict = {}
    view = model._view
    memory = fwd["encoder.norm.out"]                                   # [B, S, E]
    grad_tgt, grad_memory = decoder_backward(fwd.scope("decoder"), memory, view.scope("decoder"),
                                             model.config, grad_output, grads, "decoder.",
                                             trace=trace.scope("decoder"))
    grad_src = encoder_backward(fwd.scope("encoder"), view.scope("encoder"), model.config,
                                grad_memory, grads, "encoder.", trace=trace.scope("encoder"))
    missing = [name for name in model.params if name not in grads]
    if missing:                                                        # a parameter kind added later
        raise TutorError(f"no backward rule for parameter {missing[0]!r}; "
                         f"tutor.nn.backward covers the nn.Transformer parameters only")
    return {name: grads[name] for name in model.params}, grad_src, grad_tgt


def transformer_forward_and_grads(model, src, tgt, grad_output, masks: dict, *, input_grads=False,
                                  trace=NULL_TRACE):
    """See :meth:`tutor.nn.model.Transformer.forward_and_grads`."""
    record = trace if trace.enabled else Trace()
    out = model.forward(src, tgt, **masks, trace=record)               # [B, T, E] or [T, E]
    grad_output = np.asarray(grad_output)
    if grad_output.shape != out.shape:
        raise ShapeError(f"grad_output must have the output's shape {out.shape}, "
                         f"got {grad_output.shape}")
    if grad_output.dtype != out.dtype:
        from ..errors import DTypeError
        raise DTypeError(f"grad_output is {grad_output.dtype} but the model is {out.dtype}; "
                         f"convert one of them explicitly")
    unbatched = out.ndim == 2
    grads, grad_src, grad_tgt = _transformer_backward(
        model, record, grad_output[None] if unbatched else grad_output, trace=trace)
    if not input_grads:
        return out, grads
    if unbatched:
        grad_src, grad_tgt = grad_src[0], grad_tgt[0]
    return out, grads, grad_src, grad_tgt


# --------------------------------------------------------------------------- loss and Seq2Seq

def cross_entropy_backward(fwd, labels, label_smoothing: float = 0.0):
    """Backward of ``loss.cross_entropy`` from its recorded ``log_probs`` and ``valid``:

        dL/dlogits_i = (softmax(logits_i) - (1 - eps) onehot(y_i) - eps / V) / n_valid

    for a counted position i, 0 for an ignored one. Returns grad_logits [N, V] (flattened
    positions; reshape to the logits' shape).
    """
    log_probs, valid = fwd["log_probs"], fwd["valid"]                  # [N, V], [N]
    n_vocab = log_probs.shape[-1]
    count = int(valid.sum())
    grad = np.exp(log_probs)                                           # softmax: [N, V]
    if label_smoothing:
        grad -= label_smoothing / n_vocab
    targets = np.where(valid, np.asarray(labels).reshape(-1), 0)       # [N]
    grad[np.arange(len(targets)), targets] -= 1.0 - label_smoothing
    grad *= (valid / count if count else valid * 0.0).astype(grad.dtype)[:, None]  # mean over the counted
    return grad


def embedding_backward(ids, grad_out, n_vocab: int, scale: float):
    """Backward of out = E[ids] * scale + PE (``Seq2Seq.embed``; PE is a constant):
    dL/dE[v] = scale * sum of dL/dout over the positions holding token v.
    ids [B, n], grad_out [B, n, E] -> grad_table [n_vocab, E]."""
    d_model = grad_out.shape[-1]
    grad_table = np.zeros((n_vocab, d_model), dtype=grad_out.dtype)    # [V, E]
    np.add.at(grad_table, ids.reshape(-1), grad_out.reshape(-1, d_model) * scale)  # [B*n, E] into rows
    return grad_table


def seq2seq_loss_and_grads(model, src_ids, tgt_ids, *, pad_id=None, label_smoothing=0.0,
                           trace=NULL_TRACE):
    """See :meth:`tutor.nn.model.Seq2Seq.loss_and_grads`."""
    from .loss import cross_entropy

    src_ids, tgt_ids = model._ids("src_ids", src_ids), model._ids("tgt_ids", tgt_ids)
    if src_ids.shape[0] != tgt_ids.shape[0]:
        raise ShapeError(f"src_ids and tgt_ids must have the same batch size, got "
                         f"{src_ids.shape[0]} and {tgt_ids.shape[0]}")
    if tgt_ids.shape[1] < 2:
        raise ShapeError(f"tgt_ids needs at least 2 positions for teacher forcing (input "
                         f"tgt_ids[:, :-1], labels tgt_ids[:, 1:]), got {tgt_ids.shape[1]}")
    if pad_id is not None and not 0 <= pad_id < model.vocab_size:
        raise TutorError(f"pad_id must be a token id in 0..{model.vocab_size - 1}, got {pad_id}")
    tgt_in, labels = tgt_ids[:, :-1], tgt_ids[:, 1:]                   # [B, T], [B, T]
    src_pad = None if pad_id is None else src_ids == pad_id           # [B, S], True = padding
    tgt_pad = None if pad_id is None else tgt_in == pad_id            # [B, T]
    record = trace if trace.enabled else Trace()
    logits = model.logits(src_ids, tgt_in, src_key_padding_mask=src_pad,
                          tgt_key_padding_mask=tgt_pad, trace=record)  # [B, T, V]
    loss = cross_entropy(logits, labels, ignore_index=pad_id, label_smoothing=label_smoothing,
                         trace=record.scope("loss"))

    grads: dict = {}
    grad_logits = cross_entropy_backward(record.scope("loss"), labels,
                                         label_smoothing).reshape(logits.shape)  # [B, T, V]
    hidden = record["transformer.decoder.norm.out"]                    # [B, T, E]
    grad_hidden, grads["generator.weight"], grads["generator.bias"] = linear_backward(
        hidden, model.params["generator.weight"], grad_logits)         # [B, T, E]
    if trace.enabled:
        trace.record("logits.grad", grad_logits)
    stack, grad_src, grad_tgt = _transformer_backward(model.transformer, record.scope("transformer"),
                                                      grad_hidden, trace=trace.scope("transformer"))
    scale = math.sqrt(model.config.d_model)
    grads["src_embedding.weight"] = embedding_backward(src_ids, grad_src, model.vocab_size, scale)
    grads["tgt_embedding.weight"] = embedding_backward(tgt_in, grad_tgt, model.vocab_size, scale)
    if trace.enabled:
        trace.record("src_embed.out.grad", grad_src)
        trace.record("tgt_embed.out.grad", grad_tgt)
    grads.update({f"transformer.{name}": value for name, value in stack.items()})
    return loss, {name: grads[name] for name in model.params}
