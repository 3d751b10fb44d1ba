"""The engine against closed forms and the notes' worked examples (corrected where the notes err)."""

import math

import numpy as np
import pytest

from tutor.nn import (attention_head, batch_norm, erf, feed_forward, gelu, layer_norm,
                      multi_head_attention, scaled_dot_product_attention, sinusoidal_encoding,
                      softmax)
from tutor.nn.attention import merge_heads, split_heads
from tutor.trace import Trace

THE, CAT, SAT = [1, 0, 1, 0], [0, 1, 0, 1], [1, 1, 1, 1]
X = np.array([THE, CAT, SAT], dtype=float)


def test_notes_example_scores_with_identity_weights():
    trace = Trace()
    out, weights = attention_head(X, X, np.eye(4), np.eye(4), np.eye(4), trace=trace)
    np.testing.assert_array_equal(trace["q"], X)
    np.testing.assert_array_equal(trace["scores"], [[2, 0, 2], [0, 2, 2], [2, 2, 4]])
    # THE scores THE and SAT equally (2 and 2): a tie, not "SAT alone" as the notes say.
    assert trace["scores"][0, 0] == trace["scores"][0, 2]
    np.testing.assert_array_equal(trace["scaled"], trace["scores"] / 2.0)   # sqrt(d_k) = 2
    e = math.e
    np.testing.assert_allclose(weights[0], [e / (2 * e + 1), 1 / (2 * e + 1), e / (2 * e + 1)])
    np.testing.assert_allclose(weights[2], [1 / (2 + e), 1 / (2 + e), e / (2 + e)])
    np.testing.assert_allclose(out, weights @ X)


def test_softmax_of_6_and_4():
    np.testing.assert_allclose(softmax(np.array([6.0, 4.0])), [0.8807970779778823, 0.11920292202211755])
    np.testing.assert_allclose(softmax(np.array([6.0, 4.0]))[0], 1 / (1 + math.exp(-2)))


def test_softmax_records_each_step():
    trace = Trace()
    softmax(np.array([6.0, 4.0]), trace=trace)
    np.testing.assert_array_equal(trace["shifted"], [0.0, -2.0])
    np.testing.assert_allclose(trace["exp"], [1.0, math.exp(-2)])
    np.testing.assert_allclose(trace["sum"], [1 + math.exp(-2)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_extreme_scores_stay_finite(dtype):
    scores = np.array([[1e4, -1e4, 0.0], [-1e30, -1e30, -1e30], [3e38, 3e38, -3e38]], dtype=dtype)
    out = softmax(scores)
    assert out.dtype == dtype
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(out[0], [1, 0, 0])
    np.testing.assert_allclose(out[2], [0.5, 0.5, 0])


def test_fully_masked_row_gives_zero_weights_and_output():
    q = np.ones((2, 4))                                                # 2 queries
    k = v = np.ones((3, 4))                                            # 3 keys
    mask = np.array([[True, True, True], [False, True, True]])        # row 0: every key masked
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    np.testing.assert_array_equal(weights[0], [0, 0, 0])
    np.testing.assert_array_equal(out[0], [0, 0, 0, 0])
    np.testing.assert_array_equal(weights[1], [1, 0, 0])


def test_boolean_and_float_masks_agree():
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((3, 4, 5))
    bool_mask = np.triu(np.ones((4, 4), bool), 1)
    float_mask = np.where(bool_mask, -np.inf, 0.0)
    out_b, w_b = scaled_dot_product_attention(q, k, v, bool_mask)
    out_f, w_f = scaled_dot_product_attention(q, k, v, float_mask)
    np.testing.assert_array_equal(out_b, out_f)
    assert np.all(w_b[bool_mask] == 0)


def test_no_scale_keeps_raw_scores():
    trace = Trace()
    _, weights = attention_head(X, X, np.eye(4), np.eye(4), np.eye(4), scale=1.0, trace=trace)
    np.testing.assert_array_equal(trace["scaled"], trace["scores"])
    np.testing.assert_allclose(weights[2], softmax(np.array([2.0, 2.0, 4.0])))


def test_positional_encoding_position_1_d4():
    pe = sinusoidal_encoding(2, 4)
    np.testing.assert_allclose(pe[0], [0, 1, 0, 1])
    np.testing.assert_allclose(pe[1], [math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)])
    # The notes print 0.995 for the last entry; cos(0.01) is 0.99995.
    assert round(pe[1, 3], 5) == 0.99995


def test_positional_encoding_odd_width_ends_with_sine():
    pe = sinusoidal_encoding(7, 5)
    pos = np.arange(7)
    for j in range(5):
        freq = 1 / 10000 ** (2 * (j // 2) / 5)
        expected = np.sin(pos * freq) if j % 2 == 0 else np.cos(pos * freq)
        np.testing.assert_allclose(pe[:, j], expected, atol=1e-15)


def test_positional_encoding_dtype():
    assert sinusoidal_encoding(3, 4, dtype=np.float32).dtype == np.float32


def test_erf_matches_math_erf():
    x = np.concatenate([np.linspace(-7, 7, 14001), [0.5, -0.5, 4.0, -4.0, 1e-300, 30.0, -30.0]])
    expected = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(erf(x), expected, rtol=1e-15, atol=5e-16)


def test_gelu_is_exact_erf_form():
    x = np.linspace(-6, 6, 101)
    expected = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])
    np.testing.assert_allclose(gelu(x), expected, rtol=1e-14, atol=1e-16)
    assert gelu(x.astype(np.float32)).dtype == np.float32


def test_layer_norm_by_hand():
    trace = Trace()
    out = layer_norm(np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0] * 4), np.array([1.0] * 4),
                     eps=1e-5, trace=trace)
    assert trace["mean"][0] == 2.5
    assert trace["var"][0] == 1.25                                     # biased: /4, not /3
    expected = (np.array([1, 2, 3, 4]) - 2.5) / math.sqrt(1.25 + 1e-5) * 2 + 1
    np.testing.assert_allclose(out, expected)


