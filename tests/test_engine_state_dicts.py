"""The state dicts and input layouts tutor.nn takes (nn/model.py, nn/stacks.py, nn/params.py,
nn/attention.py): every state dict either works exactly or is refused by name, and inputs
are taken as PyTorch takes them. The numbers themselves are compared with PyTorch in
test_golden.py; these tests pin down the kinds: every name is used, every refusal names the
parameter, and the layouts (batch_first, unbatched, mask dtypes, is_causal) agree with each other."""

import numpy as np
import pytest

from tutor import (ParameterError, ShapeError, Transformer, TransformerDecoder,
                   TransformerEncoder, TutorError)
from tutor.nn import causal_float_mask, causal_mask, multi_head_attention
from tutor.nn.masks import is_causal_mask
from tutor.nn.params import state_dict_kind

RNG = np.random.default_rng(12)


def mha_params(d_model=8, kdim=None, vdim=None, bias=True, bias_kv=False, rng=RNG):
    params = {}
    if kdim is None and vdim is None:
        params["in_proj_weight"] = rng.standard_normal((3 * d_model, d_model))
    else:
        params["q_proj_weight"] = rng.standard_normal((d_model, d_model))
        params["k_proj_weight"] = rng.standard_normal((d_model, kdim or d_model))
        params["v_proj_weight"] = rng.standard_normal((d_model, vdim or d_model))
    params["out_proj.weight"] = rng.standard_normal((d_model, d_model))
    if bias:
        params["in_proj_bias"] = rng.standard_normal(3 * d_model)
        params["out_proj.bias"] = rng.standard_normal(d_model)
    if bias_kv:
        params["bias_k"] = rng.standard_normal((1, 1, d_model))
        params["bias_v"] = rng.standard_normal((1, 1, d_model))
    return params


# ---------------------------------------------------------------- 1. every name used or refused

@pytest.mark.parametrize("kdim, vdim, bias_kv", [(None, None, True), (5, 6, True), (5, 6, False)])
def test_every_attention_parameter_changes_the_output(kdim, vdim, bias_kv):
    """A name that were silently ignored (bias_k and bias_v were, before) would leave the
    output unchanged when its values change."""
    params = mha_params(kdim=kdim, vdim=vdim, bias_kv=bias_kv)
    query = RNG.standard_normal((2, 3, 8))
    key = RNG.standard_normal((2, 4, kdim or 8))
    value = RNG.standard_normal((2, 4, vdim or 8))
    base, _ = multi_head_attention(query, key, value, params, 2, add_zero_attn=True)
    for name in params:
        changed = dict(params, **{name: params[name] + 0.25 * RNG.standard_normal(params[name].shape)})
        out, _ = multi_head_attention(query, key, value, changed, 2, add_zero_attn=True)
        assert np.abs(out - base).max() > 1e-3, name


def test_bias_k_bias_v_and_zero_attn_written_out():
    """add_bias_kv and add_zero_attn, one head, by hand: the keys are [x W_k^T + b_k; bias_k; 0]
    and the values [x W_v^T + b_v; bias_v; 0] (PyTorch's multi_head_attention_forward), and no
    mask hides the two extra positions."""
    d = 8
    params = mha_params(bias_kv=True)
    x = RNG.standard_normal((1, 3, d))
    pad = np.array([[False, True, False]])
    out, weights = multi_head_attention(x, x, x, params, 1, key_padding_mask=pad,
                                        add_zero_attn=True)
    w, b = params["in_proj_weight"], params["in_proj_bias"]
    q = x[0] @ w[:d].T + b[:d]                                         # [3, d]
    k = np.vstack([x[0] @ w[d:2 * d].T + b[d:2 * d], params["bias_k"][0], np.zeros((1, d))])
    v = np.vstack([x[0] @ w[2 * d:].T + b[2 * d:], params["bias_v"][0], np.zeros((1, d))])
    scores = q @ k.T / np.sqrt(d)                                      # [3, 5]
    scores[:, 1] = -np.inf                                             # the padded key
    expected_weights = np.exp(scores - scores.max(-1, keepdims=True))
    expected_weights /= expected_weights.sum(-1, keepdims=True)
    expected = expected_weights @ v @ params["out_proj.weight"].T + params["out_proj.bias"]
    np.testing.assert_allclose(weights[0, 0], expected_weights, atol=1e-13, rtol=0)
    np.testing.assert_allclose(out[0], expected, atol=1e-12, rtol=0)


