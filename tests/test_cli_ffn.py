"""`tutor ffn`: SwiGLU's gate against its formula, ReLU and GELU, parameter counts at equal
size (SmolLM2's 1536 = ⅔ of 4·576), rendering, bad input."""

import math

import numpy as np
import pytest

from cli_helpers import for_command, one_line_error

run, run_json = for_command("ffn")


def test_swiglu_gate_times_up():
    doc = run_json("the cat sat")
    m = doc["matrices"]
    gate, up = np.array(m["swiglu.gate"]), np.array(m["swiglu.up"])
    silu = gate / (1 + np.exp(-gate))
    np.testing.assert_allclose(m["swiglu.silu"], silu, atol=1e-14)
    np.testing.assert_allclose(m["swiglu.hidden"], silu * up, atol=1e-14)
    assert np.array(m["swiglu.out"]).shape == (3, 4)
    assert [s["key"] for s in doc["steps"]] == ["project", "gate", "hidden", "down", "params"]


@pytest.mark.parametrize("kind", ["relu", "gelu"])
def test_two_matrix_kinds(kind):
    m = run_json("the cat sat", "--kind", kind)["matrices"]
    h = np.array(m["ff.hidden"])
    want = np.maximum(h, 0) if kind == "relu" else \
        h * 0.5 * (1 + np.vectorize(math.erf)(h / math.sqrt(2)))
    np.testing.assert_allclose(m["ff.activated"], want, atol=1e-12)


def test_parameter_counts():
    m = run_json("the cat sat", "--ff", "6")["matrices"]
    assert m["params"] == [[6, 48], [6, 48], [6, 72], [4, 48]]          # 2·4·6, 3·4·6, 3·4·4
    assert m["params_smollm2"] == [[1536, 3 * 576 * 1536], [2304, 2 * 576 * 2304]]


def test_rendering_at_80_columns():
    for args in (["the cat sat"], ["the cat sat", "--kind", "gelu"],
                 ["the cat sat on the mat", "--ff", "16", "--dim", "8"]):
        out = run(*args).output
        assert max(len(line) for line in out.splitlines()) <= 80, args
    flat = " ".join(run("the cat sat").output.replace("│", " ").split())
    assert "3 × 576 × 1536 = 2,654,208 = 2 × 576 × 2304" in flat


@pytest.mark.parametrize("args, message", [
    (["the cat", "--kind", "tanh"], "'--kind'"),
    (["the cat", "--ff", "0"], "'--ff': expected a width from 1"),
    (["the cat", "--dim", "0"], "'--dim': expected a width from 1"),
])
def test_bad_input_is_one_line_exit_2(args, message, capsys):
    assert message in one_line_error(capsys, ["ffn", *args])
