"""Options that clash, or that do nothing in the chosen mode, are handled one way everywhere:
a usage error naming both options; and where two options combine (--format json with --svg)
help says what happens."""

import json

from cli_helpers import invoke


def test_svg_with_a_text_format_pictures_the_rich_rendering(tmp_path):
    svg, html = tmp_path / "s.svg", tmp_path / "s.html"
    result = invoke("softmax", "6", "4", "--format", "json", "--svg", str(svg), "--html", str(html))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["command"] == "softmax"        # stdout: the JSON, exactly
    picture = svg.read_text()
    assert "Step" in picture and "Shift" in picture and "&quot;matrices&quot;" not in picture
    assert "Shift by the maximum" in html.read_text() and '"matrices"' not in html.read_text()
    text = " ".join(invoke("softmax", "--help").output.split())
    assert "(with --format json, markdown or latex too: the picture is the rich rendering)" in text
