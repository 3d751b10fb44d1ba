"""tutor.nn.modern (the math of today's calculators) against transformers, torch and gguf
(tests/golden/modern/modern.npz, made by tests/golden/make_modern_golden.py) and closed forms."""

from pathlib import Path

import numpy as np
import pytest

from tutor.nn import modern
from tutor.nn.llama import grouped_query_attention

GOLDEN = np.load(Path(__file__).resolve().parent / "golden" / "modern" / "modern.npz")


def test_rms_norm_equals_transformers_llama_rms_norm():
    for x, want in zip(GOLDEN["rms.x"], GOLDEN["rms.out"]):
        got = modern.rms_norm_steps(x, GOLDEN["rms.g"], 1e-5)
        np.testing.assert_allclose(got, want, rtol=2e-7, atol=1e-7)     # theirs is float32


def test_rms_norm_closed_form_of_1_2_3_4():
    from tutor.trace import Trace
    t = Trace()
    out = modern.rms_norm_steps(np.array([1.0, 2, 3, 4]), np.ones(4), 0.0, trace=t)
    assert t["mean_square"][0] == 7.5                                   # (1 + 4 + 9 + 16) / 4
    np.testing.assert_allclose(out, np.array([1, 2, 3, 4]) / np.sqrt(7.5), rtol=1e-15)
    np.testing.assert_allclose(np.sqrt(np.mean(out ** 2)), 1.0, rtol=1e-15)


def test_operation_counts():
    c = modern.norm_operation_counts(576)
    assert c["layernorm"] == {"operations": 7 * 576 + 2, "reductions": 2, "parameters": 1152}
    assert c["rmsnorm"] == {"operations": 4 * 576 + 2, "reductions": 1, "parameters": 576}
    with pytest.raises(ValueError):
        modern.norm_operation_counts(0)


@pytest.mark.parametrize("base", [10000, 100000])
def test_rope_equals_transformers_rotary_embedding(base):
    positions = np.arange(12)
    for name in ("q", "k"):
        got = modern.rope_rotate(GOLDEN[f"rope{base}.{name}"], positions, base)
        np.testing.assert_allclose(got, GOLDEN[f"rope{base}.{name}_embed"], atol=2e-6)


def test_rope_scores_depend_on_the_offset_only_and_layouts_agree():
    rng = np.random.default_rng(0)
    q, k = rng.normal(size=8), rng.normal(size=8)
    s = modern.rope_score(q, k, 2, 5)
    assert s == pytest.approx(modern.rope_score(q, k, 7, 10), abs=1e-12)
    assert s == pytest.approx(modern.rope_score(q, k, 100, 103), abs=1e-12)
    assert s != pytest.approx(modern.rope_score(q, k, 2, 6), abs=1e-3)
    perm = modern.halves_to_pairs(8)
    assert perm.tolist() == [0, 4, 1, 5, 2, 6, 3, 7]
    assert modern.rope_score(q[perm], k[perm], 2, 5, layout="pairs") == pytest.approx(s, abs=1e-12)
    # at offset 0 the rotation cancels: the plain dot product
    assert modern.rope_score(q, k, 9, 9) == pytest.approx(q @ k, abs=1e-12)


def test_repeat_kv_and_grouped_query_attention_equal_transformers():
    k = GOLDEN["gqa.k"][None]
    np.testing.assert_array_equal(modern.repeat_kv(k, 3)[0], GOLDEN["gqa.k_repeated"])
    out, _ = grouped_query_attention(GOLDEN["gqa.q"][None].copy(), k, GOLDEN["gqa.v"][None])
    np.testing.assert_allclose(out[0], GOLDEN["gqa.out"], atol=1e-12)


def test_kv_cache_bytes_of_smollm2():
    assert modern.kv_cache_bytes(30, 3, 64) == 46080                    # 2·30·3·64·4
    assert modern.kv_cache_bytes(30, 9, 64) == 3 * 46080                # MHA: 3×


