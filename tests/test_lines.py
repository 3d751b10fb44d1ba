"""Attention as lines (tutor/render/lines.py, `tutor heads --view lines`) and the heads grid's
axis labels and --absolute shading: the lines drawn are the recorded weights' strongest keys,
an SVG line's opacity is its weight, the terminal drawing stays readable without colour."""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cli_helpers import invoke, invoke_json
from tutor.cli import cli
from tutor.render.document import MIN_LINE_WEIGHT, LinesView
from tutor.render.lines import BRAILLE, lines_text

DATA = Path(__file__).parent / "data"
TINY_BERT, TINY_LLAMA = DATA / "hf_tiny_bert", DATA / "hf_tiny_llama"
SENTENCE = "the cat sat on the mat"
SVG = "{http://www.w3.org/2000/svg}"


def expected_lines(weights, top=3):
    """(head, query, key) -> weight of every line that should be drawn, from the weights."""
    out = {}
    for h, head in enumerate(weights):
        for q, row in enumerate(head):
            for k in np.argsort(-row, kind="stable")[:top]:
                if row[k] >= MIN_LINE_WEIGHT:
                    out[(h, q, int(k))] = float(row[k])
    return out


def svg_lines(path):
    root = ET.parse(path).getroot()
    return {(int(e.get("data-head")), int(e.get("data-query")), int(e.get("data-key"))): e
            for e in root.iter(f"{SVG}line")}, len(list(root.iter(f"{SVG}line")))


@pytest.mark.parametrize("head", [None, 2])
def test_svg_has_one_line_per_drawn_key_its_opacity_the_weight(tmp_path, head):
    weights = np.asarray(invoke_json("heads", SENTENCE, "--model", str(TINY_BERT))
                         ["attention"])[0]                             # layer 1: [h, n, n]
    svg = tmp_path / "lines.svg"
    args = ["heads", SENTENCE, "--model", str(TINY_BERT), "--view", "lines", "--layer", "1",
            "--svg", str(svg)] + ([] if head is None else ["--head", str(head)])
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    expected = expected_lines(weights if head is None else weights[[head - 1]])
    if head is not None:
        expected = {(head - 1, q, k): w for (_, q, k), w in expected.items()}
    lines, n = svg_lines(svg)
    assert n == len(lines) == len(expected) and set(lines) == set(expected)
    assert n > 8                                          # more than one line for some query
    for where, weight in expected.items():
        line = lines[where]
        assert float(line.get("stroke-opacity")) == pytest.approx(weight, abs=5e-5)
        assert float(line.get("stroke-width")) == pytest.approx(1 + 4 * weight, abs=5e-3)
    # the strongest line is drawn last (on top)
    order = [float(e.get("stroke-opacity")) for e in ET.parse(svg).getroot().iter(f"{SVG}line")]
    assert order == sorted(order)


def test_html_draws_the_same_lines(tmp_path):
    page = tmp_path / "lines.html"
    result = invoke("heads", SENTENCE, "--model", str(TINY_BERT), "--view", "lines", "--layer",
                    "2", "--head", "1", "--html", str(page))
    assert result.exit_code == 0, result.output
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.count("<line ") > 8
    assert "http" not in text.replace("http://www.w3.org/2000/svg", "")   # offline


def test_terminal_lines_fit_without_colour_and_say_what_is_shown():
    for columns in ("80", "60"):
        result = CliRunner().invoke(cli, ["heads", SENTENCE, "--model", str(TINY_BERT),
                                          "--view", "lines", "--layer", "1"],
                                    env={"NO_COLOR": "1", "COLUMNS": columns},
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert "\x1b[" not in result.output                            # plain when piped
        assert max(len(line) for line in result.output.splitlines()) <= int(columns)
        flat = " ".join(result.output.replace("│", " ").split())
        assert "top 3 keys per query of 8" in flat and "heads overlaid" in flat
        assert any(0x2801 <= ord(c) <= 0x28FF for c in result.output)  # braille lines


def popcount(text):
    return sum(bin(ord(c) - BRAILLE).count("1") for c in text if 0x2800 <= ord(c) <= 0x28FF)


def test_a_stronger_line_is_denser_without_colour():
    """One query reading one key straight across, at each strength: the dots drawn fall with
    the weight (strength by density, not colour only)."""
    dots = []
    for weight in (0.9, 0.3, 0.15, 0.05):
        view = LinesView("t", "weights", np.array([[[weight]]]), ["a"], ["b"], [1])
        text = lines_text(view, 40).plain
        row = next(line for line in text.splitlines() if line.strip().startswith("a "))
        dots.append(popcount(row))
        if weight == 0.9:
            middle = sum(0x2800 < ord(c) <= 0x28FF for c in row)    # the line's characters
    assert middle >= 20
    assert dots[0] == 4 * middle                         # thick: 2 columns × 2 rows of dots
    assert dots[1] == 2 * middle                         # solid: one row of dots
    assert dots[0] > dots[1] > dots[2] > dots[3] > 0


def test_sixty_four_tokens_draw_the_top_three_keys_each_and_say_so():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(1, 64, 64)) * 3
    weights = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    labels = [f"t{i}" for i in range(64)]
    view = LinesView("64", "attentions", weights, labels, labels, [1])
    drawn = view.top_keys()[0]
    for q in range(64):
        best = np.sort(weights[0, q])[::-1][:3]
        assert [w for _, w in drawn[q]] == [w for w in best if w >= MIN_LINE_WEIGHT]
    text = lines_text(view, 76).plain
    assert "top 3 keys per query of 64" in text
    assert len(text.splitlines()) == 64 + 2                # a row per token, no spacing
    assert max(len(line) for line in text.splitlines()) <= 76


