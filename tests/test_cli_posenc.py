"""`tutor posenc`: the table against the closed form, the notes' PE(1) (right where the notes
are wrong), embedding + PE, learned tables, the word-order comparison, rendering, bad input."""


import numpy as np
import pytest

from cli_helpers import for_command



run, run_json = for_command("posenc")


def closed_form(n, d):
    pe = np.zeros((n, d))
    for pos in range(n):
        for j in range(d):
            angle = pos / 10000 ** (2 * (j // 2) / d)
            pe[pos, j] = np.sin(angle) if j % 2 == 0 else np.cos(angle)
    return pe


@pytest.mark.parametrize("d, n", [(4, 6), (5, 3), (64, 50)])
def test_table_matches_the_closed_form(d, n):
    doc = run_json("--dim", str(d), "--positions", str(n))
    np.testing.assert_allclose(doc["matrices"]["sinusoidal.pe"], closed_form(n, d), atol=1e-15)
    assert [s["key"] for s in doc["steps"]] == ["frequencies", "angles", "table"]


def test_position_one_is_right_where_the_notes_are_wrong():
    doc = run_json("--dim", "4")
    pe1 = np.array(doc["matrices"]["sinusoidal.pe"][1])
    np.testing.assert_allclose(pe1, [np.sin(1), np.cos(1), np.sin(0.01), np.cos(0.01)])
    np.testing.assert_allclose(pe1, [0.841, 0.540, 0.010, 0.99995], atol=5e-4)
    assert abs(pe1[3] - 0.99995) < 1e-6 and abs(pe1[3] - 0.995) > 4e-3
    flat = " ".join(run("--dim", "4").output.replace("│", " ").split())
    assert "PE(1, d4) = cos(0.01) = 0.99995" in flat
    assert "[0.841, 0.540, 0.010, 0.99995]" in flat
    assert "d3: sin(pos / 10000^(2/4)) = sin(pos × 0.01)" in flat


def test_sentence_adds_embedding_and_pe():
    doc = run_json("--sentence", "the cat", "--embed", "the=0.1,0.2,0.3,0.4",
                   "--embed", "cat=0.5,0.8,0.7,0.8")
    x = np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.8, 0.7, 0.8]])
    np.testing.assert_array_equal(doc["matrices"]["input.embedded"], x)
    np.testing.assert_allclose(doc["matrices"]["input.out"], x + closed_form(2, 4), atol=1e-15)
    assert doc["steps"][-1]["key"] == "input"


def test_learned_table_from_a_file_and_from_the_seed(tmp_path):
    table = np.arange(12.0).reshape(4, 3) / 10
    np.save(tmp_path / "pe.npy", table)
    doc = run_json("--learned", "--table", str(tmp_path / "pe.npy"), "--positions", "3")
    np.testing.assert_array_equal(doc["matrices"]["learned.pe"], table[:3])
    a = run_json("--learned", "--seed", "5", "--dim", "3", "--positions", "2")
    b = run_json("--learned", "--seed", "5", "--dim", "3", "--positions", "2")
    assert a["matrices"]["learned.pe"] == b["matrices"]["learned.pe"]
    assert np.array(a["matrices"]["learned.pe"]).shape == (2, 3)


def test_compare_without_pe_reorders_with_pe_differs():
    doc = run_json("--compare", "lion kills tiger", "tiger kills lion")
    za, zb = (np.array(doc["matrices"][f"{s}.plain.out"]) for s in "ab")
    np.testing.assert_allclose(za[[2, 1, 0]], zb, atol=1e-12)         # the same set, reordered
    wa, wb = (np.array(doc["matrices"][f"{s}.with_pe.out"]) for s in "ab")
    assert np.abs(wa[[2, 1, 0]] - wb).max() > 0.1
    assert doc["settings"]["same_set_without_pe"] is True
    assert doc["settings"]["same_set_with_pe"] is False


def test_rendering_at_80_columns_plain():
    for args in (["--dim", "4"], ["--dim", "64", "--positions", "40"],
                 ["--compare", "lion kills tiger", "tiger kills lion"],
                 ["--sentence", "the cat"], ["--learned"]):
        result = run(*args)
        assert result.exit_code == 0
        assert max(len(line) for line in result.output.splitlines()) <= 80, args
        assert "\x1b[" not in result.output
    out = run("--dim", "64", "--positions", "40").output
    assert "PE  40×64  (▁ = -1 … █ = 1)" in out                        # a heatmap, not numbers


