"""The stack and the models: parameters, trace, dtypes, masks, input checks, decoding."""

import subprocess
import sys

import numpy as np
import pytest

import tutor
from tutor import DTypeError, ParameterError, ShapeError, Trace, Transformer, TutorError
from tutor.nn import Seq2Seq, causal_mask, linear
from tutor.nn.params import TransformerConfig, transformer_shapes
from tutor.weightfiles import load_npz


def small(**options):
    return Transformer.random(8, 2, 2, 1, 16, seed=0, **options)


def inputs(batch=2, n_src=5, n_tgt=4, d=8, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((batch, n_src, d)).astype(dtype),
            rng.standard_normal((batch, n_tgt, d)).astype(dtype))


def test_parameter_names_and_shapes_follow_pytorch():
    shapes = transformer_shapes(TransformerConfig(8, 2, 1, 1, 16))
    assert shapes["encoder.layers.0.self_attn.in_proj_weight"] == (24, 8)
    assert shapes["encoder.layers.0.linear1.weight"] == (16, 8)
    assert shapes["decoder.layers.0.multihead_attn.out_proj.bias"] == (8,)
    assert shapes["decoder.layers.0.norm3.weight"] == (8,)
    assert shapes["encoder.norm.weight"] == shapes["decoder.norm.bias"] == (8,)
    # nn.Transformer(8, 2, 1, 1, 16).state_dict() has 12 + 2 + 18 + 2 entries
    assert len(shapes) == 34


def test_random_init_is_deterministic_and_pytorch_like():
    a, b, c = small(), small(), Transformer.random(8, 2, 2, 1, 16, seed=1)
    for name, value in a.params.items():
        np.testing.assert_array_equal(value, b.params[name])
    w = a.params["encoder.layers.0.self_attn.in_proj_weight"]
    assert not np.array_equal(w, c.params["encoder.layers.0.self_attn.in_proj_weight"])
    bound = np.sqrt(6 / (8 + 24))                                      # Xavier-uniform on [3E, E]
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    np.testing.assert_array_equal(a.params["encoder.layers.0.self_attn.in_proj_bias"], 0)
    np.testing.assert_array_equal(a.params["encoder.layers.0.norm1.weight"], 1)
    b1 = a.params["encoder.layers.0.linear1.bias"]
    assert np.abs(b1).max() <= 1 / np.sqrt(8) and np.abs(b1).max() > 0


def test_traced_and_untraced_outputs_are_identical_and_trace_records():
    model = small()
    src, tgt = inputs()
    trace = Trace()
    traced = model.forward(src, tgt, tgt_mask=causal_mask(4), trace=trace)
    plain = model.forward(src, tgt, tgt_mask=causal_mask(4))
    np.testing.assert_array_equal(traced, plain)
    weights = trace["decoder.layers.0.self_attn.weights"]
    assert weights.shape == (2, 2, 4, 4)                               # every head, not the average
    assert np.all(weights[..., np.triu_indices(4, 1)[0], np.triu_indices(4, 1)[1]] == 0)
    assert trace["decoder.layers.0.multihead_attn.weights"].shape == (2, 2, 4, 5)
    assert "encoder.layers.1.norm2.out" in trace
    np.testing.assert_array_equal(trace["decoder.norm.out"], traced)
    assert not trace["encoder.layers.0.self_attn.scores"].flags.writeable


def test_trace_refuses_to_record_a_name_twice():
    trace = Trace()
    trace.record("x", np.zeros(1))
    with pytest.raises(KeyError):
        trace.record("x", np.zeros(1))


def test_forward_is_decode_of_encode_and_unbatched_works():
    model = small()
    src, tgt = inputs()
    out = model.forward(src, tgt)
    np.testing.assert_array_equal(model.decode(tgt, model.encode(src)), out)
    np.testing.assert_allclose(model.forward(src[1], tgt[1]), out[1], rtol=1e-13, atol=1e-13)


def test_post_norm_and_pre_norm_differ_and_residual_is_sublayer_input():
    src, tgt = inputs()
    post = small().forward(src, tgt)
    pre = small(norm_first=True).forward(src, tgt)
    assert not np.allclose(post, pre)
    trace = Trace()
    small(norm_first=True).encode(src, trace=trace)
    layer = "encoder.layers.0."
    np.testing.assert_allclose(trace[layer + "add1"], src + trace[layer + "self_attn.out_proj"])
    np.testing.assert_allclose(trace[layer + "self_attn.q"].shape, (2, 2, 5, 4))


