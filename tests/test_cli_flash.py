"""`tutor flash`: online softmax block by block against its recurrences, the output equal to
softmax attention (torch as golden in tests/test_nn_modern.py), memory, rendering, bad input."""

import numpy as np
import pytest

from cli_helpers import for_command, one_line_error

run, run_json = for_command("flash")


def test_running_max_sum_and_output():
    doc = run_json("the cat sat on the mat", "--block", "4")
    m = doc["matrices"]
    q, k, v = (np.array(m[n]) for n in ("q", "k", "v"))
    s = q @ k.T / np.sqrt(2)
    first = s[:, :4]
    np.testing.assert_allclose(m["online.block0.max"], first.max(1), atol=1e-15)
    np.testing.assert_allclose(m["online.block1.max"], s.max(1), atol=1e-15)
    np.testing.assert_allclose(m["online.block1.rescale"],
                               np.exp(first.max(1) - s.max(1)), atol=1e-15)
    np.testing.assert_allclose(m["online.block1.sum"],
                               np.exp(s - s.max(1, keepdims=True)).sum(1), atol=1e-14)
    w = np.exp(s - s.max(1, keepdims=True))
    np.testing.assert_allclose(m["online.out"], (w / w.sum(1, keepdims=True)) @ v, atol=1e-14)
    np.testing.assert_allclose(m["online.out"], m["reference.out"], atol=1e-14)
    assert m["max_diff"] < 1e-14
    assert m["memory"] == [36, 2 * 6 + 6 * 4, 12]
    assert [s["key"] for s in doc["steps"]] == ["qkv", "block1", "block2", "out", "memory"]


@pytest.mark.parametrize("block", ["1", "2", "3", "32"])
def test_every_block_size_gives_softmax_attention(block):
    m = run_json("the cat sat on the mat", "--block", block, "--dk", "3")["matrices"]
    np.testing.assert_allclose(m["online.out"], m["reference.out"], atol=1e-14)


def test_rendering_at_80_columns():
    for args in (["the cat sat"], ["the cat sat on the mat", "--block", "3", "--dk", "4"]):
        out = run(*args).output
        assert max(len(line) for line in out.splitlines()) <= 80, args


@pytest.mark.parametrize("args, message", [
    (["the cat", "--block", "0"], "'--block': expected a number of keys from 1"),
    (["the cat", "--dk", "0"], "'--dk': expected a width from 1"),
    ([""], "'SENTENCE': expected at least one word"),
])
def test_bad_input_is_one_line_exit_2(args, message, capsys):
    assert message in one_line_error(capsys, ["flash", *args])
