"""tutor.nn.quant: Q8_0, Q4_1 and F16 blocks, bit for bit against gguf.quants (golden file made
by tests/golden/make_llama_golden.py), plus worked examples of the formulas."""

from pathlib import Path

import numpy as np
import pytest

from tutor.gguf import read_gguf
from tutor.nn import quant

HERE = Path(__file__).resolve().parent
GOLDEN = np.load(HERE / "golden" / "llama" / "tiny_llama.npz", allow_pickle=False)
TINY = HERE / "data" / "tiny_llama.gguf"


def _bits(a):
    return np.asarray(a, dtype=np.float32).view(np.uint32)


@pytest.mark.parametrize("name", [k[len("dequant."):] for k in GOLDEN if k.startswith("dequant.")])
def test_dequantize_equals_gguf_quants_bit_for_bit(name):
    gguf_file = read_gguf(TINY)
    info = gguf_file.tensors[name]
    ours = quant.dequantize(gguf_file.raw(name), info.kind, info.shape)
    expected = GOLDEN[f"dequant.{name}"]
    assert ours.dtype == np.float32 and ours.shape == expected.shape
    assert np.array_equal(_bits(ours), _bits(expected))


def test_the_golden_file_covers_every_type():
    kinds = {read_gguf(TINY).tensors[k[len("dequant."):]].kind for k in GOLDEN
             if k.startswith("dequant.")}
    assert kinds == {"F16", "Q8_0", "Q4_1"}


@pytest.mark.parametrize("kind", ["Q8_0", "Q4_1"])
def test_quantize_equals_gguf_quants_bit_for_bit(kind):
    x = GOLDEN["quant.input"]
    ours = quant.quantize_q8_0(x) if kind == "Q8_0" else quant.quantize_q4_1(x)
    assert ours.dtype == np.uint8
    assert np.array_equal(ours, GOLDEN[f"quant.{kind}"])


def test_q8_0_worked_example():
    # d = max|x| / 127 = 1.27 / 127 = 0.01; q = round(x / d)
    x = np.zeros(32, dtype=np.float32)
    x[:4] = [1.27, -0.635, 0.005, 0.0149]
    raw = quant.quantize_q8_0(x)
    assert raw.shape == (34,)
    d = raw[:2].view(np.float16)[0]
    assert d == np.float16(0.01)
    q = raw[2:].view(np.int8)
    assert q[:4].tolist() == [127, -64, 1, 1]                          # -63.5 and 0.5 round away from 0
    back = quant.dequantize_q8_0(raw)
    assert np.array_equal(back, np.float32(d) * q.astype(np.float32))


def test_q4_1_worked_example_and_nibble_order():
    # m = 0 (stored), d = 1: byte j = number j (low nibble) | number j + 16 (high nibble)
    raw = np.zeros(20, dtype=np.uint8)
    raw[0:2] = np.array([1.0], dtype=np.float16).view(np.uint8)
    raw[2:4] = np.array([-8.0], dtype=np.float16).view(np.uint8)
    raw[4:] = np.arange(16, dtype=np.uint8) | (np.uint8(15) - np.arange(16, dtype=np.uint8)) << 4
    x = quant.dequantize_q4_1(raw)
    assert x[:16].tolist() == [q - 8.0 for q in range(16)]             # x = d q + m
    assert x[16:].tolist() == [(15 - q) - 8.0 for q in range(16)]


def test_q4_1_round_trip_error_is_at_most_half_a_step():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 64)).astype(np.float32)
    back = quant.dequantize(quant.quantize_q4_1(x), "Q4_1", x.shape)
    blocks = x.reshape(-1, 32)
    step = (blocks.max(1) - blocks.min(1)) / 15
    # half a step, plus the float16 rounding of d and m
    assert np.all(np.abs(back.reshape(-1, 32) - blocks) <= step[:, None] * 0.51 + 2e-3)


