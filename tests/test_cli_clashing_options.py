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
        assert f"'--temperature': expected a number from {MIN_TEMPERATURE:g} to 1,000,000, got 1e-07" \
            in result.output
        assert invoke(*command, "--temperature", str(MIN_TEMPERATURE)).exit_code == 0


def test_an_option_without_effect_in_the_mode_is_a_usage_error_naming_both():
    result = invoke("generate", "3 1", "--length-penalty", "5")
    assert result.exit_code == 2
    assert "'--length-penalty': expected --beam with it" in result.output
    assert invoke("generate", "3 1", "--length-penalty", "5", "--beam", "2").exit_code == 0
    result = invoke("generate", "3 1", "--seed", "4")                 # the rule it follows
    assert result.exit_code == 2 and "'--seed': expected --temperature" in result.output


def test_one_lower_bound_for_lr_in_backward_and_train(tmp_path):
    for value, message in (("0", "expected a number greater than 0 and at most 1,000,000, got 0"),
                           ("-1", "expected a number greater than 0 and at most 1,000,000, got -1"),
                           ("nan", "expected a finite number greater than 0 and at most 1,000,000, got nan")):
        for command in (["backward", "the cat"], ["train", "--output", str(tmp_path / "m.npz")]):
            result = invoke(*command, "--lr", value)
            assert result.exit_code == 2
            assert f"Invalid value for '--lr': {message}" in result.output, result.output
    result = invoke("train", "--lr", "2", "--output", str(tmp_path / "m.npz"))
    assert result.exit_code == 2 and "expected a rate of at most 1 for a training run" in \
        result.output


def test_train_help_says_which_formats_it_has():
    text = " ".join(invoke("train", "--help").output.split())
    assert "no markdown, latex, --svg or --html" in text
