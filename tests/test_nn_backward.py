"""Backward passes of each block against central finite differences (float64), and the
gradient API's invariants: dtypes, trace names, errors. PyTorch parity: test_grad_golden.py."""

import numpy as np
import pytest

from tutor.errors import DTypeError, ShapeError, TutorError
from tutor.nn import Seq2Seq, Transformer, TransformerConfig
from tutor.nn import backward as bw
from tutor.nn.attention import multi_head_attention, scaled_dot_product_attention
from tutor.nn.functional import feed_forward, layer_norm, linear, softmax
from tutor.nn.layers import decoder_layer, encoder_layer
from tutor.nn.loss import cross_entropy
from tutor.nn.params import ParamView, decoder_layer_shapes, encoder_layer_shapes, init_params
from tutor.trace import Trace

STEP = 1e-6


def numeric_grad(loss, array, sample=None, rng=None):
    """Central differences of the scalar ``loss()`` w.r.t. ``array`` (perturbed in place):
    every entry, or ``sample`` random ones. Returns (flat indices, values)."""
    flat = array.reshape(-1)
    idx = np.arange(flat.size) if sample is None or sample >= flat.size else \
        rng.choice(flat.size, sample, replace=False)
    out = []
    for i in idx:
        old = flat[i]
        flat[i] = old + STEP
        up = loss()
        flat[i] = old - STEP
        down = loss()
        flat[i] = old
        out.append((up - down) / (2 * STEP))
    return idx, np.array(out)


def assert_fd(loss, array, analytic, sample=None, rng=None, tol=1e-6):
    idx, numeric = numeric_grad(loss, array, sample, rng)
    got = np.asarray(analytic).reshape(-1)[idx]
    np.testing.assert_allclose(got, numeric, rtol=tol, atol=tol)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def test_linear_backward(rng):
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    r = rng.standard_normal((2, 3, 5))
    loss = lambda: np.sum(linear(x, w, b) * r)                        # noqa: E731
    gx, gw, gb = bw.linear_backward(x, w, r)
    for array, grad in ((x, gx), (w, gw), (b, gb)):
        assert_fd(loss, array, grad)
    assert bw.linear_backward(x, w, r, bias=False)[2] is None


def test_softmax_backward_is_the_jacobian_product(rng):
    x, r = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    grad = bw.softmax_backward(softmax(x), r)
    assert_fd(lambda: np.sum(softmax(x) * r), x, grad)
    p = softmax(x[0])
    jacobian = np.diag(p) - np.outer(p, p)                             # dp_i/dx_j
    np.testing.assert_allclose(grad[0], jacobian.T @ r[0], atol=1e-15)
    np.testing.assert_allclose(grad.sum(axis=-1), 0, atol=1e-15)       # shifts change nothing


def test_softmax_backward_fully_masked_row_is_zero():
    probs = softmax(np.array([[-np.inf, -np.inf], [0.0, -np.inf]]))
    grad = bw.softmax_backward(probs, np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert np.array_equal(grad, np.zeros((2, 2)))


@pytest.mark.parametrize("mask_kind", ["none", "bool_full_row", "additive"])
def test_scaled_dot_product_attention_backward(rng, mask_kind):
    q, k, v = (rng.standard_normal(s) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 6)))
    r = rng.standard_normal((2, 3, 6))
    mask = None
    if mask_kind == "bool_full_row":
        mask = rng.random((3, 5)) < 0.4
        mask[1] = True                                                 # query 1 sees no key
    elif mask_kind == "additive":
        mask = -rng.random((2, 3, 5))
        mask[:, :, 0] = -np.inf
    loss = lambda: np.sum(scaled_dot_product_attention(q, k, v, mask)[0] * r)  # noqa: E731
    fwd = Trace()
    scaled_dot_product_attention(q, k, v, mask, trace=fwd)
    gq, gk, gv = bw.scaled_dot_product_attention_backward(fwd, q, k, v, r)
    for array, grad in ((q, gq), (k, gk), (v, gv)):
        assert_fd(loss, array, grad)
    if mask_kind == "bool_full_row":
        assert np.array_equal(gq[:, 1], np.zeros((2, 4)))              # zeros, as the forward


