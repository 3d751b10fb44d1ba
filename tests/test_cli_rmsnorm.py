"""`tutor rmsnorm`: RMSNorm against the closed form and transformers' LlamaRMSNorm, layer
norm beside it, the operation counts, rendering, bad input."""

from pathlib import Path

import numpy as np
import pytest

from cli_helpers import for_command, one_line_error

run, run_json = for_command("rmsnorm")
GOLDEN = np.load(Path(__file__).resolve().parent / "golden" / "modern" / "modern.npz")


def test_rmsnorm_of_1_2_3_4():
    m = run_json("1,2,3,4", "--eps", "0")["matrices"]
    assert m["rms.mean_square"] == [7.5] and m["rms.rms"] == [pytest.approx(np.sqrt(7.5))]
    np.testing.assert_allclose(m["rms.out"], np.array([1, 2, 3, 4]) / np.sqrt(7.5), rtol=1e-15)
    xhat = (np.array([1, 2, 3, 4]) - 2.5) / np.sqrt(1.25)
    np.testing.assert_allclose(m["layer.out"], xhat, rtol=1e-14)          # beside it
    np.testing.assert_allclose(m["centered.out"], xhat, rtol=1e-14)       # RMSNorm(x − μ)
    assert m["counts"] == [[30, 2, 8], [18, 1, 4]]                        # 7d+2, 4d+2 at d = 4


def test_equals_transformers_llama_rms_norm():
    for x, want in zip(GOLDEN["rms.x"], GOLDEN["rms.out"]):
        doc = run_json(",".join(f"{v:g}" for v in x), "--gain",
                       ",".join(f"{v:g}" for v in GOLDEN["rms.g"]))
        np.testing.assert_allclose(doc["matrices"]["rms.out"], want, rtol=2e-7, atol=1e-7)
    assert [s["key"] for s in doc["steps"]] == ["mean_square", "normalize", "scale",
                                                 "layernorm", "centered", "counts"]


def test_rendering_at_80_columns():
    for args in (["1,2,3,4"], ["5,6,7,8", "--gain", "2,2,1,1"],
                 [",".join(str(i) for i in range(64))]):
        out = run(*args).output
        assert max(len(line) for line in out.splitlines()) <= 80, args
    flat = " ".join(run("1,2,3,4").output.replace("│", " ").split())
    assert "ms = (1² + 2² + 3² + 4²) / 4 = 7.50" in flat
    assert "layer norm: 7d + 2 = 30 operations, RMSNorm: 4d + 2 = 18" in flat


@pytest.mark.parametrize("args, message", [
    ([], "'VECTOR': expected numbers"),
    (["1,nan"], "'VECTOR': expected finite numbers"),
    (["1,2,3", "--gain", "1,2"], "'--gain': expected 3 numbers"),
    (["1,2,3", "--eps", "-1"], "'--eps': expected a number ≥ 0"),
    (["0,0", "--eps", "0"], "'VECTOR': expected a number other than 0"),
])
def test_bad_input_is_one_line_exit_2(args, message, capsys):
    assert message in one_line_error(capsys, ["rmsnorm", *args])
