"""The presentation layer: number formatting, labelled tables with shapes, column chunks,
heatmaps, step panels and text emitters, rendered at width 80 without colour."""

import io

import numpy as np
import pytest
from rich.console import Console

from tutor.nn.attention import attention_head
from tutor.render.attention import attention_document
from tutor.render.console import bar, document_renderables, matrix_tables, step_panel
from tutor.render.document import (MatrixView, Part, Step, format_matrix_cells, format_number,
                                   format_vector, is_integral, unique_labels)
from tutor.render.text import latex_escape, markdown_table, to_json, to_markdown
from tutor.trace import Trace


def render(renderable, width=80):
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


def test_numbers_are_whole_when_they_can_be_and_never_minus_zero():
    assert format_number(2.0, 2, True) == "2"
    assert format_number(0.42231, 2) == "0.42"
    assert format_number(-0.0, 2) == "0.00"                # was -0.001 -> "0.00": a non-zero
    assert format_number(-0.001, 2) == "-0.001"            # number now never reads as zero
    assert format_number(-np.inf, 2) == "-inf"
    assert format_vector([1.0, 0.0, 1.0, 0.0], 2) == "[1 0 1 0]"
    assert format_vector([1.0, 0.5], 2) == "[1.00 0.50]"
    assert is_integral([1.0, -3.0]) and not is_integral([1.0, 0.5])


def test_masked_cells_are_shown_as_masked_not_zero():
    view = MatrixView("w", "w", np.array([[1.0, 0.0], [0.25, 0.75]]), ["a", "b"], ["a", "b"],
                      masked=np.array([[False, True], [False, False]]))
    assert format_matrix_cells(view, 2) == [["1.00", "—"], ["0.25", "0.75"]]


def test_repeated_words_get_their_position():
    assert unique_labels(["the", "cat", "the"]) == ["the#1", "cat", "the#3"]
    assert unique_labels(["a", "b"]) == ["a", "b"]


def test_bars_grow_with_the_weight():
    assert [bar(v) for v in (0.0, 0.42, 1.0)] == ["▁", "▄", "█"]


def test_a_matrix_table_has_labels_and_shape():
    view = MatrixView("scores", "scores", np.array([[2.0, 0.0], [0.0, 2.0]]), ["the", "cat"],
                      ["the", "cat"])
    (table,) = matrix_tables(view, 2)
    assert [line.rstrip() for line in render(table).splitlines()] == [
        "scores  2×2",
        "      the   cat",
        "───────────────",
        "the     2     0",
        "cat     0     2"]


def test_a_windowed_matrix_is_titled_with_its_real_shape_and_fills_the_width():
    # trial finding 4: 'X  6×8  (columns 1–7)' for a 6×50 matrix, and 8 columns at 120 wide
    values = np.arange(6 * 50, dtype=float).reshape(6, 50) / 7 - 20
    view = MatrixView("X", "x", values, list("abcdef"), [f"d{i + 1}" for i in range(50)],
                      window=(6, 8))
    narrow = matrix_tables(view, 2, max_width=76)
    wide = matrix_tables(view, 2, max_width=116)
    assert len(narrow) == len(wide) == 1                           # one table, never split
    narrow_text, wide_text = render(narrow[0], 76), render(wide[0], 116)
    shown = lambda text: len(text.splitlines()[1].split())         # the header's columns
    assert narrow_text.startswith(f"X  6×50  (columns 1–{shown(narrow_text)} of 50)")
    assert wide_text.startswith(f"X  6×50  (columns 1–{shown(wide_text)} of 50)")
    assert shown(wide_text) > shown(narrow_text) >= 7
    assert "…" not in narrow_text + wide_text
    assert max(len(line) for line in wide_text.splitlines()) <= 116
    # a width-less emitter draws the window and says so
    assert "**X** (6×50; columns 1–8 of 50)" in markdown_table(view, 2)
    bias = MatrixView("bq", "b_q", values[:1, :32], ["bq"], [f"d{i + 1}" for i in range(32)],
                      window=(1, 8))
    assert bias.shape == "1×32" and bias.corner().title() == "bq  1×32  (columns 1–8 of 32)"
    rows_cut = MatrixView("W", "w", values[:, :6].T @ values[:, :6], list("abcdef"),
                          list("uvwxyz"), window=(2, 3)).corner()
    assert rows_cut.title() == "W  6×6  (rows 1–2 of 6, columns 1–3 of 6)"


