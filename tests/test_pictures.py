"""Issue 12, item 11: exported pictures work offline and read right. The SVG names only local
fonts (no web font) and keeps its spaces; the HTML page has a <title>; a heatmap cell's shade
tells its value (the bar glyph is drawn in the cell's own colour, so it never darkens a pale
cell or lightens a dark one); attention bars are scaled within each row, and the caption says
so, so that 32 words do not all show the lowest bar.

The pictures were also looked at as images (rsvg-convert to PNG) when this was written."""

import re

import numpy as np

from cli_helpers import invoke
from tutor.render.console import BARS, heat_style, matrix_cells
from tutor.render.document import MatrixView

WORDS_32 = ("one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
            "fifteen sixteen seventeen eighteen nineteen twenty a b c d e f g h i j k l")


def test_the_svg_needs_no_web_font(tmp_path):
    path = tmp_path / "out.svg"
    result = invoke("attention", "the cat sat", "--step", "5", "--svg", str(path))
    assert result.exit_code == 0, result.output
    svg = path.read_text(encoding="utf-8")
    assert "@font-face" not in svg and "cdnjs" not in svg
    assert not re.search(r"url\(\s*[\"']?https?:", svg)               # nothing fetched
    assert "'DejaVu Sans Mono'" in svg and "monospace;" in svg
    assert 'xml:space="preserve"' in svg                             # librsvg keeps the spaces
    assert ">tutor&#160;attention</text>" in svg                     # the window's title


def test_the_html_page_has_a_title(tmp_path):
    path = tmp_path / "out.html"
    result = invoke("attention", "the cat sat", "--step", "5", "--html", str(path))
    assert result.exit_code == 0, result.output
    html = path.read_text(encoding="utf-8")
    assert "<title>tutor attention · Self-attention on &quot;the cat sat&quot;</title>" in html
    assert "https://" not in html
    assert "0.42" in html


def test_a_heat_glyph_is_drawn_in_its_cells_own_colour():
    from tutor.render.console import glyph_style

    for value in (0.0, 0.3, 0.7, 1.0):
        style = glyph_style(value)
        assert style.color == style.bgcolor == heat_style(value).bgcolor
    view = MatrixView("w", "w", np.array([[0.2, 0.8]]), ["a"], ["x", "y"], heat=True)
    for cell in matrix_cells(view, 2)[0]:
        glyph = cell.spans[-1]
        assert cell.plain[glyph.start:glyph.end] in BARS
        assert glyph.style.color == glyph.style.bgcolor                 # the shade, not a block
        assert cell.style.color != cell.style.bgcolor                   # the number stays legible


def test_attention_bars_are_scaled_within_each_row_and_the_caption_says_so():
    out = invoke("attention", WORDS_32, "--step", "5").output
    rows = [line for line in out.splitlines()
            if re.match(r"│ (one|two|three|twelve|sixteen) ", line)]
    assert rows
    bars = "".join(ch for line in rows for ch in line if ch in BARS)
    assert set(bars) != {"▁"}                                          # before: ▁ everywhere
    assert "bars and shades scaled to each row's largest weight" in " ".join(out.split())


def test_row_scaled_fractions_ignore_masked_cells():
    values = np.array([[0.5, 0.25, 0.25], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    masked = np.array([[False, False, True], [False, True, True], [True, True, True]])
    view = MatrixView("w", "w", values, list("abc"), list("abc"), heat=True, masked=masked,
                      row_scaled=True)
    np.testing.assert_allclose(view.heat_fractions(), [[1, 0.5, 0], [1, 0, 0], [0, 0, 0]])
    absolute = MatrixView("w", "w", values, list("abc"), list("abc"), heat=True)
    np.testing.assert_allclose(absolute.heat_fractions(), values)


def test_encoder_heads_are_row_scaled_too():
    out = " ".join(invoke("encode", "the cat sat on the mat", "--step", "2").output.split())
    assert "rows sum to 1; bars and shades scaled to each row's largest weight" in out


def test_svg_box_borders_are_drawn_unbroken(tmp_path):
    # trial finding 17: in rsvg-rendered SVGs the vertical borders came out dashed, because
    # each line's text was clipped to its box and a 20 px DejaVu Sans Mono '│' (1.164 em
    # tall, 23.3 px) is shorter than Rich's 24.4 px line
    import re

    path = tmp_path / "a.svg"
    assert invoke("attention", "the cat sat", "--step", "1", "--svg", str(path)).exit_code == 0
    svg = path.read_text(encoding="utf-8")
    assert not re.search(r'clip-path="url\(#[\w-]+-line-\d+\)"', svg)
    size = float(re.search(r"-matrix \{[^}]*font-size: ([\d.]+)px", svg).group(1))
    line = float(re.search(r"-matrix \{[^}]*line-height: ([\d.]+)px", svg).group(1))
    spacing = float(re.search(r"-matrix \{[^}]*letter-spacing: ([-\d.]+)px", svg).group(1))
    assert size * 1.164 >= line                                        # the glyphs meet
    assert abs(size * 0.602 + spacing - 20 * 0.602) < 0.01            # in Rich's columns