def mha_params(rng, d):
    return {"in_proj_weight": rng.standard_normal((3 * d, d)) * 0.5,
            "in_proj_bias": rng.standard_normal(3 * d),
            "out_proj.weight": rng.standard_normal((d, d)) * 0.5,
            "out_proj.bias": rng.standard_normal(d)}


@pytest.mark.parametrize("cross", [False, True])
def test_multi_head_attention_backward(rng, cross):
    d, n_head = 8, 2
    params = mha_params(rng, d)
    x = rng.standard_normal((2, 4, d))
    memory = rng.standard_normal((2, 3, d)) if cross else None
    pad = np.array([[False, False, True], [False, False, False]]) if cross else \
        np.array([[False, False, False, True], [False] * 4])
    r = rng.standard_normal((2, 4, d))

    def run(trace=bw.NULL_TRACE):
        source = x if memory is None else memory
        return multi_head_attention(x, source, source, params, n_head, key_padding_mask=pad,
                                    trace=trace)[0]

    fwd = Trace()
    run(fwd)
    gx, gmem, grads = bw.multi_head_attention_backward(fwd, x, memory, params, n_head, r)
    loss = lambda: np.sum(run() * r)                                   # noqa: E731
    assert_fd(loss, x, gx)
    if cross:
        assert_fd(loss, memory, gmem)
    else:
        assert gmem is None
    for name, value in params.items():
        assert grads[name].shape == value.shape
        assert_fd(loss, value, grads[name])


def test_layer_norm_backward(rng):
    x, gamma, beta = rng.standard_normal((3, 6)), 1 + rng.standard_normal(6) * 0.3, rng.standard_normal(6)
    r = rng.standard_normal((3, 6))
    fwd = Trace()
    layer_norm(x, gamma, beta, 1e-5, trace=fwd)
    gx, gg, gb = bw.layer_norm_backward(fwd, gamma, 1e-5, r)
    loss = lambda: np.sum(layer_norm(x, gamma, beta, 1e-5) * r)       # noqa: E731
    for array, grad in ((x, gx), (gamma, gg), (beta, gb)):
        assert_fd(loss, array, grad)
    np.testing.assert_allclose(gx.sum(axis=-1), 0, atol=1e-12)        # a shift of x changes nothing


@pytest.mark.parametrize("activation", ["relu", "gelu", "gelu_tanh"])
def test_feed_forward_backward(rng, activation):
    x = rng.standard_normal((2, 3, 4))
    w1, b1 = rng.standard_normal((6, 4)), rng.standard_normal(6)
    w2, b2 = rng.standard_normal((4, 6)), rng.standard_normal(4)
    r = rng.standard_normal((2, 3, 4))
    fwd = Trace()
    feed_forward(x, w1, b1, w2, b2, activation, trace=fwd)
    gx, grads = bw.feed_forward_backward(fwd, x, w1, w2, activation, r)
    loss = lambda: np.sum(feed_forward(x, w1, b1, w2, b2, activation) * r)  # noqa: E731
    for array, grad in ((x, gx), (w1, grads["linear1.weight"]), (b1, grads["linear1.bias"]),
                        (w2, grads["linear2.weight"]), (b2, grads["linear2.bias"])):
        assert_fd(loss, array, grad)


def test_activation_derivatives_closed_forms():
    zero = np.array([0.0])
    assert bw.relu_backward(zero, np.array([1.0]))[0] == 0             # PyTorch: 0 at the kink
    assert bw.gelu_backward(zero, np.array([1.0]))[0] == 0.5           # Phi(0)
    assert bw.gelu_backward(zero, np.array([1.0]), "tanh")[0] == 0.5
    big = np.array([10.0])
    assert abs(bw.gelu_backward(big, np.array([1.0]))[0] - 1) < 1e-15