def test_wide_matrices_split_into_column_chunks_that_fit():
    values = np.arange(3 * 20, dtype=float).reshape(3, 20) / 7
    view = MatrixView("Q", "q", values, ["a", "b", "c"], [f"d{i + 1}" for i in range(20)])
    tables = matrix_tables(view, 2, max_width=76)
    assert len(tables) == 2
    texts = [render(t) for t in tables]
    assert texts[0].startswith("Q  3×20  (columns 1–10)")
    assert texts[1].startswith("Q  3×20  (columns 11–20)")
    assert "…" not in "".join(texts)                               # no cell is cut short
    assert all(len(line) <= 76 for text in texts for line in text.splitlines())
    assert "8.43" in texts[1]                                      # 59/7, the last cell


def test_step_panel_layout():
    step = Step(9, "Demo", "y = x", "y = x", [Part("", [MatrixView(
        "y", "y", np.array([[0.5, 0.5]]), ["a"], ["a", "b"], heat=True)],
        ["y(a, a) = 0.5"], "Half and half.")])
    assert render(step_panel(step, 9, 2), width=40) == (
        "╭─ Step 9 of 9 · Demo ─────────────────╮\n"
        "│ y = x                                │\n"
        "│                                      │\n"
        "│ y  1×2                               │\n"
        "│         a       b                    │\n"
        "│ ─────────────────                    │\n"
        "│ a   0.50▅   0.50▅                    │\n"
        "│                                      │\n"
        "│ Worked: y(a, a) = 0.5                │\n"
        "│ Means:  Half and half.               │\n"
        "╰──────────────────────────────────────╯\n")


def _notes_trace(scores_override=None):
    x = np.array([[1.0, 0, 1, 0], [0, 1, 0, 1], [1, 1, 1, 1]])
    eye = np.eye(4)
    trace = Trace()
    trace.record("x", x)
    for name in ("w_q", "w_k", "w_v"):
        trace.record(name, eye)
    attention_head(x, x, eye, eye, eye, trace=trace)
    return trace


def test_the_renderer_shows_what_was_recorded_and_computes_nothing():
    trace = _notes_trace()
    # Replace the recorded scores with numbers no formula would give: the text must show them.
    trace.steps["scores"] = np.array([[7.0, 8, 9], [1, 2, 3], [4, 5, 6]])
    doc = attention_document(trace, ["the", "cat", "sat"], precision=2,
                             sources=["notes"] * 3)
    text = "".join(render(r) for r in document_renderables(doc, 2, 80, [doc.steps[2]]))
    assert "the     7     8     9" in text
    assert "the → sat (9)" in " ".join(text.replace("│", " ").split())


def test_document_steps_and_text_emitters():
    doc = attention_document(_notes_trace(), ["the", "cat", "sat"], precision=2,
                             sources=["notes"] * 3,
                             weight_kinds={k: "identity" for k in ("w_q", "w_k", "w_v")})
    assert [s.number for s in doc.steps] == [1, 2, 3, 4, 5, 6]
    assert [m.key for m in doc.steps[0].parts[0].matrices] == ["x", "w_q", "w_k", "w_v"]
    assert doc.steps[4].parts[0].matrices[0].heat
    md = to_markdown(doc, 2, [doc.steps[5]])
    assert "| **the** | 0.84 | 0.58 | 0.84 | 0.58 |" in md
    import json
    data = json.loads(to_json(doc))
    assert data["matrices"]["scores"] == [[2, 0, 2], [0, 2, 2], [2, 2, 4]]


@pytest.mark.parametrize("text, latex", [
    ("q(the)·k(sat) = 2", r"q(the)$\cdot$k(sat) = 2"),
    ("50% & #1_a", r"50\% \& \#1\_a"),
    ("the → sat; √4", r"the $\to$ sat; $\surd$4"),
])
def test_latex_escape(text, latex):
    assert latex_escape(text) == latex