@pytest.mark.parametrize("norm_first", [False, True])
def test_float32_stays_float32_end_to_end(norm_first):
    model = small(norm_first=norm_first, dtype=np.float32, activation="gelu")
    assert all(v.dtype == np.float32 for v in model.params.values())
    src, tgt = inputs(dtype=np.float32)
    trace = Trace()
    out = model.forward(src, tgt, tgt_mask=causal_mask(4), src_key_padding_mask=np.zeros((2, 5), bool),
                        trace=trace)
    assert out.dtype == np.float32
    assert all(v.dtype in (np.float32, np.bool_) for v in trace.steps.values()), \
        {k: v.dtype for k, v in trace.steps.items() if v.dtype != np.float32}
    ref = model.astype(np.float64).forward(*inputs(), tgt_mask=causal_mask(4))
    np.testing.assert_allclose(out, ref, atol=1e-4)


def test_mixed_dtypes_are_refused_not_converted():
    model = small(dtype=np.float32)
    src, tgt = inputs()                                                # float64
    with pytest.raises(DTypeError, match="src is float64 but the model is float32"):
        model.forward(src, tgt)


def test_input_shapes_are_checked_with_names():
    model = small()
    src, tgt = inputs()
    with pytest.raises(ShapeError, match=r"src must be \[batch, seq, 8\].*\(2, 5, 7\)"):
        model.forward(src[..., :7], tgt)
    with pytest.raises(ShapeError, match="tgt_mask must have shape"):
        model.forward(src, tgt, tgt_mask=causal_mask(5))
    with pytest.raises(ShapeError, match="src_key_padding_mask must have shape"):
        model.forward(src, tgt, src_key_padding_mask=np.zeros((5, 2), bool))
    with pytest.raises(ShapeError, match="same batch size"):
        model.forward(src, tgt[:1])


def test_key_padding_mask_ignores_padded_keys():
    model = small()
    src, tgt = inputs(batch=1)
    pad = np.array([[False, False, False, True, True]])
    out = model.forward(src, tgt, src_key_padding_mask=pad, memory_key_padding_mask=pad)
    changed = src.copy()
    changed[0, 3:] = 99.0                                              # padding content must not matter
    out2 = model.forward(changed, tgt, src_key_padding_mask=pad, memory_key_padding_mask=pad)
    np.testing.assert_allclose(out, out2, rtol=1e-12, atol=1e-12)


def test_state_dict_round_trip_through_npz(tmp_path):
    model = small()
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = Transformer.load(path, nhead=2)
    assert loaded.config == model.config
    src, tgt = inputs()
    np.testing.assert_array_equal(loaded.forward(src, tgt), model.forward(src, tgt))
    as32 = Transformer.from_state_dict(model.state_dict(), 2, dtype="float32")
    assert as32.dtype == np.float32


def test_missing_extra_and_misshaped_parameters_are_named():
    state = small().state_dict()
    missing = dict(state)
    del missing["decoder.layers.0.norm2.bias"]
    with pytest.raises(ParameterError, match=r"'decoder.layers.0.norm2.bias' is missing.*\(8,\)"):
        Transformer.from_state_dict(missing, 2)
    extra = dict(state, **{"decoder.layers.0.extra": np.zeros(1)})
    with pytest.raises(ParameterError, match="unexpected parameter 'decoder.layers.0.extra'"):
        Transformer.from_state_dict(extra, 2)
    bad = dict(state)
    bad["encoder.layers.1.linear2.weight"] = np.zeros((8, 15))
    with pytest.raises(ParameterError, match=r"linear2.weight' has shape \(8, 15\), expected \(8, 16\)"):
        Transformer.from_state_dict(bad, 2)
    with pytest.raises(TutorError, match="nhead=3 must divide d_model=8"):
        Transformer.from_state_dict(state, 3)


