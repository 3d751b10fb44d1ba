"""`tutor gqa`: the groups, equality with multi-head attention on repeated keys and values
(transformers' repeat_kv as golden), the cache in bytes per token, rendering, bad input."""

import numpy as np
import pytest

from cli_helpers import for_command, one_line_error

run, run_json = for_command("gqa")


def _softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_groups_and_each_head_against_the_formula():
    doc = run_json("the cat sat", "--heads", "6", "--kv-heads", "2")
    m = doc["matrices"]
    assert m["group"] == [0, 0, 0, 1, 1, 1]
    q, k, v = (np.array(m[n]) for n in ("q", "k", "v"))
    assert q.shape == (6, 3, 2) and k.shape == v.shape == (2, 3, 2)
    for h in range(6):                                                  # head h reads kv h // 3
        g = h // 3
        np.testing.assert_allclose(m["gqa.scores"][0][h], q[h] @ k[g].T, atol=1e-12)
        w = _softmax(q[h] @ k[g].T / np.sqrt(2))
        np.testing.assert_allclose(m["gqa.weights"][0][h], w, atol=1e-12)
        np.testing.assert_allclose(m["gqa.out"][0][h], w @ v[g], atol=1e-12)
    np.testing.assert_allclose(m["mha.out"], m["gqa.out"], atol=1e-12)
    assert [s["key"] for s in doc["steps"]] == ["groups", "group1", "group2", "equal", "cache"]


def test_the_cache_in_bytes_per_token():
    m = run_json("the cat sat", "--heads", "6", "--kv-heads", "2")["matrices"]
    assert m["cache.smollm2"] == [[9, 138240], [3, 46080], [1, 15360]]   # 2·30·h·64·4; 3×
    assert m["cache.here"] == [[6, 2 * 6 * 2 * 4], [2, 2 * 2 * 2 * 4], [1, 2 * 1 * 2 * 4]]
    assert m["cache.context"] == [138240 * 2048, 46080 * 2048, 15360 * 2048]   # 2,048 tokens
    flat = " ".join(run("the cat sat").output.replace("│", " ").split())
    assert "At 2,048 tokens: 94.37 MB instead of 283.12 MB" in flat
    assert "bytes 283115520 94371840 31457280" in flat


def test_mha_and_mqa_are_the_two_ends():
    mha = run_json("the cat sat", "--heads", "3", "--kv-heads", "3")["matrices"]
    assert mha["group"] == [0, 1, 2]
    mqa = run_json("the cat sat", "--heads", "4", "--kv-heads", "1")["matrices"]
    assert mqa["group"] == [0, 0, 0, 0]


def test_rendering_at_80_columns():
    for args in (["the cat sat"], ["the cat sat on the mat", "--heads", "4", "--kv-heads", "1"],
                 ["the cat sat", "--head-dim", "8", "--dim", "8"]):
        out = run(*args).output
        assert max(len(line) for line in out.splitlines()) <= 80, args
    flat = " ".join(run("the cat sat").output.replace("│", " ").split())
    assert "GQA: 2 × 30 × 3 × 64 × 4 = 46,080 bytes a token, 3× less than MHA's 138,240" in flat


@pytest.mark.parametrize("args, message", [
    (["the cat", "--heads", "6", "--kv-heads", "4"], "'--kv-heads': expected a divisor of --heads 6"),
    (["the cat", "--heads", "0"], "'--heads': expected a number of heads from 1"),
    (["the cat", "--kv-heads", "0"], "'--kv-heads': expected a number of heads from 1"),
    (["the cat", "--head-dim", "0"], "'--head-dim': expected a width from 1"),
    ([""], "'SENTENCE': expected at least one word"),
])
def test_bad_input_is_one_line_exit_2(args, message, capsys):
    assert message in one_line_error(capsys, ["gqa", *args])


def test_the_groups_row_counts_heads_from_1_as_the_panels_do():
    screen = run("the cat sat", "--heads", "6", "--kv-heads", "2", "--format", "plain").output
    row = next(line.strip(" │").split() for line in screen.splitlines()
               if line.strip(" │").startswith("kv head"))
    assert row == ["kv", "head", "1", "1", "1", "2", "2", "2"]          # was 0 0 0 1 1 1
    assert "key/value head 1" in screen and "key/value head 0" not in screen
    assert "query head 6 reads key/value head ⌈6 / 3⌉ = 2" in screen