def test_layer_norm_of_constant_vector_is_beta():
    beta = np.array([0.5, -1.0, 2.0])
    out = layer_norm(np.full(3, 7.0), np.ones(3), beta)
    np.testing.assert_array_equal(out, beta)


def test_batch_norm_normalises_each_feature_over_the_batch():
    x = np.array([[1.0, 10.0], [3.0, 30.0]])
    out = batch_norm(x, eps=0.0)
    np.testing.assert_allclose(out, [[-1, -1], [1, 1]])
    np.testing.assert_allclose(layer_norm(x, eps=0.0), [[-1, 1], [-1, 1]])


def test_feed_forward_relu_by_hand():
    w1 = np.array([[1.0, -1.0], [2.0, 0.0], [0.0, 1.0]])               # [d_ff=3, d_model=2]
    b1 = np.array([0.0, -5.0, 1.0])
    w2 = np.ones((2, 3))
    b2 = np.array([0.5, -0.5])
    trace = Trace()
    out = feed_forward(np.array([3.0, 1.0]), w1, b1, w2, b2, "relu", trace=trace)
    np.testing.assert_array_equal(trace["hidden"], [2.0, 1.0, 2.0])
    np.testing.assert_array_equal(out, [5.5, 4.5])


def test_multi_head_attention_equals_heads_computed_one_by_one():
    rng = np.random.default_rng(1)
    d_model, n_head, d_head = 6, 3, 2
    x = rng.standard_normal((2, 4, d_model))
    mem = rng.standard_normal((2, 5, d_model))
    params = {"in_proj_weight": rng.standard_normal((3 * d_model, d_model)),
              "in_proj_bias": rng.standard_normal(3 * d_model),
              "out_proj.weight": rng.standard_normal((d_model, d_model)),
              "out_proj.bias": rng.standard_normal(d_model)}
    w_q, w_k, w_v = np.split(params["in_proj_weight"], 3)
    b_q, b_k, b_v = np.split(params["in_proj_bias"], 3)
    for query, source in ((x, x), (x, mem)):
        out, weights = multi_head_attention(query, source, source, params, n_head)
        assert weights.shape == (2, n_head, 4, source.shape[1])
        heads = []
        for h in range(n_head):
            cols = slice(h * d_head, (h + 1) * d_head)
            q = query @ w_q[cols].T + b_q[cols]
            k = source @ w_k[cols].T + b_k[cols]
            v = source @ w_v[cols].T + b_v[cols]
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(d_head)
            w = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
            np.testing.assert_allclose(weights[:, h], w, rtol=1e-12)
            heads.append(w @ v)
        expected = np.concatenate(heads, -1) @ params["out_proj.weight"].T + params["out_proj.bias"]
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_split_and_merge_heads_are_inverse():
    x = np.arange(2 * 3 * 8, dtype=float).reshape(2, 3, 8)
    heads = split_heads(x, 4)
    assert heads.shape == (2, 4, 3, 2)
    np.testing.assert_array_equal(heads[0, 1, 2], x[0, 2, 2:4])
    np.testing.assert_array_equal(merge_heads(heads), x)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 5e-6)])  # f32: 20 rescalings at chunk 1