def test_npz_with_object_array_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, **{"encoder.norm.weight": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(TutorError, match="without pickle"):
        load_npz(path)
    with pytest.raises(TutorError, match="no such file"):
        load_npz(tmp_path / "absent.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(TutorError, match="junk.npz"):
        load_npz(tmp_path / "junk.npz")


def test_seq2seq_greedy_decoding_picks_the_argmax_each_step():
    model = Seq2Seq.random(11, 8, 2, 2, 16, seed=3)
    src = np.array([[1, 2, 3], [4, 5, 6]])
    out = model.generate(src, 6, bos_id=0)
    assert out.shape == (2, 7) and np.all(out[:, 0] == 0)
    logits = model.logits(src, out[:, :-1])                            # teacher-forced on its own output
    np.testing.assert_array_equal(np.argmax(logits, axis=-1), out[:, 1:])
    np.testing.assert_array_equal(model.generate(src[1], 6, bos_id=0), out[1])


def test_seq2seq_embedding_scales_by_sqrt_d_model():
    model = Seq2Seq.random(5, 4, 1, 1, 8, seed=0)
    trace = Trace()
    emb = model.embed(np.array([[2, 3]]), "src_embedding", trace=trace)
    table = model.params["src_embedding.weight"]
    pe1 = [np.sin(1), np.cos(1), np.sin(0.01), np.cos(0.01)]
    np.testing.assert_allclose(emb[0, 1], table[3] * 2.0 + pe1)


def test_seq2seq_rejects_bad_token_ids():
    model = Seq2Seq.random(5, 4, 1, 1, 8, seed=0)
    with pytest.raises(TutorError, match="outside 0..4"):
        model.generate(np.array([1, 7]), 2)
    with pytest.raises(ShapeError, match="integer token ids"):
        model.generate(np.array([1.0, 2.0]), 2)


def test_math_layer_imports_neither_rich_nor_click():
    code = ("import sys, tutor.nn, tutor.trace; "
            "print(sorted(m for m in ('rich', 'click') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_api_is_lazy_and_complete():
    out = subprocess.run([sys.executable, "-c", "import sys, tutor; print('numpy' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert tutor.Transformer is Transformer and tutor.Seq2Seq is Seq2Seq
    with pytest.raises(AttributeError):
        tutor.NoSuchThing  # noqa: B018


def test_linear_matches_pytorch_convention():
    w = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])                  # [out=3, in=2]
    np.testing.assert_array_equal(linear(np.array([1.0, 1.0]), w, np.array([0.0, 1.0, 2.0])), [3, 8, 13])


def test_seq2seq_generation_stops_once_every_sequence_has_ended():
    model = Seq2Seq.random(11, 8, 2, 2, 16, seed=3)
    src = np.array([[1, 2, 3], [4, 5, 6]])
    free = model.generate(src, 6, bos_id=0)
    eos = int(free[0, 2])                                              # what sequence 0 says second
    out = model.generate(src, 6, bos_id=0, eos_id=eos)
    ended = out == eos
    assert ended[:, 1:].any(axis=1).all() or out.shape[1] == 7
    first = ended.argmax(axis=1)
    for row, start in zip(out, first):                                 # after eos, only eos
        if row[start] == eos:
            assert np.all(row[start:] == eos)
    np.testing.assert_array_equal(out[0, :3], free[0, :3])


@pytest.mark.parametrize("norm_first, dtype", [(False, np.float64), (True, np.float32)])
def test_cached_and_uncached_generation_give_the_same_tokens(norm_first, dtype):
    model = Seq2Seq.random(50, 16, 4, 2, 32, seed=5, norm_first=norm_first, dtype=dtype)
    src = np.random.default_rng(0).integers(1, 50, size=(3, 7))
    pad = np.zeros((3, 7), bool)
    pad[1, 5:] = True
    cached = model.generate(src, 40, bos_id=0, src_key_padding_mask=pad)
    uncached = model.generate(src, 40, bos_id=0, src_key_padding_mask=pad, use_cache=False)
    np.testing.assert_array_equal(cached, uncached)
    assert len(set(cached[0].tolist())) > 3                            # not a degenerate run


def test_decoding_with_a_cache_equals_the_full_causal_decode():
    model = small()
    src, tgt = inputs(n_tgt=6)
    memory = model.encode(src)
    full = model.decode(tgt, memory, tgt_mask=causal_mask(6))
    cache = model.new_cache()
    parts = [model.decode(tgt[:, :1], memory, cache=cache),            # one position,
             model.decode(tgt[:, 1:4], memory, cache=cache),           # then three at once,
             model.decode(tgt[:, 4:], memory, cache=cache)]            # then two
    assert cache.length == 6
    np.testing.assert_allclose(np.concatenate(parts, axis=1), full, rtol=1e-12, atol=1e-12)
    with pytest.raises(TutorError, match="causal"):
        model.decode(tgt, memory, tgt_mask=causal_mask(6), cache=model.new_cache())


def test_kv_cache_grows_without_losing_entries():
    from tutor.nn.attention import KVCache
    cache = KVCache()
    rng = np.random.default_rng(0)
    chunks = [rng.standard_normal((2, 3, n, 4)) for n in (1, 20, 1, 7)]
    for chunk in chunks:
        k, v = cache.extend(chunk, -chunk)
    np.testing.assert_array_equal(k, np.concatenate(chunks, axis=2))
    np.testing.assert_array_equal(v, -k)
    assert cache.length == 29


def test_a_state_dict_without_decoder_layers_is_named_as_such():
    state = {k: v for k, v in small().state_dict().items() if not k.startswith("decoder.layers")}
    with pytest.raises(ParameterError, match="no decoder.layers.. parameters"):
        Transformer.from_state_dict(state, 2)
