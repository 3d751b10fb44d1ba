"""Invariants of the engine, checked on many random cases with hypothesis."""

import numpy as np
from hypothesis import given, settings, strategies as st

from tutor import Trace, Transformer
from tutor.nn import causal_mask, layer_norm, scaled_dot_product_attention

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


def arrays(draw, shape, scale=3.0):
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed).standard_normal(shape) * scale


@SETTINGS
@given(st.data(), st.integers(1, 6), st.integers(1, 6), st.integers(1, 5))
def test_attention_rows_sum_to_one(data, n_q, n_k, d_k):
    q = arrays(data.draw, (n_q, d_k))
    k = arrays(data.draw, (n_k, d_k))
    v = arrays(data.draw, (n_k, 2))
    _, weights = scaled_dot_product_attention(q, k, v)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-12)
    assert np.all(weights >= 0)


@SETTINGS
@given(st.data(), st.integers(1, 7), st.integers(1, 4))
def test_causal_weights_are_zero_above_the_diagonal(data, n, d_k):
    x = arrays(data.draw, (n, d_k))
    _, weights = scaled_dot_product_attention(x, x, x, causal_mask(n))
    assert np.all(np.triu(weights, 1) == 0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-12)
    assert weights[0, 0] == 1.0                                        # the first token sees only itself


@SETTINGS
@given(st.data(), st.integers(2, 6), st.sampled_from([False, True]))
def test_without_positional_encoding_permuting_tokens_permutes_outputs(data, n, norm_first):
    model = Transformer.random(8, 2, 2, 1, 12, seed=data.draw(st.integers(0, 100)),
                               norm_first=norm_first)
    src = arrays(data.draw, (1, n, 8), scale=1.0)
    perm = np.array(data.draw(st.permutations(range(n))))
    memory = model.encode(src)
    np.testing.assert_allclose(model.encode(src[:, perm]), memory[:, perm], rtol=1e-10, atol=1e-12)


@SETTINGS
@given(st.data(), st.integers(2, 16))
def test_layer_norm_gives_mean_zero_variance_one_before_gamma_beta(data, d):
    x = arrays(data.draw, (3, d), scale=10.0) + data.draw(st.floats(-100, 100))
    trace = Trace()
    layer_norm(x, np.full(d, 2.0), np.full(d, 5.0), eps=1e-12, trace=trace)
    normalized = trace["normalized"]
    np.testing.assert_allclose(normalized.mean(-1), 0.0, atol=1e-10)
    np.testing.assert_allclose(normalized.var(-1), 1.0, rtol=1e-8)


@SETTINGS
@given(st.data())
def test_traced_and_untraced_forward_are_identical(data):
    model = Transformer.random(4, 2, 1, 1, 8, seed=data.draw(st.integers(0, 50)), activation="gelu")
    src = arrays(data.draw, (2, 3, 4))
    tgt = arrays(data.draw, (2, 2, 4))
    trace = Trace()
    np.testing.assert_array_equal(model.forward(src, tgt, trace=trace), model.forward(src, tgt))
    assert len(trace) > 0
