"""`tutor softmax`: the notes' softmax([6, 4]), scale and temperature, rendering, bad input."""

import math

import numpy as np
import pytest

from cli_helpers import for_command

from tutor.cli import main


run, run_json = for_command("softmax")


def test_softmax_6_4_is_0_8808_0_1192_with_every_step():
    doc = run_json("6", "4")
    e2 = math.exp(-2)
    m = doc["matrices"]
    assert m["softmax.shifted"] == [0.0, -2.0]
    np.testing.assert_allclose(m["softmax.exp"], [1.0, e2], rtol=1e-15)
    np.testing.assert_allclose(m["softmax.sum"], [1 + e2], rtol=1e-15)
    np.testing.assert_allclose(m["softmax.out"], [1 / (1 + e2), e2 / (1 + e2)], rtol=1e-15)
    np.testing.assert_allclose(m["softmax.out"], [0.8808, 0.1192], atol=5e-5)
    assert [s["key"] for s in doc["steps"]] == ["shift", "exp", "sum", "divide"]
    flat = " ".join(run("6", "4").output.replace("│", " ").split())
    assert "softmax = [0.8808, 0.1192]" in flat
    assert "S = 1.0000 + 0.1353 = 1.1353" in flat


@pytest.mark.parametrize("args, z", [
    (["6", "4", "--scale", "0.5"], [3.0, 2.0]),
    (["6", "4", "--temperature", "4"], [1.5, 1.0]),
    (["-1,2,0.5", "--temperature", "0.5"], [-2.0, 4.0, 1.0]),
])
def test_scale_and_temperature(args, z):
    doc = run_json(*args)
    np.testing.assert_allclose(doc["matrices"]["logits"], z)
    e = np.exp(np.array(z) - max(z))
    np.testing.assert_allclose(doc["matrices"]["softmax.out"], e / e.sum(), rtol=1e-14)
    assert doc["steps"][0]["key"] == "logits"


def test_negative_numbers_are_numbers():
    doc = run_json("-1", "-3")
    np.testing.assert_allclose(doc["matrices"]["softmax.shifted"], [0.0, -2.0])


def test_rendering_at_80_columns():
    for args in (["6", "4"], [",".join(str(i) for i in range(64))], ["1", "2", "--scale", "3"]):
        out = run(*args).output
        assert max(len(line) for line in out.splitlines()) <= 80
        assert "\x1b[" not in out
    assert "Step 4 of 4 · Divide" in run("6", "4").output
    assert "Examples:" in run("--help").output


@pytest.mark.parametrize("args, message", [
    (["6", "nan"], "'NUMBERS': expected finite numbers, got nan"),
    (["inf", "1"], "'NUMBERS': expected finite numbers, got inf"),
    (["six"], "'NUMBERS': expected numbers, got 'six'"),
    ([""], "'NUMBERS': expected numbers such as"),
    ([",".join(["1"] * 257)], "'NUMBERS': expected at most 256 numbers, got 257"),
    (["6", "4", "--temperature", "0"], "'--temperature': expected a number from 1e-06 to 1,000,000"),
    (["6", "4", "--temperature", "-1"], "'--temperature': expected a number from 1e-06 to 1,000,000"),
    (["6", "4", "--scale", "nan"], "'--scale': expected a finite number from -1,000,000 to 1,000,000, got nan"),
    (["6", "4", "--bogus"], "'--bogus': expected --scale"),
])
def test_bad_input(capsys, args, message):
    with pytest.raises(SystemExit) as info:
        main(["softmax", *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1


def test_no_numbers_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["softmax"])
    assert info.value.code == 2


def test_the_worked_sum_adds_up_as_printed():
    import re

    from cli_helpers import invoke

    for numbers in (["0.1", "0.2", "0.3", "0.35", "0.4"], ["6", "4"], ["1", "2", "3"]):
        text = invoke("softmax", *numbers, "--step", "3", "--format", "plain").output
        terms, total = re.search(r"S = ([\d. +]+) = ([\d.]+)", text).groups()
        decimals = len(total.split(".")[1])
        assert f"{sum(float(t) for t in terms.split(' + ')):.{decimals}f}" == total, text