def layer_case(rng, kind, norm_first, activation):
    d, f = 8, 12
    shapes = (encoder_layer_shapes if kind == "encoder" else decoder_layer_shapes)("", d, f)
    params = init_params(shapes, rng)
    for name in params:                                                # biases and norms non-trivial
        if params[name].ndim == 1:
            params[name] = params[name] + rng.uniform(-0.5, 0.5, params[name].shape)
    config = TransformerConfig(d, 2, 1, 1, f, norm_first, activation)
    return params, config


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_layer_backward(rng, kind, norm_first):
    params, config = layer_case(rng, kind, norm_first, "gelu")
    p = ParamView(params, "")
    x, memory = rng.standard_normal((2, 4, 8)), rng.standard_normal((2, 3, 8))
    causal = np.triu(np.ones((4, 4), dtype=bool), 1)
    r = rng.standard_normal((2, 4, 8))

    def run(trace=bw.NULL_TRACE):
        if kind == "encoder":
            return encoder_layer(x, p, config, src_key_padding_mask=np.array(
                [[False] * 3 + [True], [False] * 4]), trace=trace)
        return decoder_layer(x, memory, p, config, tgt_mask=causal, trace=trace)

    fwd, grads = Trace(), {}
    run(fwd)
    if kind == "encoder":
        gx = bw.encoder_layer_backward(fwd, p, config, r, grads)
    else:
        gx, gmem = bw.decoder_layer_backward(fwd, memory, p, config, r, grads)
    loss = lambda: np.sum(run() * r)                                   # noqa: E731
    assert sorted(grads) == sorted(params)
    assert_fd(loss, x, gx)
    if kind == "decoder":
        assert_fd(loss, memory, gmem)
    for name, value in params.items():
        assert_fd(loss, value, grads[name], sample=6, rng=rng)


@pytest.mark.parametrize("smoothing,ignore", [(0.0, None), (0.1, 0), (0.3, 2)])
def test_cross_entropy_backward(rng, smoothing, ignore):
    logits = rng.standard_normal((2, 4, 5)) * 2
    labels = rng.integers(0, 5, (2, 4))
    labels[0, 0] = 0
    labels[1, 3] = 2
    fwd = Trace()
    cross_entropy(logits, labels, ignore_index=ignore, label_smoothing=smoothing, trace=fwd)
    grad = bw.cross_entropy_backward(fwd, labels, smoothing).reshape(logits.shape)
    loss = lambda: float(cross_entropy(logits, labels, ignore_index=ignore,   # noqa: E731
                                       label_smoothing=smoothing))
    assert_fd(loss, logits, grad)
    if ignore is not None:
        assert np.array_equal(grad[labels == ignore], np.zeros(((labels == ignore).sum(), 5)))


def test_cross_entropy_closed_forms():
    logits = np.zeros((1, 4))                                          # uniform: -log p = log 4
    assert float(cross_entropy(logits, np.array([2]))) == pytest.approx(np.log(4), abs=1e-15)
    assert float(cross_entropy(logits, np.array([2]), label_smoothing=0.5)) == pytest.approx(np.log(4))
    # every label ignored: 0 and zero gradient (PyTorch gives NaN)
    fwd = Trace()
    assert float(cross_entropy(logits, np.array([1]), ignore_index=1, trace=fwd)) == 0.0
    assert not bw.cross_entropy_backward(fwd, np.array([1])).any()
    with pytest.raises(ShapeError, match="labels must have shape"):
        cross_entropy(logits, np.array([1, 2]))
    with pytest.raises(TutorError, match="class ids in 0..3"):
        cross_entropy(logits, np.array([4]))
    with pytest.raises(TutorError, match="label_smoothing"):
        cross_entropy(logits, np.array([1]), label_smoothing=1.5)


def test_embedding_backward_sums_repeated_tokens(rng):
    model = Seq2Seq.random(7, 4, 1, 1, 8, seed=0)
    ids = np.array([[1, 3, 1], [6, 1, 0]])
    r = rng.standard_normal((2, 3, 4))
    table = model.params["src_embedding.weight"]
    grad = bw.embedding_backward(ids, r, 7, 2.0)                       # sqrt(d_model = 4)
    assert_fd(lambda: np.sum(model.embed(ids, "src_embedding") * r), table, grad)
    np.testing.assert_allclose(grad[1], 2.0 * (r[0, 0] + r[0, 2] + r[1, 1]))
    assert not grad[[2, 4, 5]].any()                                   # unused tokens