def test_markdown_and_latex_render():
    assert "| **pos 1** | 0.84 | 0.54 | 0.010 | 1.00 |" in run("--format", "markdown").output
    assert r"\begin{tabular}" in run("--format", "latex").output


def test_help_has_examples():
    out = run("--help").output
    assert "Examples:" in out and 'tutor posenc --compare "lion kills tiger"' in out


@pytest.mark.parametrize("args, message", [
    (["--dim", "0"], "'--dim': expected a width from 1 to 64, got 0"),
    (["--dim", "65"], "'--dim': expected a width from 1 to 64, got 65"),
    (["--positions", "-1"], "'--positions': expected a number of positions from 1 to 128"),
    (["--positions", "129"], "'--positions': expected a number of positions from 1 to 128"),
    (["--sentence", "  "], "'--sentence': expected at least one word"),
    (["--sentence", "a b c", "--positions", "2"], "'--positions': expected at least 3"),
    (["--table", "1,2"], "'--table': expected --learned"),
    (["--learned", "--table", "1,2;3,4", "--positions", "3"], "expected at least 3 rows"),
    (["--learned", "--table", "1,2;3,4", "--dim", "3"], "expected 3 columns (--dim 3)"),
    (["--learned", "--table", "1,nan"], "expected finite numbers, got nan"),
    (["--learned", "--table", "inf,1"], "expected finite numbers, got inf"),
    (["--compare", "a b", "a c"], "'--compare': expected two orderings of the same words"),
    (["--compare", "", ""], "'--compare': expected at least one word"),
    (["--compare", "a b", "b a", "--learned"], "expected --compare on its own"),
    (["--embed", "a=1,2"], "'--embed': expected --sentence"),
    (["--sentence", "a b", "--embed", "a=1,2"], "expected 4 numbers for 'a', the width of the sentence's other words"),
])
def test_bad_input_is_one_line_exit_2(capsys, args, message):
    from tutor.cli import main
    with pytest.raises(SystemExit) as info:
        main(["posenc", *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1


def test_the_text_places_sine_in_the_columns_it_labels_d1_d3():
    flat = " ".join(run("--dim", "4").output.replace("│", " ").split())
    assert "Sine in d1, d3" in flat and "cosine in d2, d4" in flat
    assert "Sine on even columns" not in flat                          # d2, d4 are cosines
    table = run_json("--dim", "4")["matrices"]["sinusoidal.pe"]
    assert table[1][0] == pytest.approx(np.sin(1)) and table[1][1] == pytest.approx(np.cos(1))


def test_compare_of_the_same_sentence_twice_is_not_called_a_reordering():
    out = run("--compare", "the cat sat", "the cat sat").output
    assert "reordering" not in out and "another order" not in out
    assert "the same sentence, word for word" in out


def test_compare_tells_a_repeated_word_apart_by_its_position():
    doc = run_json("--compare", "the dog saw the cat", "the cat saw the dog")
    worked = [line for step in doc["steps"] for part in step["parts"] for line in part["worked"]]
    # the first word that moves is dog (position 2 in A, 5 in B), not "the", which stays put
    assert worked[0].startswith("z(dog) in A = ") and "(position 2 in A, 5 in B)" in worked[0]
    a = np.array(doc["matrices"]["a.plain.out"])
    b = np.array(doc["matrices"]["b.plain.out"])
    np.testing.assert_allclose(a[1], b[4])                  # without PE: dog's row only moves
    out = run("--compare", "the dog saw the cat", "the cat saw the dog").output
    assert "the#1" in out and "the#4" in out


def test_moved_word_matches_repeated_words_occurrence_by_occurrence():
    from tutor.render.posenc import moved_word

    assert moved_word(["a", "b", "a"], ["a", "b", "a"]) is None
    assert moved_word(["a", "b", "a", "c"], ["a", "c", "a", "b"]) == (1, 3)
    assert moved_word(["the", "the", "cat"], ["the", "cat", "the"]) == (1, 2)