def test_swiglu_equals_transformers_llama_mlp():
    from tutor.nn.llama import swiglu
    w = np.concatenate([GOLDEN["mlp.gate"], GOLDEN["mlp.up"]], axis=1)
    np.testing.assert_allclose(swiglu(GOLDEN["mlp.x"], w, GOLDEN["mlp.down"]), GOLDEN["mlp.out"],
                               atol=1e-12)


def test_ffn_parameter_counts():
    assert modern.ffn_parameters("relu", 576, 2304) == 2 * 576 * 2304
    assert modern.ffn_parameters("swiglu", 576, 1536) == 2 * 576 * 2304      # equal size
    assert modern.ffn_parameters("gelu", 4, 8, bias=True) == 64 + 12
    assert modern.swiglu_width_at_equal_size(2304) == 1536
    with pytest.raises(ValueError):
        modern.ffn_parameters("tanh", 4, 8)


@pytest.mark.parametrize("kind", ["Q8_0", "Q4_1"])
def test_quantize_blocks_equal_gguf(kind):
    x = GOLDEN["quant.x"]
    parts = modern.quantize_blocks(x, kind)
    np.testing.assert_array_equal(parts["reconstruction"].astype(np.float32),
                                  GOLDEN[f"quant.{kind}.out"])
    raw = GOLDEN[f"quant.{kind}"]
    assert parts["scale"][0] == raw[:2].view(np.float16)[0]
    if kind == "Q8_0":
        np.testing.assert_array_equal(parts["codes"], raw[2:].view(np.int8))
    else:
        assert parts["min"][0] == raw[2:4].view(np.float16)[0]
        np.testing.assert_array_equal(parts["codes"][:16], raw[4:] & 15)
        np.testing.assert_array_equal(parts["codes"][16:], raw[4:] >> 4)


def test_a_short_block_is_quantized_as_its_own_numbers():
    x = np.array([0.12, -0.5, 0.33, 0.9, -0.07])
    q8 = modern.quantize_blocks(x, "Q8_0")
    d = np.float16(np.float32(0.9) / np.float32(127))                    # max|x| / 127
    assert q8["scale"][0] == d and q8["codes"][3] == 127
    assert np.abs(q8["error"]).max() <= float(d) / 2 + 1e-6
    q4 = modern.quantize_blocks(x, "Q4_1")
    assert q4["min"][0] == np.float16(-0.5) and q4["codes"].min() == 0 and q4["codes"].max() == 15
    with pytest.raises(ValueError):
        modern.quantize_blocks(x, "Q5_K")


@pytest.mark.parametrize("block", [1, 2, 3, 5, 9])
def test_online_softmax_equals_softmax_attention(block):
    q, k, v = GOLDEN["flash.q"], GOLDEN["flash.k"], GOLDEN["flash.v"]
    np.testing.assert_allclose(modern.online_softmax_attention(q, k, v, block), GOLDEN["flash.out"],
                               atol=1e-13)
    np.testing.assert_allclose(modern.softmax_attention(q, k, v), GOLDEN["flash.out"], atol=1e-13)


def test_attention_memory():
    assert modern.attention_memory(8192, 64, 128) == {"softmax": 8192 ** 2,
                                                     "online": 2 * 8192 + 8192 * 128,
                                                     "output": 8192 * 64}


@pytest.mark.parametrize("block", [1, 2, 4])
def test_online_softmax_is_the_engines_chunked_attention(block):
    """The calculator's loop is the one the engine runs with chunk_size (nn.attention)."""
    from tutor.nn.attention import scaled_dot_product_attention
    q, k, v = GOLDEN["flash.q"], GOLDEN["flash.k"], GOLDEN["flash.v"]
    chunked, weights = scaled_dot_product_attention(q, k, v, chunk_size=block)
    assert weights is None                                              # no n×n weights kept
    np.testing.assert_allclose(modern.online_softmax_attention(q, k, v, block), chunked,
                               atol=1e-14)