def test_f16_is_exact_and_f32_is_a_view():
    halves = np.array([0.5, -2.0, 65504.0, 6e-8], dtype=np.float16)
    assert quant.dequantize(halves.view(np.uint8), "F16").tolist() == halves.astype(np.float32).tolist()
    raw = np.arange(4, dtype=np.float32).view(np.uint8)
    view = quant.dequantize(raw, "F32", (2, 2))
    assert np.shares_memory(view, raw) and view.tolist() == [[0, 1], [2, 3]]


def test_dequantize_into_a_slice():
    x = np.random.default_rng(1).standard_normal((2, 32)).astype(np.float32)
    raw = quant.quantize_q8_0(x)
    big = np.full((4, 32), 7.0, dtype=np.float32)
    quant.dequantize_q8_0(raw, out=big[1:3])
    assert np.array_equal(big[1:3], quant.dequantize(raw, "Q8_0", (2, 32)))
    assert (big[0] == 7).all() and (big[3] == 7).all()
    with pytest.raises(ValueError, match="C-contiguous"):
        quant.dequantize_q8_0(raw, out=big[:, :16].copy().T)


@pytest.mark.parametrize("name", [k[len("dequant."):] for k in GOLDEN if k.startswith("dequant.")])
def test_dequantize_with_out_writes_the_same_bits_of_every_type(name):
    gguf_file = read_gguf(TINY)
    info = gguf_file.tensors[name]
    out = np.full(info.shape, 7.0, dtype=np.float32)
    got = quant.dequantize(gguf_file.raw(name), info.kind, info.shape, out=out)
    assert np.shares_memory(got, out) and got.shape == info.shape
    assert np.array_equal(_bits(out), _bits(GOLDEN[f"dequant.{name}"]))
    assert np.array_equal(_bits(gguf_file.array(name, out=np.empty_like(out))), _bits(out))


def test_f32_into_a_strided_out_is_refused_not_lost():
    raw = np.arange(4, dtype=np.float32).view(np.uint8)
    strided = np.zeros((2, 4), dtype=np.float32)[:, ::2]               # [2, 2], not contiguous
    with pytest.raises(ValueError, match="C-contiguous"):
        quant.dequantize(raw, "F32", (2, 2), out=strided)


def test_bad_input_is_refused():
    with pytest.raises(KeyError, match="Q4_K"):
        quant.dequantize(np.zeros(144, np.uint8), "Q4_K")
    with pytest.raises(ValueError, match="20-byte blocks"):
        quant.dequantize_q4_1(np.zeros(21, np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        quant.dequantize_q8_0(np.zeros(34, np.int8))
    with pytest.raises(ValueError, match="takes 68 bytes"):
        quant.dequantize(np.zeros(34, np.uint8), "Q8_0", (2, 32))
    with pytest.raises(ValueError, match="multiple of 32"):
        quant.quantize_q4_1(np.zeros(48, np.float32))
    with pytest.raises(ValueError, match="multiple of 32"):
        quant.tensor_nbytes("Q8_0", 33)


@pytest.mark.parametrize("name", ["token_embd.weight", "blk.0.attn_q.weight",
                                  "blk.0.attn_output.weight", "blk.1.ffn_down.weight"])
def test_dequantize_transposed_into_a_column_block(name):
    gguf_file = read_gguf(TINY)
    info = gguf_file.tensors[name]
    rows, cols = info.shape
    big = np.full((cols, rows + 5), 7.0, dtype=np.float32)
    quant.dequantize_transposed(gguf_file.raw(name), info.kind, info.shape, big[:, 2:2 + rows],
                                chunk_rows=7)                          # several chunks, a ragged end
    assert np.array_equal(_bits(big[:, 2:2 + rows]), _bits(GOLDEN[f"dequant.{name}"].T))
    assert (big[:, :2] == 7).all() and (big[:, 2 + rows:] == 7).all()
    with pytest.raises(ValueError, match="out must be float32"):
        quant.dequantize_transposed(gguf_file.raw(name), info.kind, info.shape, big)
