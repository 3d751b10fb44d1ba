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


def test_one_lower_bound_for_temperature_in_softmax_and_generate():
    from tutor.limits import MIN_TEMPERATURE

    for command in (["softmax", "1", "2"], ["generate", "3 1"]):
        result = invoke(*command, "--temperature", "1e-7")
        assert result.exit_code == 2
        assert f"'--temperature': expected a number of at least {MIN_TEMPERATURE:g}, got 1e-07" \
            in result.output
        assert invoke(*command, "--temperature", str(MIN_TEMPERATURE)).exit_code == 0


def test_an_option_without_effect_in_the_mode_is_a_usage_error_naming_both():
    result = invoke("generate", "3 1", "--length-penalty", "5")
    assert result.exit_code == 2
    assert "'--length-penalty': expected --beam with it" in result.output
    assert invoke("generate", "3 1", "--length-penalty", "5", "--beam", "2").exit_code == 0
    result = invoke("generate", "3 1", "--seed", "4")                 # the rule it follows
    assert result.exit_code == 2 and "'--seed': expected --temperature" in result.output