def test_unknown_attention_names_are_refused_by_name():
    params = mha_params()
    x = RNG.standard_normal((1, 3, 8))
    with pytest.raises(ParameterError, match="'bias_q'"):
        multi_head_attention(x, x, x, dict(params, bias_q=np.zeros(8)), 2)
    separate = mha_params(kdim=5, vdim=6)
    del separate["k_proj_weight"]                                      # was a bare KeyError
    with pytest.raises(ParameterError, match="'k_proj_weight' is missing"):
        multi_head_attention(x, x[..., :5], x[..., :6], separate, 2)
    with pytest.raises(ParameterError, match="'bias_v' is missing"):
        multi_head_attention(x, x, x, dict(params, bias_k=np.zeros((1, 1, 8))), 2)
    with pytest.raises(ParameterError, match="'q_proj_weight' given with 'in_proj_weight'"):
        multi_head_attention(x, x, x, dict(params, q_proj_weight=np.eye(8)), 2)
    with pytest.raises(ParameterError, match=r"'in_proj_bias' has shape \(8,\), expected \(24,\)"):
        multi_head_attention(x, x, x, dict(params, in_proj_bias=np.zeros(8)), 2)


@pytest.mark.parametrize("suffix, option", [("bias_k", "add_bias_kv"),
                                            ("q_proj_weight", "kdim/vdim")])
def test_stack_refuses_attention_options_its_layers_never_have(suffix, option):
    state = Transformer.random(8, 2, 1, 1, 16).state_dict()
    state[f"decoder.layers.0.multihead_attn.{suffix}"] = np.zeros((1, 1, 8))
    with pytest.raises(ParameterError, match=rf"'decoder\.layers\.0\.multihead_attn\.{suffix}' "
                                             rf"\({option}"):
        Transformer.from_state_dict(state, 2)


def test_every_stack_parameter_changes_the_output():
    model = TransformerEncoder.random(8, 2, 2, 16, seed=3)
    src = RNG.standard_normal((2, 4, 8))
    base = model(src)
    for name, value in model.params.items():
        # a random nudge: a constant one added to a matrix that feeds a layer norm cancels out
        nudge = 0.25 * RNG.standard_normal(value.shape)
        changed = TransformerEncoder.from_state_dict(dict(model.params, **{name: value + nudge}), 2)
        assert np.abs(changed(src) - base).max() > 1e-4, name


# ---------------------------------------------------------------- 2. the models people bring

def test_bias_false_models_have_no_bias_and_load_back():
    model = Transformer.random(8, 2, 1, 1, 16, bias=False)
    assert not any(name.endswith("bias") for name in model.params)
    again = Transformer.from_state_dict(model.state_dict(), 2)
    assert again.config.bias is False
    state = model.state_dict()
    state["encoder.norm.bias"] = np.zeros(8)                           # one bias: all are expected
    with pytest.raises(ParameterError, match="is missing"):
        Transformer.from_state_dict(state, 2)