def test_toy_model_cross_attention_lines():
    doc = invoke_json("heads", "3 1 4", "--model", "reverse", "--view", "lines")
    assert doc["settings"]["view"] == "lines"
    cross = [s for s in doc["steps"] if "encoder" in s["title"].lower()
             and "over" in s["title"].lower()]
    assert cross
    lines = cross[0]["parts"][0]["lines"][0]
    assert lines["queries"][0] == "<bos>" and lines["keys"] == ["3", "1", "4"]
    result = invoke("heads", "3 1 4", "--model", "reverse", "--view", "lines", "--head", "2")
    assert result.exit_code == 0 and "every key of 3" in " ".join(result.output.split())


def test_causal_model_first_query_reads_one_key(tmp_path):
    svg = tmp_path / "llama.svg"
    result = invoke("heads", SENTENCE, "--model", str(TINY_LLAMA), "--view", "lines",
                    "--layer", "1", "--head", "1", "--svg", str(svg))
    assert result.exit_code == 0, result.output
    lines, _ = svg_lines(svg)
    assert [k for (_, q, k) in lines if q == 0] == [0]      # the mask leaves it itself
    assert all(k <= q for (_, q, k) in lines)              # never a later key


@pytest.mark.parametrize("args, option", [
    (["--head", "1"], "--head"), (["--top", "5"], "--top"),
    (["--view", "lines", "--absolute"], "--absolute"),
    (["--view", "lines", "--top", "0"], "--top"),
    (["--view", "lines", "--head", "9"], "--head")])
def test_lines_options_are_checked(capsys, args, option):
    from tutor.cli import main

    with pytest.raises(SystemExit) as info:
        main(["heads", SENTENCE, "--model", str(TINY_BERT), *args])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.startswith("Error: ") and len(err.strip().splitlines()) == 1, err
    assert option in err


# --- the heads grid -------------------------------------------------------------------------

