"""`tutor scaling`: the spread of q·k, softmax saturation and gradients against a direct NumPy
computation and the closed form std(q·k) = √dk; rendering; bad input."""

import math

import numpy as np
import pytest

from cli_helpers import for_command

from tutor.cli import main
from tutor.cli.values import rng_for


run, run_json = for_command("scaling")


def direct(dks, samples, keys, seed):
    """The same statistics written out by hand, on the same random stream."""
    rng = rng_for(seed, "scaling")
    rows = []
    for d_k in dks:
        q = rng.standard_normal((samples, 1, d_k))
        k = rng.standard_normal((samples, keys, d_k))
        logits = np.einsum("sd,skd->sk", q[:, 0], k)
        rows.append([d_k, math.sqrt(d_k), logits[:, 0].std()])
        for scale in (1.0, 1 / math.sqrt(d_k)):
            e = np.exp(logits * scale - (logits * scale).max(-1, keepdims=True))
            p = e / e.sum(-1, keepdims=True)
            rows[-1].append(p.max(-1).mean())
        for scale in (1.0, 1 / math.sqrt(d_k)):
            e = np.exp(logits * scale - (logits * scale).max(-1, keepdims=True))
            p = e / e.sum(-1, keepdims=True)
            jac = np.einsum("si,ij->sij", p, np.eye(keys)) - np.einsum("si,sj->sij", p, p)
            rows[-1].append(np.sqrt((jac ** 2).sum((1, 2))).mean())
    table = np.array(rows)
    return table[:, [0, 1, 2, 3, 4, 5, 6]]


def test_numbers_equal_a_direct_computation():
    doc = run_json("--dk", "4", "64", "--samples", "300", "--keys", "5", "--seed", "3")
    np.testing.assert_allclose(doc["matrices"]["table"], direct([4, 64], 300, 5, 3), rtol=1e-8)


def test_spread_grows_like_sqrt_dk_and_scaling_keeps_softmax_balanced():
    table = np.array(run_json("--dk", "4,64,512", "--samples", "4000")["matrices"]["table"])
    np.testing.assert_allclose(table[:, 2], np.sqrt([4, 64, 512]), rtol=0.06)   # std ≈ √dk
    assert table[2, 3] > 0.9 and table[0, 3] < table[1, 3] < table[2, 3]        # saturates
    np.testing.assert_allclose(table[:, 4], table[0, 4], rtol=0.1)              # scaled: flat
    assert table[2, 5] < table[0, 5] / 4                                        # gradient vanishes
    np.testing.assert_allclose(table[:, 6], table[0, 6], rtol=0.1)


def test_dk_values_can_be_listed_three_ways():
    a = run_json("--dk", "4", "64", "512")["matrices"]["table"]
    assert run_json("--dk", "4,64,512")["matrices"]["table"] == a
    assert run_json("4", "64", "512")["matrices"]["table"] == a
    assert run_json()["matrices"]["table"] == a                       # the default


def test_renders_at_80_columns_with_one_scale_per_chart():
    result = run("--dk", "4", "512", "--samples", "500", "--step", "2")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[2].startswith("╭─ Step 2 of 3 · Unscaled softmax saturates")
    bars = {line.split("│")[1].split("█")[0].strip(): line.count("█")
            for line in lines if "█" in line}
    # the scaled bar is drawn on the same scale as the unscaled one, so it is shorter
    assert bars["dk=512 scaled"] < bars["dk=512 unscaled"] / 2


@pytest.mark.parametrize("args, message", [
    (["--dk", "0"], "Invalid value for '--dk': expected a width from 1 to 4096, got 0"),
    (["--dk", "5000"], "Invalid value for '--dk': expected a width from 1 to 4096, got 5000"),
    (["--dk", "abc"], "Invalid value for '--dk': expected whole numbers, got 'abc'"),
    (["1", "2", "3", "4", "5", "6", "7", "8", "9"],
     "Invalid value for '--dk': expected at most 8 values, got 9"),
    (["--samples", "5"], "Invalid value for '--samples': expected a number of samples from 10 "
                         "to 20000, got 5"),
    (["--keys", "1"], "Invalid value for '--keys': expected a number of keys from 2 to 64, got 1"),
    (["--dk", "4096", "--samples", "20000"],
     "Invalid value for '--samples': expected --samples × --keys × the largest dk to be at most "
     "30,000,000, got 20000 × 8 × 4096 = 655,360,000"),
])
def test_bad_input_is_one_line_exit_2(capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["scaling", *args])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == f"Error: {message}\n"