def test_encoder_and_decoder_state_dicts_alone(tmp_path):
    full = Transformer.random(8, 2, 2, 1, 16, seed=5)
    state = full.state_dict()
    encoder_state = {k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")}
    decoder_state = {k[len("decoder."):]: v for k, v in state.items() if k.startswith("decoder.")}
    path = tmp_path / "encoder.npz"
    np.savez(path, **encoder_state)
    encoder = TransformerEncoder.load(path, 2)
    decoder = TransformerDecoder.from_state_dict(decoder_state, 2)
    src, tgt = RNG.standard_normal((2, 5, 8)), RNG.standard_normal((2, 3, 8))
    memory = encoder(src)
    np.testing.assert_array_equal(memory, full.encode(src))
    np.testing.assert_array_equal(decoder(tgt, memory, causal_mask(3)),
                                  full.forward(src, tgt, tgt_mask=causal_mask(3)))
    assert [state_dict_kind(s) for s in (state, encoder_state, decoder_state, {})] == [
        "transformer", "encoder", "decoder", "unknown"]
    with pytest.raises(ParameterError, match="whole nn.Transformer"):
        TransformerEncoder.from_state_dict(state, 2)
    with pytest.raises(ParameterError, match="TransformerEncoder"):
        Transformer.from_state_dict({f"encoder.{k}": v for k, v in encoder_state.items()}, 2)
    with pytest.raises(ParameterError, match="TransformerDecoder"):
        TransformerEncoder.from_state_dict(decoder_state, 2)
    with pytest.raises(ParameterError, match="'encoder.layers.0.self_attn.in_proj_weight' is "
                                             "missing .* load it with TransformerEncoder"):
        Transformer.from_state_dict(encoder_state, 2)                  # what --weights reads
    with pytest.raises(ParameterError, match="multihead_attn.in_proj_weight' is missing .* "
                                             "load it with TransformerEncoder"):
        TransformerDecoder.from_state_dict(encoder_state, 2)


def test_decoder_alone_decodes_with_a_cache_as_without():
    decoder = TransformerDecoder.random(8, 2, 2, 16, norm=False, seed=1)
    assert not decoder.has_norm
    tgt, memory = RNG.standard_normal((2, 4, 8)), RNG.standard_normal((2, 5, 8))
    whole = decoder(tgt, memory, causal_mask(4))
    cache = decoder.new_cache()
    steps = [decoder.decode(tgt[:, i:i + 1], memory, cache=cache) for i in range(4)]
    np.testing.assert_allclose(np.concatenate(steps, axis=1), whole, atol=1e-12, rtol=0)


def test_batch_first_false_reads_seq_batch_d():
    model = Transformer.random(8, 2, 1, 1, 16, seed=2)
    seq_first = Transformer.from_state_dict(model.state_dict(), 2, batch_first=False)
    src, tgt = RNG.standard_normal((2, 3, 8)), RNG.standard_normal((2, 3, 8))  # same lengths
    pad = np.array([[False, False, True], [False, False, False]])      # [batch, S] either way
    expected = model(src, tgt, tgt_mask=causal_mask(3), src_key_padding_mask=pad)
    got = seq_first(src.swapaxes(0, 1), tgt.swapaxes(0, 1), tgt_mask=causal_mask(3),
                    src_key_padding_mask=pad)
    # [seq, batch, d] is another memory layout, so another BLAS path: equal within float64's
    # rounding, not necessarily to the bit
    np.testing.assert_allclose(got.swapaxes(0, 1), expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ShapeError, match=r"same batch size \(axis 1\)"):
        seq_first(src.swapaxes(0, 1), RNG.standard_normal((3, 1, 8)))


def test_gelu_tanh_is_a_stack_activation():
    model = TransformerEncoder.random(8, 2, 1, 16, activation="gelu_tanh", seed=4)
    exact = TransformerEncoder.from_state_dict(model.state_dict(), 2, activation="gelu")
    src = RNG.standard_normal((1, 4, 8))
    assert 0 < np.abs(model(src) - exact(src)).max() < 1e-2            # close, not equal


# ---------------------------------------------------------------- 3. inputs as PyTorch takes them

def test_unbatched_inputs_take_one_dimensional_padding_masks():
    model = Transformer.random(8, 2, 1, 1, 16, seed=6)
    src, tgt = RNG.standard_normal((5, 8)), RNG.standard_normal((3, 8))
    pad = np.array([False, False, False, True, True])
    out = model(src, tgt, tgt_mask=causal_mask(3), src_key_padding_mask=pad,
                memory_key_padding_mask=pad, tgt_key_padding_mask=np.zeros(3, bool))
    batched = model(src[None], tgt[None], tgt_mask=causal_mask(3), src_key_padding_mask=pad[None],
                    memory_key_padding_mask=pad[None])
    assert out.shape == (3, 8)
    np.testing.assert_allclose(out, batched[0], atol=1e-14, rtol=0)
    with pytest.raises(ShapeError, match=r"src_key_padding_mask must have shape \(5,\)"):
        model.encode(src, src_key_padding_mask=pad[:4])


def test_causal_mask_with_past_is_the_last_rows_of_the_full_mask():
    """Query i of n_q new ones is position past + i: it sees keys 0..past + i."""
    full = causal_mask(5)                                              # [5, 5]
    later = np.arange(5)[None] > np.arange(5)[:, None]                # key j > query i
    assert full.dtype == np.bool_ and full.tolist() == later.tolist()
    for past in range(5):
        np.testing.assert_array_equal(causal_mask(5 - past, past=past), full[past:])
        np.testing.assert_array_equal(causal_mask(5 - past, 5, past=past), full[past:])
    assert causal_mask(1, past=3).tolist() == [[False] * 4]            # one new token sees all
    assert causal_mask(2, 3).tolist() == [[False, True, True], [False, False, True]]


def test_is_causal_hints_need_the_causal_mask():
    model = Transformer.random(8, 2, 1, 1, 16, seed=7)
    src, tgt = RNG.standard_normal((2, 4, 8)), RNG.standard_normal((2, 3, 8))
    plain = model(src, tgt, tgt_mask=causal_mask(3))
    for mask in (causal_mask(3), causal_float_mask(3), np.stack([causal_mask(3)] * 4)):
        np.testing.assert_array_equal(model(src, tgt, tgt_mask=mask, tgt_is_causal=True), plain)
    with pytest.raises(TutorError, match="tgt_is_causal=True .* tgt_mask is None"):
        model(src, tgt, tgt_is_causal=True)
    with pytest.raises(TutorError, match="src_is_causal=True but src_mask is not the causal"):
        model(src, tgt, src_mask=~causal_mask(4), src_is_causal=True)
    with pytest.raises(TutorError, match="memory_is_causal=True .* memory_mask is None"):
        model(src, tgt, memory_is_causal=True)
    memory_mask = causal_mask(3, 4)                                    # [T, S], top-left aligned
    assert is_causal_mask(memory_mask, 3, 4) and not is_causal_mask(causal_mask(4)[1:], 3, 4)
    np.testing.assert_array_equal(
        model(src, tgt, memory_mask=memory_mask, memory_is_causal=True),
        model(src, tgt, memory_mask=memory_mask))
    np.testing.assert_array_equal(model(src, tgt, src_is_causal=False), model(src, tgt))
    with pytest.raises(TutorError, match="tgt_is_causal must be True, False or None, got 'yes'"):
        model(src, tgt, tgt_mask=causal_mask(3), tgt_is_causal="yes")


def test_float_masks_of_another_dtype_are_cast_to_the_model():
    model = Transformer.random(8, 2, 1, 1, 16, seed=8)
    src, tgt = RNG.standard_normal((2, 4, 8)), RNG.standard_normal((2, 3, 8))
    mask64 = causal_float_mask(3)
    mask64[2, 0] = -0.5                                                # exact in float16 and 32
    pad64 = np.array([[0.0, 0.0, -np.inf, 0.0], [0.0, -1.25, 0.0, 0.0]])
    expected = model(src, tgt, tgt_mask=mask64, src_key_padding_mask=pad64)
    for dtype in (np.float32, np.float16):
        got = model(src, tgt, tgt_mask=mask64.astype(dtype),
                    src_key_padding_mask=pad64.astype(dtype))
        np.testing.assert_array_equal(got, expected)
    small = model.astype(np.float32)
    out32 = small(src.astype(np.float32), tgt.astype(np.float32), tgt_mask=mask64,
                  src_key_padding_mask=pad64)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, expected, atol=1e-4, rtol=0)


