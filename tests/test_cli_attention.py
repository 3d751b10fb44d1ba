"""`tutor attention`: the notes' example, every SPEC form against NumPy, the formats, the
options, and every bad input (one line, exit code 2, no traceback)."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tutor.cli import cli

DATA = Path(__file__).parent / "data"
THE, CAT, SAT = [1, 0, 1, 0], [0, 1, 0, 1], [1, 1, 1, 1]
X_NOTES = np.array([THE, CAT, SAT], dtype=float)


def run(*args, env=None):
    runner = CliRunner()
    env = {"NO_COLOR": None, "COLUMNS": "80", **(env or {})}      # expected texts are 80 wide
    return runner.invoke(cli, ["attention", *args], env=env, catch_exceptions=False)


def run_json(*args):
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def matrix(doc, name):
    return np.array(doc["matrices"][name], dtype=float)


def reference(x, wq, wk, wv, *, scale=True, causal=False):
    """Self-attention written out directly in NumPy: the answer the command must give."""
    q, k, v = x @ wq, x @ wk, x @ wv
    scores = q @ k.T
    logits = scores / np.sqrt(q.shape[1]) if scale else scores
    if causal:
        logits = np.where(np.triu(np.ones_like(logits, bool), 1), -np.inf, logits)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    weights = e / e.sum(axis=1, keepdims=True)
    return scores, weights, weights @ v


# --- the notes' worked example --------------------------------------------------------------

def test_default_run_is_the_notes_example():
    doc = run_json("the cat sat")
    assert doc["tokens"] == ["the", "cat", "sat"]
    np.testing.assert_array_equal(matrix(doc, "x"), X_NOTES)
    for name in ("w_q", "w_k", "w_v"):
        np.testing.assert_array_equal(matrix(doc, name), np.eye(4))
    for name in ("q", "k", "v"):
        np.testing.assert_array_equal(matrix(doc, name), X_NOTES)
    scores = np.array([[2, 0, 2], [0, 2, 2], [2, 2, 4]], dtype=float)
    np.testing.assert_array_equal(matrix(doc, "scores"), scores)
    np.testing.assert_allclose(matrix(doc, "scaled"), scores / 2)  # sqrt(dk) = sqrt(4) = 2
    e = np.e
    weights = np.array([[e, 1, e], [1, e, e], [1, 1, e]]) / np.array([[2 * e + 1], [2 * e + 1], [2 + e]])
    np.testing.assert_allclose(matrix(doc, "weights"), weights, rtol=1e-12)
    np.testing.assert_allclose(matrix(doc, "weights")[0], [0.4223, 0.1554, 0.4223], atol=5e-5)
    np.testing.assert_allclose(matrix(doc, "out"), weights @ X_NOTES, rtol=1e-12)
    assert doc["settings"] == {"d_model": 4, "d_k": 4, "d_k_per_head": 4, "d_v": 4, "heads": 1,
                               "causal": False, "scaled": True, "posenc": "none"}
    assert [s["key"] for s in doc["steps"]] == ["inputs", "projections", "scores", "scaled",
                                                "softmax", "output"]


def test_default_plain_output_matches_the_expected_text_at_80_columns():
    result = run("the cat sat")
    assert result.exit_code == 0
    expected = (DATA / "attention_the_cat_sat.txt").read_text(encoding="utf-8")
    assert result.output == expected
    assert max(len(line) for line in result.output.splitlines()) <= 80
    assert "\x1b[" not in result.output                        # piped: no colour codes


def test_default_output_tells_the_notes_example_right():
    out = run("the cat sat").output
    flat = " ".join(out.replace("│", " ").split())
    # the worked cell of the issue, spelled out
    assert "score(the, sat) = q(the)·k(sat) = [1 0 1 0]·[1 1 1 1] = 1×1 + 0×1 + 1×1 + 0×1 = 2" in flat
    # THE ties between THE and SAT (the notes say SAT alone)
    assert "the → the and sat (2 each, a tie)" in flat
    assert "the → the and sat (0.42 each, a tie)" in flat
    assert "sat → sat (4)" in flat
    # dk is explained, scaling prevents (not "presents") large products
    assert "dk = 4 is the width of the query and key vectors" in flat
    assert "scaled(the, sat) = 2 ÷ √4 = 2 ÷ 2 = 1" in flat
    assert "prevents large scores" in flat
    # the weights come before Q, K, V
    assert flat.index("Step 1 of 6 · Inputs") < flat.index("Wq 4×4") < flat.index("Step 2 of 6")
    assert "w(the, sat) = e^0 / (e^0 + e^-1 + e^0) = 1 / 2.37 = 0.42" in flat
    assert "z(the) = 0.42·v(the) + 0.16·v(cat) + 0.42·v(sat)" in flat
    for n in range(1, 7):
        assert f"Step {n} of 6" in flat


def test_case_of_the_words_does_not_change_the_vectors():
    doc = run_json("The CAT sat")
    np.testing.assert_array_equal(matrix(doc, "x"), X_NOTES)
    assert doc["tokens"] == ["The", "CAT", "sat"]


# --- user matrices: every SPEC form gives what NumPy gives ---------------------------------

RNG = np.random.default_rng(3)
XU = np.round(RNG.uniform(-1, 1, (3, 4)), 3)
WQ = np.round(RNG.uniform(-1, 1, (4, 3)), 3)
WK = np.round(RNG.uniform(-1, 1, (4, 3)), 3)
WV = np.round(RNG.uniform(-1, 1, (4, 2)), 3)


def inline(m):
    return ";".join(",".join(repr(float(v)) for v in row) for row in m)


def write(tmp_path, form, name, m):
    if form == "inline":
        return inline(m)
    path = tmp_path / f"{name}.{form}"
    if form == "npy":
        np.save(path, m)
    elif form == "json":
        path.write_text(json.dumps(m.tolist()))
    else:
        path.write_text("\n".join(",".join(repr(float(v)) for v in row) for row in m))
    return str(path)


@pytest.mark.parametrize("form", ["inline", "npy", "json", "csv"])
def test_every_spec_form_gives_the_numpy_answer(tmp_path, form):
    args = ["a b c", "--embeddings", write(tmp_path, form, "x", XU),
            "--wq", write(tmp_path, form, "wq", WQ), "--wk", write(tmp_path, form, "wk", WK),
            "--wv", write(tmp_path, form, "wv", WV)]
    doc = run_json(*args)
    scores, weights, out = reference(XU, WQ, WK, WV)
    np.testing.assert_allclose(matrix(doc, "scores"), scores, rtol=1e-12)
    np.testing.assert_allclose(matrix(doc, "scaled"), scores / np.sqrt(3), rtol=1e-12)
    np.testing.assert_allclose(matrix(doc, "weights"), weights, rtol=1e-12)
    np.testing.assert_allclose(matrix(doc, "out"), out, rtol=1e-12)
    assert doc["settings"]["d_k"] == 3 and doc["settings"]["d_v"] == 2
    assert np.array(doc["matrices"]["out"]).shape == (3, 2)


def test_embed_and_random_weights_follow_the_seed():
    doc = run_json("the dog", "--embed", "dog=0.5,-1,0,2", "--wq", "random", "--wk", "random",
                   "--wv", "random", "--seed", "11")
    x = matrix(doc, "x")
    np.testing.assert_array_equal(x, [THE, [0.5, -1, 0, 2]])
    wq, wk, wv = (matrix(doc, n) for n in ("w_q", "w_k", "w_v"))
    assert not np.array_equal(wq, wk)
    _, weights, out = reference(x, wq, wk, wv)
    np.testing.assert_allclose(matrix(doc, "out"), out, rtol=1e-12)
    again = run_json("the dog", "--embed", "dog=0.5,-1,0,2", "--wq", "random", "--wk", "random",
                     "--wv", "random", "--seed", "11")
    np.testing.assert_array_equal(matrix(again, "w_q"), wq)
    other = run_json("the dog", "--wq", "random", "--seed", "12")
    assert not np.array_equal(matrix(other, "w_q"), wq)


def test_dk_projects_to_another_width():
    doc = run_json("the cat sat", "--dk", "2")
    np.testing.assert_array_equal(matrix(doc, "w_q"), np.eye(4, 2))
    np.testing.assert_array_equal(matrix(doc, "q"), X_NOTES[:, :2])
    _, weights, out = reference(X_NOTES, np.eye(4, 2), np.eye(4, 2), np.eye(4, 2))
    np.testing.assert_allclose(matrix(doc, "out"), out)


def test_dim_gives_derived_vectors_for_every_word():
    doc = run_json("the cat sat", "--dim", "6")
    x = matrix(doc, "x")
    assert x.shape == (3, 6) and not np.array_equal(x[:, :4], X_NOTES)
    np.testing.assert_allclose(x * 10, np.round(x * 10))


# --- options -----------------------------------------------------------------------------

def test_no_scale_shows_both_softmaxes():
    doc = run_json("the cat sat", "--no-scale")
    _, unscaled, out = reference(X_NOTES, *[np.eye(4)] * 3, scale=False)
    _, scaled, _ = reference(X_NOTES, *[np.eye(4)] * 3)
    np.testing.assert_array_equal(matrix(doc, "scaled"), matrix(doc, "scores"))
    np.testing.assert_allclose(matrix(doc, "weights"), unscaled)
    np.testing.assert_allclose(matrix(doc, "with_scaling.weights"), scaled)
    np.testing.assert_allclose(matrix(doc, "out"), out)
    flat = " ".join(run("the cat sat", "--no-scale", "--step", "5").output.replace("│", " ").split())
    assert "weights (no scaling) 3×3" in flat and "weights (scaled) 3×3" in flat
    assert "sat 0.79 instead of 0.58" in flat


def test_causal_masks_later_tokens_and_shows_them_as_masked():
    doc = run_json("the cat sat", "--causal")
    _, weights, out = reference(X_NOTES, *[np.eye(4)] * 3, causal=True)
    np.testing.assert_allclose(matrix(doc, "weights"), weights)
    np.testing.assert_allclose(matrix(doc, "out"), out)
    assert doc["matrices"]["masked"][0] == [1.0, None, None]       # -inf is null in JSON
    text = run("the cat sat", "--causal", "--step", "5").output
    rows = {line.split()[1]: line for line in text.splitlines() if line.startswith("│ the ")
            or line.startswith("│ cat ")}
    assert rows["the"].split()[2:5] == ["1.00█", "—", "—"]
    # bars scaled within each row (issue 12, item 11): 0.73 is cat's largest weight, 0.27 is
    # 0.37 of it (before: ▃ and ▆ on the absolute scale)
    assert rows["cat"].split()[2:5] == ["0.27▄", "0.73█", "—"]
    assert "0.00" not in rows["the"]
    assert "-inf" in run("the cat sat", "--causal", "--step", "4").output


def test_posenc_adds_sinusoids_first():
    doc = run_json("the cat sat", "--posenc", "sinusoidal")
    pe = matrix(doc, "input.pe")
    np.testing.assert_allclose(pe[1], [np.sin(1), np.cos(1), np.sin(0.01), np.cos(0.01)])
    assert abs(pe[1, 3] - 0.99995) < 1e-5                           # not the notes' 0.995
    np.testing.assert_allclose(matrix(doc, "q"), X_NOTES + pe)
    _, _, out = reference(X_NOTES + pe, *[np.eye(4)] * 3)
    np.testing.assert_allclose(matrix(doc, "out"), out)
    step1 = run("the cat sat", "--posenc", "sinusoidal", "--step", "1").output
    assert "PE  3×4" in step1 and "X + PE  3×4" in step1


def test_heads_split_columns_concatenate_and_project():
    wo = np.round(np.random.default_rng(5).uniform(-1, 1, (4, 4)), 2)
    doc = run_json("the cat sat", "--heads", "2", "--wo", inline(wo))
    heads = []
    for i in range(2):
        cols = slice(2 * i, 2 * i + 2)
        eye = np.eye(4)[:, cols]
        _, w, z = reference(X_NOTES, eye, eye, eye)
        np.testing.assert_allclose(matrix(doc, f"head{i}.weights"), w)
        np.testing.assert_allclose(matrix(doc, f"head{i}.out"), z)
        heads.append(z)
    concat = np.concatenate(heads, axis=1)
    np.testing.assert_allclose(matrix(doc, "concat"), concat)
    np.testing.assert_allclose(matrix(doc, "out"), concat @ wo)
    assert [s["number"] for s in doc["steps"]] == list(range(1, 9))
    text = run("the cat sat", "--heads", "2").output
    assert "Head 1 of 2: columns 1–2 of Wq, Wk, Wv" in text and "Step 8 of 8" in text


def test_step_shows_one_step():
    text = run("the cat sat", "--step", "3").output
    assert "Step 3 of 6 · Scores" in text
    assert "Step 2 of 6" not in text and "Step 4 of 6" not in text
    doc = run_json("the cat sat", "--step", "3")
    assert [s["number"] for s in doc["steps"]] == [3]
    assert "out" in doc["matrices"]                                 # every matrix is still there


def test_pause_does_not_wait_when_not_on_a_terminal():
    result = CliRunner().invoke(cli, ["attention", "the cat sat", "--pause"], input="")
    assert result.exit_code == 0 and "Press Enter" not in result.output
    assert result.output.count("Step ") == 6


def test_precision_changes_only_what_is_shown():
    text = run("the cat sat", "--precision", "4", "--step", "5").output
    assert "0.4223" in text
    doc = run_json("the cat sat", "--precision", "0")
    assert doc["matrices"]["weights"][0][0] == pytest.approx(np.e / (2 * np.e + 1), abs=0)


# --- formats ------------------------------------------------------------------------------

def test_json_round_trips_every_trace_name():
    doc = run_json("the cat sat", "--causal", "--heads", "2")
    assert json.loads(json.dumps(doc)) == doc
    for name in ("x", "w_q", "w_o", "head0.q", "head1.scores", "head1.softmax.exp",
                 "head0.mask", "concat", "out"):
        assert name in doc["matrices"]
    assert all(isinstance(p["worked"], list) for s in doc["steps"] for p in s["parts"])


def test_markdown_tables_can_be_pasted():
    result = run("the cat sat", "--format", "markdown", "--step", "3")
    assert result.exit_code == 0
    assert result.output == (
        '# Self-attention on "the cat sat"\n\n'
        "## Step 3 of 6: Scores\n\n"
        "`scores = Q·Kᵀ  (rows = queries, columns = keys)`\n\n"
        "**scores** (3×3)\n\n"
        "| | the | cat | sat |\n"
        "|---|---:|---:|---:|\n"
        "| **the** | 2 | 0 | 2 |\n"
        "| **cat** | 0 | 2 | 2 |\n"
        "| **sat** | 2 | 2 | 4 |\n\n"
        "Worked:\n\n```\n"
        "score(the, sat) = q(the)·k(sat) = [1 0 1 0]·[1 1 1 1] = 1×1 + 0×1 + 1×1 + 0×1 = 2\n"
        "```\n\n"
        "*Means:* A higher score means a query and a key point the same way. Highest score "
        "per query: the → the and sat (2 each, a tie); cat → cat and sat (2 each, a tie); "
        "sat → sat (4).\n")


def test_latex_has_a_table_per_matrix():
    result = run("the cat sat", "--format", "latex", "--step", "5")
    assert result.exit_code == 0
    out = result.output
    assert r"\subsection*{Step 5 of 6: Softmax per row}" in out
    assert r"\begin{tabular}{l|rrr}" in out
    assert r"the & 0.42 & 0.16 & 0.42 \\" in out
    assert "→" not in out and "·" not in out                       # escaped for pdflatex


def test_format_resolution(monkeypatch):
    from tutor.cli.output import resolve_format

    class Tty:
        def isatty(self):
            return True

    assert resolve_format(None, Tty(), {}) == "rich"
    assert resolve_format(None, Tty(), {"NO_COLOR": "1"}) == "plain"
    assert resolve_format(None, Tty(), {"TERM": "dumb"}) == "plain"
    assert resolve_format(None, object(), {}) == "plain"
    assert resolve_format("JSON", Tty(), {}) == "json"


def test_rich_format_forced_when_piped_has_colour():
    out = run("the cat sat", "--format", "rich", "--step", "5").output
    assert "\x1b[" in out


def test_svg_and_html_save_what_was_printed(tmp_path):
    svg, html = tmp_path / "a.svg", tmp_path / "a.html"
    result = run("the cat sat", "--step", "3", "--svg", str(svg), "--html", str(html))
    assert result.exit_code == 0
    assert svg.read_text().startswith("<svg") and "Scores" in svg.read_text()
    assert "score(the, sat)" in html.read_text()
    md = tmp_path / "m.html"
    assert run("the cat sat", "--format", "markdown", "--html", str(md)).exit_code == 0
    assert "Step 6 of 6" in md.read_text()


def test_help_has_examples_and_limits():
    out = run("--help").output
    assert "Examples:" in out and 'tutor attention "the cat sat" --heads 2' in out
    assert "at most 32 words" in out and "--heads at most 16" in out
    assert max(len(line) for line in out.splitlines()) <= 80


# --- bad input: one line naming the option, exit code 2, never a traceback -----------------

BAD = [
    (["the cat sat", "--wq", "1,0,0;0,1,0;0,0,1"],
     "Invalid value for '--wq': expected 4 rows (the embeddings have 4 columns), got a 3×3 matrix"),
    (["the cat sat", "--wq", "1,0;0,1;1"],
     "Invalid value for '--wq': expected every row to have 2 numbers like row 1, got 1 in row 3"),
    (["the cat sat", "--wk", "1,a;0,1"], "Invalid value for '--wk': expected numbers, got 'a' in row 1"),
    (["the cat sat", "--wv", "1,nan;0,1"],
     "Invalid value for '--wv': expected finite numbers, got nan in row 1, column 2"),
    (["the cat sat", "--wv", "inf"],
     "Invalid value for '--wv': expected finite numbers, got inf in row 1, column 1"),
    (["the cat sat", "--embeddings", "1,2;3,4"],
     "Invalid value for '--embeddings': expected 3 rows (one per word of the sentence), got a 2×2 matrix"),
    (["the cat sat", "--wq", "1,0;0,1;0,0;0,0", "--wk", "1,0,0;0,1,0;0,0,1;0,0,0"],
     "Invalid value for '--wk': expected 2 columns (like --wq: 2), got a 4×3 matrix"),
    (["the cat sat", "--dk", "3", "--wq", "1,0;0,1;0,0;0,0"],
     "Invalid value for '--wq': expected 3 columns (--dk 3), got a 4×2 matrix"),
    (["the cat sat", "--heads", "3"],
     "Invalid value for '--heads': expected a number that divides the query/key width 4, got 3"),
    (["the cat sat", "--heads", "2", "--wv", "1,0,0;0,1,0;0,0,1;0,0,0"],
     "Invalid value for '--heads': expected a number that divides the value width 3, got 2"),
    (["the cat sat", "--heads", "2", "--wo", "1,0;0,1"],
     "Invalid value for '--wo': expected 4 rows (the 2 heads give 4 columns), got a 2×2 matrix"),
    (["the cat sat", "--wo", "identity"],
     "Invalid value for '--wo': expected --heads 2 or more (Wo joins the heads), got --heads 1"),
    (["   "], "Invalid value for 'SENTENCE': expected at least one word, got an empty sentence"),
    ([" ".join(["w"] * 33)],
     "Invalid value for 'SENTENCE': expected a number of words from 1 to 32, got 33"),
    (["the cat sat", "--dim", "65"], "Invalid value for '--dim': expected a width from 1 to 64, got 65"),
    (["the cat sat", "--dim", "0"], "Invalid value for '--dim': expected a width from 1 to 64, got 0"),
    (["the cat sat", "--dk", "65"], "Invalid value for '--dk': expected a width from 1 to 64, got 65"),
    (["the cat sat", "--heads", "17"],
     "Invalid value for '--heads': expected a number of heads from 1 to 16, got 17"),
    (["the cat sat", "--heads", "0"],
     "Invalid value for '--heads': expected a number of heads from 1 to 16, got 0"),
    (["the cat sat", "--embed", "cat=1,2", "--embed", "cat=1,2,3"],
     "Invalid value for '--embed': expected one size per word, got 'cat' with 2 and with 3 numbers"),
    (["the cat sat", "--embed", "cat"],
     "Invalid value for '--embed': expected WORD=v1,v2,... such as cat=0,1,0,1, got 'cat'"),
    (["the cat sat", "--wq", "missing.npy"],
     "Invalid value for '--wq': expected identity, random, an inline matrix such as \"1,0;0,1\", "
     "or a .npy, .json or .csv file, got 'missing.npy', which does not exist"),
    (["the cat sat", "--step", "7"], "Invalid value for '--step': expected a step from 1 to 6, got 7"),
    (["the cat sat", "--precision", "-1"],
     "Invalid value for '--precision': expected a number of decimals from 0 to 10, got -1"),
    (["the cat sat", "--seed", "-1"],
     "Invalid value for '--seed': expected a whole number from 0 to 4294967295, got -1"),
    (["the cat sat", "--format", "pdf"],
     "Invalid value for '--format': 'pdf' is not one of 'rich', 'plain', 'json', 'markdown', 'latex'."),
    (["the cat sat", "--svg", "/no/such/folder/a.svg"],
     "Invalid value for '--svg': expected a file in an existing folder, got '/no/such/folder/a.svg' "
     "(no folder '/no/such/folder')"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[" ".join(a)[:40] for a, _ in BAD])
def test_bad_input_is_one_line_and_exit_code_2(args, message):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert result.output.splitlines()[-1] == f"Error: {message}"
    assert "Traceback" not in result.output


def test_bad_files_are_usage_errors(tmp_path):
    (tmp_path / "ragged.json").write_text("[[1, 2], [3]]")
    (tmp_path / "locked.csv").write_text("1,0\n")
    (tmp_path / "locked.csv").chmod(0)
    np.save(tmp_path / "obj.npy", np.array([[1, None]], dtype=object), allow_pickle=True)
    cases = [("ragged.json", "expected every row to have 2 numbers like row 1, got 1 in row 2"),
             ("obj.npy", "expected a .npy file of numbers")]
    import os
    if os.geteuid() != 0:                                            # root reads any file
        cases.append(("locked.csv", "expected a readable file"))
    for name, message in cases:
        result = run("the cat sat", "--wq", str(tmp_path / name))
        assert result.exit_code == 2
        last = result.output.splitlines()[-1]
        assert last.startswith("Error: Invalid value for '--wq': ") and message in last


def test_broken_pipe_and_real_process_give_no_traceback():
    import subprocess, sys
    result = subprocess.run([sys.executable, "-m", "tutor", "attention", "the cat sat", "--wq", "1,x"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == "Error: Invalid value for '--wq': expected numbers, got 'x' in row 1"
    assert "Traceback" not in result.stderr


def test_the_heading_gives_the_width_each_head_uses():
    doc = run_json("the cat sat", "--heads", "2")
    assert doc["settings"]["d_k"] == 4 and doc["settings"]["d_k_per_head"] == 2
    heading = run("the cat sat", "--heads", "2", "--format", "plain").output.splitlines()[1]
    assert heading == "3 tokens, d_model = 4, 2 heads, d_k = 2 each"


def test_glove_matrices_give_their_real_shape_and_fill_a_wide_terminal():
    # trial finding 4: 'X  6×8  (columns 1–7)' for 6×50, and only 8 columns at 120 wide
    def first_columns(width):
        out = run("the cat sat on the mat", "--embeddings", "glove",
                  env={"COLUMNS": str(width)}).output
        assert "6×8" not in out
        titles = [line.strip("│ ") for line in out.splitlines() if "X  6×50  (columns 1–" in line]
        assert titles, out
        return int(titles[0].split("1–")[1].split(" ")[0])

    assert first_columns(80) >= 7 and first_columns(120) > first_columns(80)


def test_the_glove_sentence_about_a_word_and_itself_follows_the_scores():
    # issue 20: "each word scores highest with itself" printed beside cat→dog 19.74 > cat·cat
    # 19.43. The sentence is read from the diagonal: where a row's own score is beaten, it
    # names that row with both numbers; where none is, it says so.
    def means(sentence):
        doc = run_json(sentence, "--embeddings", "glove")
        scores = matrix(doc, "scores")
        out = " ".join(run(sentence, "--embeddings", "glove", "--step", "3")
                       .output.replace("│", " ").split())
        return scores, out

    scores, out = means("cat dog car")
    assert scores[0, 1] > scores[0, 0]                           # dog outscores cat's own row
    assert "each word scores highest with itself" not in out.lower()
    assert (f"cat → dog ({scores[0, 1]:.2f}) beats cat · cat ({scores[0, 0]:.2f})" in out)
    scores, out = means("the cat sat")
    assert all(scores[r, r] >= scores[r].max() for r in range(3))
    assert "Each word scores highest with itself here" in out


def test_block_with_a_model_without_it_names_every_shipped_toy_model():
    # the message listed reverse, copy and sort: dates, shipped too, has --block decoder
    result = run("the cat", "--model", str(DATA / "hf_tiny_bert"), "--block", "decoder")
    assert result.exit_code == 2
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("Error: Invalid value for '--block'")
    assert "(reverse, copy, sort, dates or a FILE.npz), got hf_tiny_bert" in line
    assert run("7 Dec 2026", "--model", "dates", "--block", "decoder").exit_code == 0
