"""`tutor rope`: the rotation against transformers' LlamaRotaryEmbedding, the scores that
depend on m − n only, both layouts, sinusoidal beside it, rendering, bad input."""

from pathlib import Path

import numpy as np
import pytest

from cli_helpers import for_command, one_line_error

run, run_json = for_command("rope")
GOLDEN = np.load(Path(__file__).resolve().parent / "golden" / "modern" / "modern.npz")


def _vec(values):
    return ",".join(f"{v:g}" for v in values)


@pytest.mark.parametrize("base", [10000, 100000])
def test_rotation_equals_transformers(base):
    q, k = GOLDEN[f"rope{base}.q"][0], GOLDEN[f"rope{base}.k"][0]
    m = run_json("--query", _vec(q), "--key", _vec(k), "--positions", "12",
                 "--base", str(base))["matrices"]
    np.testing.assert_allclose(m["rope.out"], GOLDEN[f"rope{base}.q_embed"], atol=2e-6)
    np.testing.assert_allclose(m["rope.keys"], GOLDEN[f"rope{base}.k_embed"], atol=2e-6)
    np.testing.assert_allclose(m["rope.theta"], base ** (-np.arange(0, 8, 2) / 8), rtol=1e-15)


def test_scores_depend_on_the_offset_only():
    doc = run_json("--dim", "8", "--positions", "6")
    m = doc["matrices"]
    s = np.array(m["scores.rope"])
    for offset in range(-5, 6):                                         # every diagonal constant
        diagonal = np.diagonal(s, offset)
        np.testing.assert_allclose(diagonal, diagonal[0], atol=1e-12)
    (m1, n1, d1, s1), (m2, n2, d2, s2) = m["offset"]
    assert (m1, n1, d1, m2, n2, d2) == (2, 5, -3, 7, 10, -3)
    assert s1 == pytest.approx(s2, abs=1e-12) and s1 == pytest.approx(s[2, 5], abs=1e-12)
    assert m["layouts.max_diff"] < 1e-12
    np.testing.assert_allclose(m["layouts.scores"], s, atol=1e-12)
    sin = np.array(m["scores.sinusoidal"])                              # not a function of m − n
    assert np.ptp(np.diagonal(sin)) > 0.1
    q = np.array(m["queries"])[0]
    np.testing.assert_allclose(np.linalg.norm(m["rope.out"], axis=1), np.linalg.norm(q))


def test_a_sentence_gives_each_word_its_position():
    doc = run_json("the cat sat the cat", "--embed", "the=0.2,1,0.5,-0.3", "--embed",
                   "cat=1,0.4,-0.2,0.8")
    m = doc["matrices"]
    assert doc["tokens"] == ["the", "cat", "sat", "the", "cat"]
    s, plain = np.array(m["scores.rope"]), np.array(m["scores.plain"])
    # the same two words at the same offset, anywhere: the at 0 → cat at 1, the at 3 → cat at 4
    assert s[0, 1] == pytest.approx(s[3, 4], abs=1e-12)
    assert s[0, 4] != pytest.approx(s[0, 1], abs=1e-3)                  # farther apart: another
    assert plain[0, 4] == pytest.approx(plain[0, 1], abs=1e-12)         # without positions: equal
    np.testing.assert_allclose(np.diagonal(s), np.diagonal(plain), atol=1e-12)   # offset 0


def test_rendering_at_80_columns():
    for args in (["--dim", "8"], ["the cat sat on the mat"], ["--dim", "16", "--positions", "20"]):
        out = run(*args).output
        assert max(len(line) for line in out.splitlines()) <= 80, args
    flat = " ".join(run("--dim", "8").output.replace("│", " ").split())
    assert "score(q at 2, k at 5): m − n = -3" in flat


@pytest.mark.parametrize("args, message", [
    (["--dim", "7"], "'--dim': expected an even width"),
    (["--dim", "0"], "'--dim': expected a width from 2"),
    (["--positions", "0"], "'--positions': expected a number of positions from 1"),
    (["--base", "1"], "'--base': expected a number from 2 to 1,000,000"),
    (["--query", "1,2", "--dim", "4"], "'--query': expected 4 numbers"),
    (["the cat", "--query", "1,2"], "'--query': expected no sentence"),
    (["--embed", "cat=1,2"], "'--embed': expected a SENTENCE"),
])
def test_bad_input_is_one_line_exit_2(args, message, capsys):
    assert message in one_line_error(capsys, ["rope", *args])