def test_need_weights_and_average_attn_weights():
    params = mha_params()
    query, source = RNG.standard_normal((2, 3, 8)), RNG.standard_normal((2, 5, 8))
    out, per_head = multi_head_attention(query, source, source, params, 2)
    assert per_head.shape == (2, 2, 3, 5)
    out_avg, averaged = multi_head_attention(query, source, source, params, 2,
                                             average_attn_weights=True)
    np.testing.assert_array_equal(out_avg, out)
    np.testing.assert_allclose(averaged, per_head.mean(axis=1), atol=1e-15, rtol=0)
    out_none, none = multi_head_attention(query, source, source, params, 2, need_weights=False,
                                          chunk_size=2)
    assert none is None
    np.testing.assert_allclose(out_none, out, atol=1e-13, rtol=0)
    chunked, never_formed = multi_head_attention(query, source, source, params, 2, chunk_size=2)
    assert never_formed is None                                        # chunks bound the memory
    np.testing.assert_allclose(chunked, out, atol=1e-13, rtol=0)
    one, weights = multi_head_attention(query[0], source[0], source[0], params, 2,
                                        key_padding_mask=np.zeros(5, bool),
                                        average_attn_weights=True)
    assert one.shape == (3, 8) and weights.shape == (3, 5)
    np.testing.assert_allclose(one, out[0], atol=1e-13, rtol=0)
    seq_first, _ = multi_head_attention(query.swapaxes(0, 1), source.swapaxes(0, 1),
                                        source.swapaxes(0, 1), params, 2, batch_first=False)
    np.testing.assert_allclose(seq_first.swapaxes(0, 1), out, atol=1e-13, rtol=0)
    with pytest.raises(TutorError, match="is_causal=True .* attn_mask is None"):
        multi_head_attention(query, source, source, params, 2, is_causal=True)
    with pytest.raises(TutorError, match="key_padding_mask must be boolean .* or float, got int64"):
        multi_head_attention(query, source, source, params, 2,
                             key_padding_mask=np.zeros((2, 5), np.int64))