def test_rendering_never_imports_click():
    import subprocess, sys
    code = ("import sys, tutor.render.console, tutor.render.text, tutor.render.attention; "
            "print('click' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False"


def test_heatmap_text_reads_on_its_background_in_a_16_colour_terminal():
    import io

    from rich.console import Console
    from rich.text import Text

    from tutor.render.console import heat_style

    for value in [i / 20 for i in range(21)]:
        console = Console(file=io.StringIO(), color_system="standard", force_terminal=True)
        console.print(Text("0.58", style=heat_style(value)), end="")
        codes = console.file.getvalue().split("\x1b[")[1].split("m")[0].split(";")
        fg = next(c for c in codes if c.startswith(("3", "9")))
        bg = next(c for c in codes if c.startswith(("4", "10")))
        light_bg = bg in ("47", "107", "103", "106", "43", "46")
        dark_fg = fg in ("30", "90")
        assert light_bg == dark_fg, f"weight {value}: foreground {fg} on background {bg}"


def test_words_that_look_like_rich_markup_are_shown_as_typed():
    from click.testing import CliRunner

    from tutor.cli import cli

    result = CliRunner().invoke(cli, ["attention", "[bold]cat :cat: the", "--step", "3",
                                      "--format", "plain"])
    assert result.exit_code == 0, result.output
    header, first_row = result.output.splitlines()[6], result.output.splitlines()[8]
    assert header.split() == ["│", "[bold]cat", ":cat:", "the", "│"]
    assert first_row.split()[1] == "[bold]cat"


def test_a_narrow_last_column_chunk_is_not_stretched_to_its_title():
    from click.testing import CliRunner

    from tutor.cli import cli

    out = CliRunner().invoke(cli, ["attention", "a b", "--dim", "20", "--step", "2",
                                   "--format", "plain"]).output.splitlines()
    title = next(i for i, line in enumerate(out) if "(columns 19–20)" in line)
    rule = out[title + 2].strip("│ ")
    assert set(rule) == {"─"} and len(rule) <= 18                      # two columns' width


def test_worked_sums_write_negative_numbers_readably():
    from tutor.render.document import factor, signed_sum

    assert signed_sum(["1", "-2", "3", "-4"]) == "1 − 2 + 3 − 4"
    assert signed_sum(["-1", "2"]) == "-1 + 2"
    assert factor("-0.80") == "(-0.80)" and factor("0.30") == "0.30"


def _segments(console, renderable):
    """What ``renderable`` draws, line by line: (text, style) runs, adjacent equal styles joined."""
    from rich.segment import Segment
    from rich.style import Style

    lines = console.render_lines(renderable, console.options, pad=False)
    return [[(s.text, s.style) for s in Segment.simplify(
        Segment(s.text, s.style or Style.null()) for s in line if s.text)] for line in lines]


def test_a_laid_out_matrix_table_draws_what_the_rich_table_draws():
    # MatrixTable draws its lines directly (start-up time); Rich's Table is the reference:
    # same characters, same styles, same measured width, at every console width, colour
    # system, label and cell width, with the Table itself where the lines would differ.
    import random

    from rich.measure import Measurement

    from tutor.render.console import MatrixTable, _rich_table, matrix_cells

    words = ["the", "cat", "sat", "a", "猫", "d1", "d12", "internationalisation", "[bold]",
             "é", "the#1", "a b", ""]
    rng = random.Random(11)
    drawn = 0
    for _ in range(300):
        n_rows, n_cols = rng.randint(1, 4), rng.randint(1, 6)
        values = np.round(rng.uniform(-3, 3) * np.arange(n_rows * n_cols).reshape(n_rows, n_cols)
                          / (n_rows * n_cols), rng.choice([0, 1, 3]))
        masked = (np.arange(n_rows * n_cols).reshape(n_rows, n_cols) % 3 == 1
                  if rng.random() < 0.3 else None)
        view = MatrixView("m", "m", values, [rng.choice(words) for _ in range(n_rows)],
                          [rng.choice(words) for _ in range(n_cols)], heat=rng.random() < 0.5,
                          masked=masked, heat_range=(-3.0, 3.0))
        cells = matrix_cells(view, rng.choice([0, 2, 4]))
        for row in cells:                                    # cells with styled parts, too
            for cell in row:
                if rng.random() < 0.1:
                    cell.stylize("bold underline", len(cell.plain) - 1)
                elif rng.random() < 0.05:
                    cell.justify = "center"
        console = Console(file=io.StringIO(), width=rng.choice([12, 30, 80, 200]),
                          color_system=rng.choice([None, "standard", "truecolor"]),
                          force_terminal=True)
        ours = MatrixTable(view.cols, view.rows, cells)
        table = _rich_table(view.cols, view.rows, cells)
        drawn += ours._fits(console.options)
        assert _segments(console, ours) == _segments(console, table)
        assert (Measurement.get(console, console.options, ours)
                == Measurement.get(console, console.options, table))
    assert 50 < drawn < 250                      # both the drawn lines and the fallback ran
    ascii_console = Console(file=io.TextIOWrapper(io.BytesIO(), encoding="ascii"), width=80,
                            color_system=None)                     # the box is drawn in ASCII
    view = MatrixView("m", "m", np.eye(2), ["a", "b"], ["a", "b"])
    cells = matrix_cells(view, 2)
    ours = MatrixTable(view.cols, view.rows, cells)
    assert not ours._fits(ascii_console.options)
    assert (_segments(ascii_console, ours)
            == _segments(ascii_console, _rich_table(view.cols, view.rows, cells)))


def test_the_notes_example_draws_its_matrix_tables_without_rich_tables(monkeypatch):
    # start-up time (benchmarks/bench_startup.py): `tutor attention "the cat sat"` lays out
    # no matrix as a Rich Table; a change that sends it back to the Table fails here
    import tutor.render.console as console_module

    def no_table(*args):
        raise AssertionError("a matrix was laid out as a Rich Table")

    monkeypatch.setattr(console_module, "_rich_table", no_table)
    doc = attention_document(_notes_trace(), ["the", "cat", "sat"], precision=2,
                             sources=["notes"] * 3)
    colour = Console(file=io.StringIO(), width=80, color_system="truecolor", force_terminal=True)
    for renderable in document_renderables(doc, 2, 80):
        colour.print(renderable)
        render(renderable)                                            # and without colour


def test_an_eight_by_eight_heatmap_fits_80_columns_in_one_table():
    # trial finding 17: heads --layer 3 split each head's 8×8 weights into 6 + 2 columns
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(8, 8)) * 3
    weights = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = ["[CLS]", "the#2", "cat", "sat", "on", "the#6", "mat", "[SEP]"]
    view = MatrixView("weights L3 H1", "w", weights, labels, labels, heat=True, row_scaled=True)
    tables = matrix_tables(view, 2, max_width=76)
    assert len(tables) == 1
    text = render(tables[0], 76)
    assert all(len(line) <= 76 for line in text.splitlines())
    assert text.splitlines()[1].split() == labels                     # every column, one header
    assert "…" not in text
    plain = MatrixView("scores", "s", weights * 1000 + 0.123, labels, labels)
    assert len(matrix_tables(plain, 2, max_width=76)) == 2            # numbers alone: split