def grid_rows(output, title, label):
    """The row of heatmap ``title`` labelled ``label``: its glyphs."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if title in line)
    column = lines[start].index(title)
    for line in lines[start + 1:]:
        cell = line[column:]
        if cell.startswith(label):
            return re.split(r"\s+", cell[len(label):].strip())[0]
    raise AssertionError(f"no row {label} under {title}")


def test_grid_labels_both_axes_and_absolute_shades_by_the_global_max():
    from tutor.render.console import BARS

    weights = np.asarray(invoke_json("heads", SENTENCE, "--model", str(TINY_BERT))
                         ["attention"])                                # [layer, h, n, n]
    row_scaled = invoke("heads", SENTENCE, "--model", str(TINY_BERT))
    absolute = invoke("heads", SENTENCE, "--model", str(TINY_BERT), "--absolute")
    assert "shaded from 0 to" in " ".join(absolute.output.split())
    top = weights.max()
    for output, scale in ((row_scaled.output, weights[0, 0].max(axis=1)),
                          (absolute.output, np.full(8, top))):
        glyphs = grid_rows(output, "H1 ", "cat  ")                  # the row of query 'cat'
        row = weights[0, 0, 2]
        expected = "".join(BARS[int(np.clip(v / scale[2], 0, 1) * 7 + 0.5)] * 2 for v in row)
        assert glyphs == expected
    # the keys' labels written downwards above the first heatmap: c a t for 'cat'
    lines = row_scaled.output.splitlines()
    start = next(i for i, line in enumerate(lines) if "H1 " in line)
    header = [lines[start + j] for j in range(1, 4)]
    column = lines[start].index("H1 ") + 6 + 2 * 2                   # key 3 ('cat')
    assert "".join(line[column] for line in header) == "cat"


def test_grid_of_many_tokens_has_no_axis_labels():
    sentence = " ".join(["cat"] * 15)                                 # 17 tokens with [CLS] [SEP]
    result = invoke("heads", sentence, "--model", str(TINY_BERT))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    start = next(i for i, line in enumerate(lines) if "H1 " in line)
    assert "▁" in lines[start + 1] or "█" in lines[start + 1] or any(
        c in lines[start + 1] for c in "▂▃▄▅▆▇")


def test_attention_model_view_lines_draws_the_heads_recorded_weights(tmp_path):
    doc = invoke_json("attention", SENTENCE, "--model", str(TINY_BERT), "--layer", "2",
                      "--head", "3", "--view", "lines")
    softmax = next(s for s in doc["steps"] if s["key"] == "softmax")
    assert [p["lines"][0]["key"] for p in softmax["parts"] if "lines" in p] == ["weights"]
    weights = np.asarray(doc["matrices"]["weights"])                  # [n, n]
    svg = tmp_path / "head.svg"
    result = invoke("attention", SENTENCE, "--model", str(TINY_BERT), "--layer", "2",
                    "--head", "3", "--view", "lines", "--svg", str(svg))
    assert result.exit_code == 0, result.output
    lines, n = svg_lines(svg)
    expected = {(2, q, k): w for (_, q, k), w in expected_lines(weights[None]).items()}
    assert n == len(expected) and set(lines) == set(expected)
    for where, weight in expected.items():
        assert float(lines[where].get("stroke-opacity")) == pytest.approx(weight, abs=5e-5)


def test_generate_view_lines_draws_each_steps_row(tmp_path):
    doc = invoke_json("generate", "3 1 4", "--view", "lines")
    result = doc["result"]
    step = next(s for s in doc["steps"] if s["key"] == "lines")
    view = step["parts"][0]["lines"][0]
    assert view["keys"] == ["3", "1", "4"] and len(view["queries"]) == len(result["steps"])
    svg = tmp_path / "generate.svg"
    assert invoke("generate", "3 1 4", "--view", "lines", "--svg", str(svg)).exit_code == 0
    lines, _ = svg_lines(svg)
    last = len(result["steps"][0]["attention"]["heads"])                # heads of the last layer
    for t, entry in enumerate(result["steps"]):
        heads = np.asarray(entry["attention"]["heads"])               # [h, S], last layer
        for h in range(last):
            top = [k for k in np.argsort(-heads[h], kind="stable")[:3]
                   if heads[h, k] >= MIN_LINE_WEIGHT]
            assert sorted(k for (hh, q, k) in lines if hh == h and q == t) == sorted(top)
            for k in top:
                assert float(lines[(h, t, k)].get("stroke-opacity")) == pytest.approx(
                    heads[h, k], abs=5e-5)


def test_view_lines_needs_what_it_draws(capsys):
    from tutor.cli import main

    with pytest.raises(SystemExit) as info:
        main(["attention", "the cat", "--view", "lines"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.startswith("Error: ") and "--view" in err


def test_a_selected_querys_lines_keep_their_strength_and_the_others_fade_without_colour():
    weights = np.asarray(invoke_json("heads", SENTENCE, "--model", str(TINY_BERT))
                         ["attention"])[0, :1]                         # layer 1, head 1
    labels = [f"k{i}" for i in range(8)]

    def braille(view):
        return [[ord(c) - BRAILLE if 0x2800 <= ord(c) <= 0x28FF else 0 for c in line]
                for line in lines_text(view, 70).plain.splitlines()]

    selected = braille(LinesView("h", "attentions", weights, labels, labels, [1], selected=2))
    alone = np.zeros_like(weights)
    alone[:, 2] = weights[:, 2]                                       # only query 3's lines
    own = braille(LinesView("h", "attentions", alone, labels, labels, [1]))
    full = braille(LinesView("h", "attentions", weights, labels, labels, [1]))
    for row_selected, row_own in zip(selected, own):                 # drawn whole, as strong
        assert all(a & b == b for a, b in zip(row_selected, row_own))
    count = lambda rows: sum(bin(b).count("1") for row in rows for b in row)   # noqa: E731
    assert count(own) < count(selected) < count(full)                 # the others are faint