def small_seq2seq(dtype=np.float64, **options):
    return Seq2Seq.random(9, 8, 2, 2, 12, seed=3, dtype=dtype, **options)


BATCH = (np.array([[3, 4, 5, 0], [2, 7, 0, 0]]), np.array([[1, 6, 2, 8, 0], [1, 5, 3, 0, 0]]))


@pytest.mark.parametrize("norm_first,activation", [(False, "relu"), (True, "gelu_tanh")])
def test_seq2seq_loss_and_grads_against_finite_differences(rng, norm_first, activation):
    model = small_seq2seq(norm_first=norm_first, activation=activation)
    src, tgt = BATCH
    loss, grads = model.loss_and_grads(src, tgt, pad_id=0, label_smoothing=0.1)
    f = lambda: float(model.loss_and_grads(src, tgt, pad_id=0, label_smoothing=0.1)[0])  # noqa: E731
    for name in ("src_embedding.weight", "generator.bias",
                 "transformer.encoder.layers.0.self_attn.in_proj_weight",
                 "transformer.decoder.layers.1.multihead_attn.out_proj.weight",
                 "transformer.decoder.norm.weight"):
        assert_fd(f, model.params[name], grads[name], sample=8, rng=rng)


def test_seq2seq_loss_is_teacher_forced_cross_entropy():
    model = small_seq2seq()
    src, tgt = BATCH
    loss, _ = model.loss_and_grads(src, tgt, pad_id=0, label_smoothing=0.2)
    logits = model.logits(src, tgt[:, :-1], src_key_padding_mask=src == 0,
                          tgt_key_padding_mask=tgt[:, :-1] == 0)
    log_p = logits - logits.max(-1, keepdims=True)
    log_p = log_p - np.log(np.exp(log_p).sum(-1, keepdims=True))
    labels, keep = tgt[:, 1:], tgt[:, 1:] != 0
    nll = -np.take_along_axis(log_p, labels[..., None], -1)[..., 0]
    expected = np.sum((0.8 * nll - 0.2 * log_p.mean(-1))[keep]) / keep.sum()
    assert float(loss) == pytest.approx(expected, rel=1e-12)


def test_grads_have_state_dict_keys_shapes_and_float32_stays_float32():
    model = small_seq2seq(np.float32)
    trace = Trace()
    loss, grads = model.loss_and_grads(*BATCH, pad_id=0, label_smoothing=0.1, trace=trace)
    state = model.state_dict()
    assert list(grads) == list(state)
    assert all(grads[k].shape == state[k].shape and grads[k].dtype == np.float32 for k in state)
    assert loss.dtype == np.float32
    floats = {name: a.dtype for name, a in trace.steps.items() if a.dtype.kind == "f"}
    assert set(floats.values()) == {np.dtype(np.float32)}, \
        [n for n, d in floats.items() if d != np.float32][:5]


def test_trace_records_gradients_under_the_forward_names():
    model = small_seq2seq()
    trace = Trace()
    loss, grads = model.loss_and_grads(*BATCH, pad_id=0, trace=trace)
    names = set(trace)
    for name in ("transformer.encoder.layers.0.self_attn.weights",
                 "transformer.decoder.layers.1.multihead_attn.q",
                 "transformer.decoder.layers.0.ff.hidden", "transformer.encoder.norm.out",
                 "transformer.encoder.layers.1.input", "logits", "src_embed.out"):
        assert name in names and name + ".grad" in names, name
        assert trace[name + ".grad"].shape == trace[name].shape, name
    grad_w = trace["transformer.encoder.layers.0.self_attn.weights.grad"]
    assert grad_w.shape == (2, 2, 4, 4)
    # the untraced run gives the same numbers
    loss2, grads2 = model.loss_and_grads(*BATCH, pad_id=0)
    assert loss2 == loss and all(np.array_equal(grads[k], grads2[k]) for k in grads)