# --- LaTeX that pdflatex reads ----------------------------------------------------------------

_DATA = __import__("pathlib").Path(__file__).resolve().parent / "data"
LATEX_RUNS = {
    "attention": ["attention", "the cat sat"],
    "attention causal, two heads": ["attention", "the cat sat on", "--causal", "--heads", "2"],
    "attention odd words": ["attention", "[CLS] *x* café <a|b> 50% Ġcat"],
    "attention glove": ["attention", "the cat sat", "--embeddings", "glove"],
    "attention tiny BERT": ["attention", "the cat", "--model", str(_DATA / "hf_tiny_bert"),
                            "--layer", "1", "--head", "1"],
    "multihead": ["multihead", "the cat sat", "--heads", "2"],
    "posenc": ["posenc", "--positions", "4", "--dim", "4"],
    "softmax": ["softmax", "6", "4", "-1e3", "--temperature", "2"],
    "layernorm": ["layernorm", "1,2,3,4", "--residual"],
    "layernorm batch": ["layernorm", "--batch", "1,2;3,5"],
    "backward": ["backward", "the cat", "--causal"],
    "encode": ["encode", "the cat"],
    "transformer": ["transformer", "--src", "the cat", "--tgt", "[x] le chat"],
    "scaling": ["scaling", "4", "16", "--samples", "10", "--keys", "4"],
    "heads tiny BERT": ["heads", "the cat", "--model", str(_DATA / "hf_tiny_bert")],
    "heads tiny GPT-2": ["heads", "the cat sat", "--model", str(_DATA / "hf_tiny_gpt2")],
    "heads toy": ["heads", "3 1 4", "--model", "reverse"],
    "context tiny BERT": ["context", "the dog sat on the bank", "the bank of the river",
                          "--word", "bank", "--model", str(_DATA / "hf_tiny_bert")],
    "generate": ["generate", "3 1 4"],
    "generate beam": ["generate", "3 1 4", "--beam", "2", "--explain-cache"],
    "generate GPT-2": ["generate", "the cat", "--model", str(_DATA / "hf_tiny_gpt2"),
                       "--max-new-tokens", "3", "--temperature", "2"],
    "models": ["models"],
}


