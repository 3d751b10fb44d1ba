"""`tutor multihead`: heads, concatenation and projection against NumPy written out directly,
rendering, bad input."""


import numpy as np
import pytest

from cli_helpers import for_command

from tutor.cli import main

X_NOTES = np.array([[1, 0, 1, 0], [0, 1, 0, 1], [1, 1, 1, 1]], dtype=float)


run, run_json = for_command("multihead")


def reference(x, wq, wk, wv, wo, h):
    heads = []
    d = wq.shape[1] // h
    for i in range(h):
        cols = slice(i * d, (i + 1) * d)
        q, k, v = x @ wq[:, cols], x @ wk[:, cols], x @ wv[:, cols]
        s = q @ k.T / np.sqrt(d)
        e = np.exp(s - s.max(1, keepdims=True))
        heads.append(e / e.sum(1, keepdims=True) @ v)
    concat = np.concatenate(heads, axis=1)
    return concat, concat @ wo


def test_random_weights_against_numpy():
    doc = run_json("the cat sat", "--heads", "2", "--seed", "5")
    m = {k: np.array(v) for k, v in doc["matrices"].items()}
    np.testing.assert_array_equal(m["x"], X_NOTES)
    concat, out = reference(X_NOTES, m["w_q"], m["w_k"], m["w_v"], m["w_o"], 2)
    np.testing.assert_allclose(m["concat"], concat, rtol=1e-12)
    np.testing.assert_allclose(m["out"], out, rtol=1e-12)
    np.testing.assert_array_equal(m["head1.w_q"], m["w_q"][:, 2:])
    assert [s["key"] for s in doc["steps"]] == ["inputs", "split", "projections", "scores",
                                                "scaled", "softmax", "output", "concat",
                                                "projection"]


def test_identity_weights_and_four_heads():
    doc = run_json("the cat sat", "--heads", "4", "--wq", "identity", "--wk", "identity",
                   "--wv", "identity", "--wo", "identity")
    concat, out = reference(X_NOTES, *(np.eye(4),) * 4, 4)
    np.testing.assert_allclose(doc["matrices"]["out"], out, rtol=1e-12)
    # one column per head: head 0 sees d1 only, so THE·SAT = 1 there
    assert doc["matrices"]["head0.scores"][0] == [1.0, 0.0, 1.0]


def test_rendering_at_80_columns():
    for args in (["the cat sat"], ["the cat sat", "--heads", "4", "--dim", "16"]):
        out = run(*args).output
        assert max(len(line) for line in out.splitlines()) <= 80
        assert "\x1b[" not in out
    out = run("the cat sat").output
    assert "Step 2 of 9 · Split the weights into heads" in out
    assert "Wq2 = columns 3–4 of Wq" in out
    assert "Examples:" in run("--help").output


@pytest.mark.parametrize("args, message", [
    (["the cat sat", "--heads", "3"], "'--heads': expected a number that divides d_model 4, got 3"),
    (["the cat sat", "--heads", "0"], "'--heads': expected a number of heads from 1 to 16"),
    (["the cat sat", "--dim", "0"], "'--dim': expected a width from 1 to 64, got 0"),
    (["the cat sat", "--dim", "128"], "'--dim': expected a width from 1 to 64, got 128"),
    (["  "], "'SENTENCE': expected at least one word"),
    (["the cat sat", "--wq", "1,0;0,1"], "'--wq': expected a 4×4 matrix (d_model = 4), got 2×2"),
    (["the cat sat", "--wo", "1,nan"], "expected finite numbers, got nan"),
])
def test_bad_input(capsys, args, message):
    with pytest.raises(SystemExit) as info:
        main(["multihead", *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1


def test_one_head_is_the_multi_head_form_with_a_single_head():
    m = run_json("the cat", "--heads", "1")["matrices"]
    np.testing.assert_allclose(m["concat"], m["head0.out"])
    np.testing.assert_allclose(np.array(m["out"]), np.array(m["concat"]) @ np.array(m["w_o"]))
    assert "nothing to place beside it" in run("the cat", "--heads", "1", "--step", "8").output
