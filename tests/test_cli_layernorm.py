"""`tutor layernorm`: layer norm against the closed form, batch norm beside it, add & norm,
rendering, bad input."""


import numpy as np
import pytest

from cli_helpers import for_command, invoke

from tutor.cli import main


run, run_json = for_command("layernorm")


def test_layer_norm_of_1_2_3_4():
    doc = run_json("1,2,3,4", "--gamma", "2,2,2,2", "--beta", "0,0,1,1", "--eps", "0")
    m = doc["matrices"]
    assert m["layer.mean"] == [2.5] and m["layer.var"] == [1.25]       # biased variance
    xhat = (np.array([1, 2, 3, 4]) - 2.5) / np.sqrt(1.25)
    np.testing.assert_allclose(m["layer.normalized"], xhat, rtol=1e-15)
    np.testing.assert_allclose(m["layer.out"], 2 * xhat + [0, 0, 1, 1], rtol=1e-15)
    assert np.mean(m["layer.normalized"]) == pytest.approx(0, abs=1e-15)
    assert np.var(m["layer.normalized"]) == pytest.approx(1, rel=1e-14)
    assert [s["key"] for s in doc["steps"]] == ["mean", "var", "normalize", "affine"]


def test_eps_is_inside_the_square_root():
    doc = run_json("1 2 3 4", "--eps", "0.75")
    np.testing.assert_allclose(doc["matrices"]["layer.normalized"],
                               (np.array([1, 2, 3, 4]) - 2.5) / np.sqrt(1.25 + 0.75))


def test_batch_norm_beside_layer_norm():
    x = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 10.0]])
    doc = run_json("--batch", "1,2,3;4,5,6;7,8,10", "--eps", "0")
    m = doc["matrices"]
    np.testing.assert_allclose(m["layer.out"], (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True))
    np.testing.assert_allclose(m["batch.out"], (x - x.mean(0)) / x.std(0))
    assert [s["key"] for s in doc["steps"]] == ["input", "layer", "batch"]


def test_add_and_norm_adds_the_sublayers_own_input():
    doc = run_json("1,2,3,4", "--residual", "--sublayer", "0.5,0,0,-0.5", "--eps", "0")
    m = doc["matrices"]
    r = np.array([1.5, 2, 3, 3.5])
    assert m["input"] == [1, 2, 3, 4] and m["add"] == r.tolist()
    np.testing.assert_allclose(m["norm.out"], (r - r.mean()) / r.std(), rtol=1e-14)
    assert doc["steps"][0]["key"] == "add"
    a = run_json("1,2,3,4", "--residual", "--seed", "4")["matrices"]["sublayer"]
    assert a == run_json("1,2,3,4", "--residual", "--seed", "4")["matrices"]["sublayer"]


def test_rendering_at_80_columns():
    for args in (["1,2,3,4"], ["--batch", "1,2,3;4,5,6"], ["1,2,3,4", "--residual"],
                 [",".join(str(i) for i in range(64))]):
        out = run(*args).output
        assert max(len(line) for line in out.splitlines()) <= 80, args
        assert "\x1b[" not in out
    flat = " ".join(run("1,2,3,4").output.replace("│", " ").split())
    assert "μ = (1 + 2 + 3 + 4) / 4 = 2.50" in flat
    assert "Examples:" in run("--help").output


@pytest.mark.parametrize("args, message", [
    ([], "'VECTOR': expected numbers"),
    ([""], "'VECTOR': expected numbers such as"),
    (["1,nan"], "'VECTOR': expected finite numbers, got nan"),
    (["1,inf"], "'VECTOR': expected finite numbers, got inf"),
    (["1,2;3,4"], "'VECTOR': expected one row of numbers, got 2 rows"),
    ([",".join(["1"] * 257)], "'VECTOR': expected at most 256 numbers, got 257"),
    (["1,2,3", "--gamma", "1,2"], "'--gamma': expected 3 numbers"),
    (["1,2,3", "--beta", "1,2,3,4"], "'--beta': expected 3 numbers"),
    (["1,2,3", "--eps", "-1"], "'--eps': expected a number from 0 to 1,000,000, got -1"),
    (["1,2,3", "--eps", "nan"], "'--eps': expected a finite number"),
    (["1,2", "--batch", "1,2;3,4"], "'--batch': expected either VECTOR or --batch"),
    (["--batch", "1,2"], "'--batch': expected at least 2 rows"),
    (["--batch", "1,2;3"], "every row to have 2 numbers"),
    (["1,2", "--sublayer", "1,2"], "'--sublayer': expected --residual"),
    (["1,2", "--residual", "--sublayer", "1"], "'--sublayer': expected 2 numbers"),
])
def test_bad_input(capsys, args, message):
    with pytest.raises(SystemExit) as info:
        main(["layernorm", *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1


def _flat(text):
    """A screen's words, box borders dropped."""
    return " ".join(text.replace("│", " ").split())


def test_add_and_norm_formulas_name_the_residual_sum():
    text = _flat(invoke("layernorm", "1,2,3,4", "--residual").output)
    assert "μ = (1/d) Σ r_j" in text and "σ² = (1/d) Σ (r_j − μ)²" in text
    assert "n = (r − μ) / √(σ² + ε)" in text and "Σ x_j" not in text
    plain = _flat(invoke("layernorm", "1,2,3,4").output)
    assert "μ = (1/d) Σ x_j" in plain
    latex = invoke("layernorm", "1,2,3,4", "--residual", "--format", "latex").output
    assert r"\sum_j r_j" in latex and r"\hat r = \frac{r-\mu}" in latex