@pytest.mark.parametrize("chunk", [1, 3, 7, 64])
def test_chunked_attention_equals_one_pass(dtype, tol, chunk):
    rng = np.random.default_rng(chunk)
    q = (rng.standard_normal((2, 3, 9, 4)) * 4).astype(dtype)
    k = (rng.standard_normal((2, 3, 20, 4)) * 4).astype(dtype)
    v = rng.standard_normal((2, 3, 20, 5)).astype(dtype)
    causal = np.triu(np.ones((9, 20), bool), k=1)
    padding = np.zeros((2, 1, 1, 20), bool)
    padding[1, ..., 15:] = True
    all_masked = np.zeros((9, 20), bool)
    all_masked[4] = True                                               # row 4 sees no key
    for mask in (None, causal, padding, np.where(causal, -np.inf, 0.0).astype(dtype), all_masked):
        expected, _ = scaled_dot_product_attention(q, k, v, mask)
        out, weights = scaled_dot_product_attention(q, k, v, mask, chunk_size=chunk)
        assert out.dtype == dtype
        assert weights is None or chunk >= 20
        np.testing.assert_allclose(out, expected, rtol=0, atol=tol)
    np.testing.assert_array_equal(scaled_dot_product_attention(q, k, v, all_masked, chunk_size=chunk)[0][:, :, 4], 0)


def test_softmax_leaves_its_input_alone_unless_told():
    x = np.array([[1.0, 2.0, 3.0]])
    kept = x.copy()
    out = softmax(x)
    np.testing.assert_array_equal(x, kept)
    reused = softmax(x, overwrite=True)
    assert reused is x or np.shares_memory(reused, x)
    np.testing.assert_array_equal(reused, out)


def test_layer_norm_with_eps_0_maps_a_constant_vector_to_beta_not_nan():
    beta = np.array([1.0, 2.0, 3.0])
    for trace in (Trace(), None):
        kwargs = {} if trace is None else {"trace": trace}
        out = layer_norm(np.full((2, 3), 5.0), np.ones(3), beta, eps=0.0, **kwargs)
        np.testing.assert_array_equal(out, [beta, beta])
    np.testing.assert_allclose(layer_norm(np.array([1.0, 3.0]), eps=0.0), [-1.0, 1.0])


def test_gelu_tanh_approximation_closed_form():
    """GELU with approximate='tanh' (GPT-2's 'gelu_new'): x/2 (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3)))."""
    import math
    from tutor.nn.functional import gelu
    for x in (-3.0, -1.0, -0.5, 0.0, 0.3, 1.0, 2.5):
        expected = 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
        assert abs(float(gelu(np.float64(x), "tanh")) - expected) < 1e-15
    # the approximation stays within 1e-3 of the exact GELU on [-4, 4]
    xs = np.linspace(-4, 4, 801)
    assert np.max(np.abs(gelu(xs, "tanh") - gelu(xs))) < 1e-3
    assert np.max(np.abs(gelu(xs, "tanh") - gelu(xs))) > 1e-5     # and is not the same function
    with pytest.raises(ValueError, match="approximate"):
        gelu(xs, "sigmoid")


def test_head_weights_slice_the_packed_projection_as_multi_head_attention_splits_it():
    """Head h's Wq, bq (tutor.nn.attention.head_weights) give the q that
    multi_head_attention records for head h: X·Wq + bq, and likewise k and v."""
    from tutor.nn.attention import head_weights, multi_head_attention

    rng = np.random.default_rng(3)
    d_model, n_head, n = 6, 3, 4
    params = {"in_proj_weight": rng.normal(size=(3 * d_model, d_model)),
              "in_proj_bias": rng.normal(size=3 * d_model),
              "out_proj.weight": rng.normal(size=(d_model, d_model)),
              "out_proj.bias": rng.normal(size=d_model)}
    x = rng.normal(size=(1, n, d_model))
    trace = Trace()
    multi_head_attention(x, x, x, params, n_head, trace=trace)
    for h in range(n_head):
        w_q, b_q, w_k, b_k, w_v, b_v = head_weights(params["in_proj_weight"],
                                                    params["in_proj_bias"], h, n_head)
        assert w_q.shape == (d_model, d_model // n_head)
        np.testing.assert_allclose(x[0] @ w_q + b_q, trace["q"][0, h], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(x[0] @ w_k + b_k, trace["k"][0, h], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(x[0] @ w_v + b_v, trace["v"][0, h], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="head must be 0 to 2"):
        head_weights(params["in_proj_weight"], None, 3, n_head)