def _latex_of(args):
    from cli_helpers import invoke

    result = invoke(*args, "--format", "latex")
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("name", LATEX_RUNS)
def test_every_formats_latex_compiles_with_pdflatex(name, tmp_path):
    # issue 20: a row label starting with '[' after '\\' ([CLS], [SEP]) is read by pdflatex as
    # the length of the line break; every command's LaTeX is compiled with the preamble its
    # first line names
    import shutil
    import subprocess

    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed (Debian: texlive-latex-base)")
    fragment = _latex_of(LATEX_RUNS[name])
    assert "amsmath,amssymb" in fragment.splitlines()[0]
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n"
        + fragment + "\\end{document}\n", encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                         cwd=tmp_path, capture_output=True, encoding="utf-8",
                         errors="replace", timeout=120,
                         stdin=subprocess.DEVNULL)
    log = (tmp_path / "doc.log").read_text(encoding="utf-8", errors="replace")
    errors = [line for line in log.splitlines() if line.startswith("!")]
    assert run.returncode == 0 and not errors, "\n".join(errors) or run.stdout[-2000:]
    assert "Missing character" not in log                       # every glyph was typeset


@pytest.mark.parametrize("text", ["[CLS]", "[SEP] x", "*", "* y", "[", "]"])
def test_latex_text_after_a_line_break_is_never_an_option_or_a_star(text):
    # '\\' reads a following '*' or '[...]'; an escaped cell starts with neither
    escaped = latex_escape(text)
    assert not escaped.lstrip().startswith(("[", "*"))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_infinite_values_are_drawn_as_such_in_every_renderer(bad):
    from tutor.render.document import Chart, Document
    from tutor.render.text import to_latex
    values = np.array([[0.5, bad], [bad, 0.25]])
    views = [MatrixView("W", "w", values, ["a", "b"], ["a", "b"], heat=True),
             MatrixView("W", "w", values, ["a", "b"], ["a", "b"], heat=True, row_scaled=True),
             MatrixView("W", "w", values, ["a", "b"], ["a", "b"], heat=True, compact=True),
             MatrixView("S", "s", values, ["a", "b"], ["a", "b"])]
    charts = [Chart("p", "p", ["a", "b", "c"], np.array([0.5, bad, 0.25]), full=1.0),
              Chart("q", "q", ["a", "b"], np.array([bad, bad])), Chart("e", "e", [], np.zeros(0))]
    doc = Document("attention", "t", ["a", "b"],
                   [Step(1, "s", "x", "x", [Part(matrices=views, charts=charts)])],
                   {"w": values})
    console = Console(file=io.StringIO(), width=80, color_system=None)
    for renderable in document_renderables(doc, 2, 80):
        console.print(renderable)
    screen = console.file.getvalue()
    word = {"nan": "nan", "inf": "inf", "-inf": "-inf"}[str(bad)]
    assert word in screen
    assert "0.5" in screen and "0.25" in screen
    assert word in to_markdown(doc, 2) and to_latex(doc, 2)
    to_json(doc)