def test_padding_does_not_leak():
    """More right padding changes neither the loss nor the gradients, and the padding token's
    embeddings get no gradient: padding is masked as keys and ignored as labels."""
    model = small_seq2seq()
    src, tgt = BATCH
    loss, grads = model.loss_and_grads(src, tgt, pad_id=0)
    longer_src = np.pad(src, ((0, 0), (0, 2)))                         # two more pad columns
    longer_tgt = np.pad(tgt, ((0, 0), (0, 1)))
    loss2, grads2 = model.loss_and_grads(longer_src, longer_tgt, pad_id=0)
    assert float(loss2) == pytest.approx(float(loss), rel=1e-12)
    for name in grads:
        np.testing.assert_allclose(grads2[name], grads[name], rtol=1e-9, atol=1e-12)
    assert not grads["src_embedding.weight"][0].any()
    assert not grads["tgt_embedding.weight"][0].any()
    unpadded, _ = model.loss_and_grads(src, tgt)                       # without pad_id: differs
    assert float(unpadded) != pytest.approx(float(loss), rel=1e-3)


def test_transformer_forward_and_grads_unbatched_and_errors():
    model = Transformer.random(8, 2, 1, 1, 12, seed=0)
    rng = np.random.default_rng(0)
    src, tgt, g = rng.standard_normal((5, 8)), rng.standard_normal((3, 8)), rng.standard_normal((3, 8))
    out, grads, gs, gt = model.forward_and_grads(src, tgt, g, input_grads=True)
    out_b, grads_b, gs_b, gt_b = model.forward_and_grads(src[None], tgt[None], g[None],
                                                         input_grads=True)
    assert out.shape == (3, 8) and gs.shape == (5, 8) and gt.shape == (3, 8)
    # a batch of one is another shape for BLAS: equal within float64's rounding
    np.testing.assert_allclose(out, out_b[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gs, gs_b[0], rtol=1e-12, atol=1e-12)
    assert np.array_equal(model.forward(src, tgt), out)
    with pytest.raises(ShapeError, match="grad_output must have the output's shape"):
        model.forward_and_grads(src, tgt, g[:2])
    with pytest.raises(DTypeError, match="grad_output is float32"):
        model.forward_and_grads(src, tgt, g.astype(np.float32))


def test_loss_and_grads_errors():
    model = small_seq2seq()
    with pytest.raises(ShapeError, match="at least 2 positions"):
        model.loss_and_grads([[1, 2]], [[1]])
    with pytest.raises(ShapeError, match="same batch size"):
        model.loss_and_grads([[1, 2]], [[1, 2], [3, 4]])
    with pytest.raises(TutorError, match="pad_id must be a token id"):
        model.loss_and_grads([[1, 2]], [[1, 2]], pad_id=9)
    with pytest.raises(TutorError, match="outside 0..8"):
        model.loss_and_grads([[1, 20]], [[1, 2]])


def test_float32_gradients_agree_with_float64():
    src, tgt = BATCH
    m64 = small_seq2seq(activation="gelu")
    m32 = Seq2Seq({k: v.astype(np.float32) for k, v in m64.params.items()}, m64.config)
    loss64, g64 = m64.loss_and_grads(src, tgt, pad_id=0, label_smoothing=0.1)
    loss32, g32 = m32.loss_and_grads(src, tgt, pad_id=0, label_smoothing=0.1)
    assert loss32.dtype == np.float32 and abs(float(loss32) - float(loss64)) < 1e-5
    for name in g64:
        assert g32[name].dtype == np.float32
        np.testing.assert_allclose(g32[name], g64[name], atol=2e-5 * max(1, np.abs(g64[name]).max()))
    t32 = Transformer.random(8, 2, 1, 1, 12, seed=0, dtype=np.float32)
    x = np.ones((2, 3, 8), np.float32)
    out, grads = t32.forward_and_grads(x, x, x)
    assert out.dtype == np.float32 and {g.dtype for g in grads.values()} == {np.dtype(np.float32)}


def test_adam_on_the_gradients_learns_to_copy():
    """A few hundred steps on one batch: the loss falls from about log(V) to near zero."""
    from tutor.nn.optim import Adam

    rng = np.random.default_rng(0)
    model = Seq2Seq.random(8, 16, 2, 1, 32, seed=0)
    body = rng.integers(2, 8, (6, 4))
    src, tgt = body, np.concatenate([np.ones((6, 1), int), body], axis=1)   # BOS, then a copy
    opt = Adam(model.params, lr=0.01)
    first = float(model.loss_and_grads(src, tgt)[0])
    for _ in range(150):
        loss, grads = model.loss_and_grads(src, tgt)
        opt.step(grads)
    assert first > 1.5 and float(loss) < 0.05
    assert np.array_equal(model.generate(src, 4, bos_id=1)[:, 1:], body)


def test_transformer_trace_names_and_masks():
    model = Transformer.random(8, 2, 2, 1, 12, seed=1)
    rng = np.random.default_rng(1)
    src, tgt, g = (rng.standard_normal(s) for s in ((2, 5, 8), (2, 3, 8), (2, 3, 8)))
    masks = {"tgt_mask": np.triu(np.ones((3, 3), bool), 1),
             "src_key_padding_mask": np.array([[False] * 5, [False] * 4 + [True]]),
             "memory_key_padding_mask": np.array([[False] * 5, [False] * 4 + [True]])}
    trace = Trace()
    out, grads, grad_src, grad_tgt = model.forward_and_grads(src, tgt, g, **masks,
                                                             input_grads=True, trace=trace)
    assert np.array_equal(trace["decoder.norm.out"], out)
    assert np.array_equal(trace["decoder.norm.out.grad"], g)
    assert np.array_equal(trace["encoder.layers.0.input.grad"], grad_src)
    assert np.array_equal(trace["decoder.layers.0.input.grad"], grad_tgt)
    weights_grad = trace["encoder.layers.1.self_attn.weights.grad"]
    assert weights_grad.shape == trace["encoder.layers.1.self_attn.weights"].shape == (2, 2, 5, 5)
    # a padded key position gets no gradient through its keys and values
    for name in ("encoder.layers.0.self_attn", "decoder.layers.0.multihead_attn"):
        assert not trace[f"{name}.v.grad"][1, :, 4].any()
        assert not trace[f"{name}.k.grad"][1, :, 4].any()
        assert trace[f"{name}.v.grad"][0, :, 4].any()
    with pytest.raises(KeyError):                                      # a trace is written once
        model.forward_and_grads(src, tgt, g, **masks, trace=trace)


@pytest.mark.parametrize("norm_first", [False, True])
def test_stacks_with_final_norms_against_finite_differences(rng, norm_first):
    model = Transformer.random(8, 2, 2, 2, 12, seed=2, norm_first=norm_first, activation="gelu")
    for name, value in model.params.items():                          # non-trivial norms, biases
        if value.ndim == 1:
            value += rng.uniform(-0.3, 0.3, value.shape)
    src, tgt, g = (rng.standard_normal(s) for s in ((2, 5, 8), (2, 3, 8), (2, 3, 8)))
    masks = {"tgt_mask": np.triu(np.ones((3, 3), bool), 1),
             "src_key_padding_mask": np.array([[False] * 5, [False] * 3 + [True] * 2]),
             "memory_key_padding_mask": np.array([[False] * 5, [False] * 3 + [True] * 2])}
    _, grads, grad_src, grad_tgt = model.forward_and_grads(src, tgt, g, **masks, input_grads=True)
    loss = lambda: np.sum(model.forward(src, tgt, **masks) * g)       # noqa: E731
    assert_fd(loss, src, grad_src)
    assert_fd(loss, tgt, grad_tgt)
    for name in ("encoder.norm.weight", "encoder.norm.bias", "decoder.norm.weight",
                 "encoder.layers.0.norm1.weight", "decoder.layers.1.multihead_attn.in_proj_bias",
                 "decoder.layers.0.linear1.weight"):
        assert_fd(loss, model.params[name], grads[name], sample=8, rng=rng)
