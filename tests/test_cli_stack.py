"""`tutor encode` and `tutor transformer`: --weights/--src-vectors/--tgt-vectors/--output against
PyTorch's golden files, the causal mask, the next-token distribution, rendering, bad input."""

import json
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import invoke, invoke_json

from tutor.cli import main

GOLDEN = Path(__file__).parent / "golden"


run = invoke


def golden_files(tmp_path, name):
    z = np.load(GOLDEN / f"{name}.npz", allow_pickle=False)
    params = {k[len("param."):]: z[k] for k in z.files if k.startswith("param.")}
    np.savez(tmp_path / "w.npz", **params)
    np.save(tmp_path / "src.npy", z["in.src"])
    np.save(tmp_path / "tgt.npy", z["in.tgt"])
    meta = json.loads(str(z["meta"]))["config"]
    return z, meta


@pytest.mark.parametrize("name", ["transformer_1head_1x2", "transformer_pre_gelu_3x3"])
def test_encode_equals_pytorch_memory(tmp_path, name):
    z, cfg = golden_files(tmp_path, name)
    assert "in.src_key_padding_mask" not in z.files and "in.src_mask" not in z.files
    args = ["encode", "--weights", str(tmp_path / "w.npz"), "--heads", str(cfg["nhead"]),
            "--src-vectors", str(tmp_path / "src.npy"), "--output", str(tmp_path / "out.npy"),
            "--activation", cfg["activation"], "--format", "json"]
    if cfg["norm_first"]:
        args.append("--norm-first")
    result = run(*args)
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), z["out.memory"], atol=1e-9, rtol=0)
    doc = json.loads(result.output)                  # the steps of item 1, the one shown
    memory = z["out.memory"].reshape(-1, *z["out.memory"].shape[-2:])       # [B, S, d_model]
    np.testing.assert_allclose(doc["matrices"]["encoder.norm.out"], memory[:1], atol=1e-9)


def test_transformer_equals_pytorch_output(tmp_path):
    z, cfg = golden_files(tmp_path, "transformer_1head_1x2")
    result = run("transformer", "--weights", str(tmp_path / "w.npz"), "--heads", "1",
                 "--src-vectors", str(tmp_path / "src.npy"), "--tgt-vectors",
                 str(tmp_path / "tgt.npy"), "--output", str(tmp_path / "out.npy"),
                 "--save-weights", str(tmp_path / "again.npz"))
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), z["out.output"], atol=1e-9, rtol=0)
    again = np.load(tmp_path / "again.npz")
    np.testing.assert_array_equal(again["encoder.norm.weight"], z["param.encoder.norm.weight"])
    assert max(len(line) for line in result.output.splitlines()) <= 80


def test_unbatched_vectors_give_unbatched_output(tmp_path):
    z, _ = golden_files(tmp_path, "transformer_1head_1x2")
    np.save(tmp_path / "src2.npy", z["in.src"][0])
    result = run("encode", "--weights", str(tmp_path / "w.npz"), "--heads", "1",
                 "--src-vectors", str(tmp_path / "src2.npy"), "--output", str(tmp_path / "m.npy"))
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load(tmp_path / "m.npy"), z["out.memory"][0], atol=1e-9)


def test_causal_target_mask_hides_later_positions(tmp_path):
    z, _ = golden_files(tmp_path, "transformer_1head_1x2")
    common = ["transformer", "--weights", str(tmp_path / "w.npz"), "--heads", "1",
              "--src-vectors", str(tmp_path / "src.npy"), "--causal"]
    full = run(*common, "--tgt-vectors", str(tmp_path / "tgt.npy"), "--output",
               str(tmp_path / "a.npy"), "--format", "json")
    doc = json.loads(full.output)
    weights = np.array(doc["matrices"]["decoder.layers.0.self_attn.weights"])[0, 0]
    assert np.all(weights[np.triu_indices(7, 1)] == 0)
    # position 3 sees only positions 1-3: cutting the target after it changes nothing there
    np.save(tmp_path / "tgt3.npy", z["in.tgt"][:, :3])
    run(*common, "--tgt-vectors", str(tmp_path / "tgt3.npy"), "--output", str(tmp_path / "b.npy"))
    np.testing.assert_allclose(np.load(tmp_path / "a.npy")[:, :3], np.load(tmp_path / "b.npy"),
                               atol=1e-12)


def test_sentences_walkthrough_and_next_token_distribution():
    result = run("transformer", "--src", "the cat sat", "--tgt", "le chat", "--format", "json")
    doc = json.loads(result.output)
    m = doc["matrices"]
    assert doc["settings"]["vocabulary"] == ["the", "cat", "sat", "le", "chat"]
    h = np.array(m["decoder.norm.out"])[0, -1]
    logits = np.array(m["vocab_embeddings"]) @ h
    np.testing.assert_allclose(m["next.logits"], logits, rtol=1e-12)
    p = np.exp(logits - logits.max())
    np.testing.assert_allclose(m["next.softmax.out"], p / p.sum(), rtol=1e-12)
    w = np.array(m["decoder.layers.0.self_attn.weights"])[0]
    assert np.all(w[:, 0, 1] == 0)                                     # lower-triangular
    assert np.array(m["decoder.layers.0.multihead_attn.weights"]).shape == (1, 2, 2, 3)
    keys = [s["key"] for s in doc["steps"]]
    assert keys[-1] == "next" and "decoder.layers.0.multihead_attn" in keys


def test_encode_sentence_layers_and_detail():
    doc = json.loads(run("encode", "the cat sat", "--layers", "2", "--dim", "8", "--heads", "4",
                         "--detail", "full", "--format", "json").output)
    m = doc["matrices"]
    assert np.array(m["encoder.layers.1.self_attn.weights"]).shape == (1, 4, 3, 3)
    add1 = np.array(m["encoder.layers.0.add1"])
    np.testing.assert_allclose(add1, np.array(m["encoder.layers.0.input"])
                               + np.array(m["encoder.layers.0.self_attn.out_proj"]), rtol=1e-12)
    keys = [s["key"] for s in doc["steps"]]
    assert "encoder.layers.1.add2" in keys and keys[-1] == "memory"


def test_rendering_at_80_columns():
    for args in (["encode", "the cat sat"], ["encode", "the cat sat", "--detail", "full",
                                              "--dim", "16", "--heads", "4"],
                 ["transformer", "--src", "the cat sat", "--tgt", "le chat", "--detail", "full"]):
        out = run(*args).output
        assert max(len(line) for line in out.splitlines()) <= 80, args
        assert "\x1b[" not in out
    out = run("transformer", "--src", "the cat sat", "--tgt", "le chat").output
    assert "encoder–decoder attention" in out and "p(next word)" in out
    assert "Examples:" in run("encode", "--help").output
    assert "Examples:" in run("transformer", "--help").output


@pytest.mark.parametrize("args, message", [
    (["encode"], "'SENTENCE': expected a sentence or --src-vectors"),
    (["encode", " "], "'SENTENCE': expected at least one word"),
    (["encode", "a b", "--heads", "3"], "'--heads': expected a number that divides --dim 4"),
    (["encode", "a b", "--dim", "0"], "'--dim': expected a width from 1 to 64, got 0"),
    (["encode", "a b", "--layers", "7"], "'--layers': expected a number of layers from 1 to 6"),
    (["encode", "a b", "--ff", "0"], "'--ff': expected a width from 1 to 256"),
    (["encode", "a b", "--eps", "nan"], "'--eps': expected a finite number"),
    (["encode", "a b", "--eps", "0"], "'--eps': expected a number greater than 0"),
    (["transformer", "--src", "a"], "'--tgt': expected both --src and --tgt"),
    (["transformer"], "'--src': expected --src and --tgt"),
    (["transformer", "--src", "a", "--tgt", "b", "--causal"], "'--causal': expected --tgt-vectors"),
])
def test_bad_options(capsys, args, message):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1


def test_bad_files(tmp_path, capsys):
    z, _ = golden_files(tmp_path, "transformer_1head_1x2")
    w = str(tmp_path / "w.npz")
    np.save(tmp_path / "wide.npy", np.zeros((3, 5)))
    np.save(tmp_path / "nan.npy", np.full((3, 4), np.nan))
    np.save(tmp_path / "flat.npy", np.zeros(4))
    params = {k[6:]: z[k] for k in z.files if k.startswith("param.")}
    params["encoder.layers.0.linear1.bias"] = np.zeros(3)
    np.savez(tmp_path / "bad.npz", **params)
    cases = [
        (["encode", "--weights", w, "--heads", "1", "--src-vectors", str(tmp_path / "wide.npy")],
         2, "'--src-vectors': expected d_model = 4 columns like the model (--weights or --dim)"),
        (["encode", "--weights", w, "--heads", "1", "--src-vectors", str(tmp_path / "nan.npy")],
         2, "'--src-vectors': expected finite numbers"),
        (["encode", "--weights", w, "--heads", "1", "--src-vectors", str(tmp_path / "flat.npy")],
         2, "'--src-vectors': expected shape [seq, d_model] or [batch, seq, d_model]"),
        (["encode", "--weights", w, "--heads", "3", "--src-vectors", str(tmp_path / "src.npy")],
         2, "'--heads': expected a number that divides d_model 4"),
        (["encode", "--weights", w, "--dim", "4", "a"], 2, "'--dim': expected no size with --weights"),
        (["encode", "--weights", str(tmp_path / "bad.npz"), "--heads", "1", "a"], 2,
         f"Error: Invalid value for '--weights': {tmp_path / 'bad.npz'}: parameter "
         f"'encoder.layers.0.linear1.bias' has shape (3,), expected (8,)"),
        (["encode", "--weights", str(tmp_path / "none.npz"), "--heads", "1", "a"], 2,
         "'--weights': expected an existing .npz or .safetensors file"),
        (["encode", "--weights", w, "a"], 2,
         "'--heads': expected the number of heads the --weights model was made with"),
        (["transformer", "--weights", w, "--heads", "1", "--src-vectors", str(tmp_path / "src.npy"),
          "--tgt-vectors", str(tmp_path / "flat.npy")], 2, "'--tgt-vectors': expected shape"),
    ]
    for args, code, message in cases:
        with pytest.raises(SystemExit) as info:
            main(args)
        err = capsys.readouterr().err
        assert info.value.code == code, (args, err)
        assert err.startswith("Error: ") and message in err, err
        assert len(err.strip().splitlines()) == 1


def test_transformer_detail_full_expands_the_encoder_too():
    full = invoke_json("transformer", "--src", "the cat sat", "--tgt", "le chat", "--detail", "full")
    titles = [step["title"] for step in full["steps"]]
    assert titles[1:6] == ["Encoder layer 1: self-attention", "Add & norm after self-attention",
                           "Feed-forward", "Add & norm after the feed-forward",
                           "Contextual vectors"]


def test_the_next_word_text_does_not_call_a_given_model_untrained(tmp_path):
    weights = str(tmp_path / "m.npz")
    plain = invoke("transformer", "--src", "the cat", "--tgt", "le", "--save-weights", weights,
                   "--format", "plain").output
    given = invoke("transformer", "--src", "the cat", "--tgt", "le", "--weights", weights,
                   "--heads", "2", "--format", "plain").output
    flat = lambda text: " ".join(text.replace("│", " ").split())       # noqa: E731
    assert "The model is untrained" in flat(plain)
    assert "The model is untrained" not in flat(given) and "With your weights" in flat(given)


def _encoder_only_files(tmp_path, norm: bool):
    """An nn.TransformerEncoder state dict (names layers.*, norm.*) and vectors for it."""
    from tutor import TransformerEncoder
    model = TransformerEncoder.random(4, 2, 2, 8, norm=norm, seed=3)
    np.savez(tmp_path / "enc.npz", **model.state_dict())
    src = np.random.default_rng(4).standard_normal((2, 3, 4))
    np.save(tmp_path / "src.npy", src)
    return model, src


@pytest.mark.parametrize("norm", [True, False])
def test_encode_reads_an_encoder_only_state_dict(tmp_path, norm):
    """Issue 12 item 2: `tutor encode --weights` loads nn.TransformerEncoder state dicts (with
    and without the final norm) and gives what the engine's TransformerEncoder gives (which the
    golden files check against PyTorch). Before, the file was refused."""
    model, src = _encoder_only_files(tmp_path, norm)
    result = run("encode", "--weights", str(tmp_path / "enc.npz"), "--heads", "2",
                 "--src-vectors", str(tmp_path / "src.npy"), "--output", str(tmp_path / "m.npy"))
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load(tmp_path / "m.npy"), model.encode(src), atol=1e-12)
    # the last step says where the memory comes from
    assert ("no final norm" in result.output) is (not norm)


def test_encoder_only_state_dict_is_refused_by_transformer_with_what_to_use(tmp_path):
    _encoder_only_files(tmp_path, True)
    np.save(tmp_path / "tgt.npy", np.zeros((2, 2, 4)))
    result = run("transformer", "--weights", str(tmp_path / "enc.npz"), "--heads", "2",
                 "--src-vectors", str(tmp_path / "src.npy"), "--tgt-vectors",
                 str(tmp_path / "tgt.npy"))
    assert result.exit_code == 2
    assert "--weights" in result.output and "nn.TransformerEncoder alone" in result.output
    assert "tutor encode" in result.output and "Traceback" not in result.output


def test_a_batch_records_its_first_item_and_outputs_every_item(tmp_path):
    """Batched vectors: the steps (screen, --format json) are item 1's, recorded as a batch of
    one; --output holds every item, each equal to that item run alone (an item at a time, so
    the recording does not grow with the batch)."""
    from tutor.nn.model import Transformer

    model = Transformer.random(8, 2, 2, 2, 16, seed=3)
    model.save(tmp_path / "w.npz")
    rng = np.random.default_rng(0)
    src, tgt = rng.standard_normal((3, 5, 8)), rng.standard_normal((3, 4, 8))
    np.save(tmp_path / "src.npy", src)
    np.save(tmp_path / "tgt.npy", tgt)
    common = ["--weights", str(tmp_path / "w.npz"), "--heads", "2", "--src-vectors",
              str(tmp_path / "src.npy")]
    doc = invoke_json("encode", *common, "--output", str(tmp_path / "memory.npy"))
    memory = np.load(tmp_path / "memory.npy")
    assert memory.shape == (3, 5, 8)
    for i in range(3):
        np.testing.assert_allclose(memory[i], model.encode(src[i]), atol=1e-12, rtol=0)
    assert np.asarray(doc["matrices"]["encoder.layers.0.self_attn.weights"]).shape == (1, 2, 5, 5)
    np.testing.assert_allclose(doc["matrices"]["encoder.norm.out"], memory[:1], atol=1e-12)
    doc = invoke_json("transformer", *common, "--tgt-vectors", str(tmp_path / "tgt.npy"),
                      "--causal", "--output", str(tmp_path / "out.npy"))
    out = np.load(tmp_path / "out.npy")
    from tutor.nn import causal_mask

    for i in range(3):
        np.testing.assert_allclose(out[i], model.forward(src[i], tgt[i], tgt_mask=causal_mask(4)),
                                   atol=1e-12, rtol=0)
    assert np.asarray(doc["matrices"]["decoder.norm.out"]).shape == (1, 4, 8)
    np.testing.assert_allclose(doc["matrices"]["decoder.norm.out"], out[:1], atol=1e-12)


def test_large_matrices_are_drawn_by_their_corner(tmp_path):
    """40 positions of d_model 80: each matrix is drawn by its first 16 rows and the columns
    that fit, its title says which part, and the screen stays a few hundred lines (it was every
    number); --format json keeps them whole."""
    from tutor.nn.model import Transformer

    Transformer.random(80, 2, 1, 1, 16, seed=1).save(tmp_path / "w.npz")
    np.save(tmp_path / "src.npy", np.random.default_rng(1).standard_normal((40, 80)))
    args = ["encode", "--weights", str(tmp_path / "w.npz"), "--heads", "2", "--src-vectors",
            str(tmp_path / "src.npy")]
    result = run(*args)
    assert result.exit_code == 0, result.output
    text = result.output
    assert "X  40×80  (rows 1–16 of 40, columns 1–" in text
    assert "head 1  40×40  (rows 1–16 of 40, columns 1–" in text
    assert "p17 " not in text and "…" not in text                     # no row 17, no cut cell
    assert len(text.splitlines()) < 200
    assert max(len(line) for line in text.splitlines()) <= 80
    doc = invoke_json(*args)
    assert np.asarray(doc["matrices"]["src"]).shape == (1, 40, 80)


def test_a_large_document_draws_every_big_matrix_by_its_corner():
    """6 layers of 16 heads on 32 words at --detail full were 15 MB of text: over 40,000
    numbers, every matrix larger than 16×16 is drawn by its corner."""
    words = " ".join(f"w{i}" for i in range(20))
    small = run("encode", words, "--dim", "16", "--heads", "2")
    assert "(rows 1–16 of 20" not in small.output                       # 20×20: whole
    big = run("encode", words, "--dim", "64", "--heads", "16", "--layers", "6", "--ff", "64",
              "--detail", "full")
    assert big.exit_code == 0, big.output
    assert "head 16  20×20  (rows 1–16 of 20, columns 1–" in big.output
    assert "…" not in big.output


def test_weights_with_more_layers_than_the_limit_are_refused(tmp_path, capsys):
    from tutor.nn.model import Transformer

    Transformer.random(4, 1, 7, 1, 8, seed=0).save(tmp_path / "deep.npz")
    np.save(tmp_path / "src.npy", np.zeros((2, 4)))
    with pytest.raises(SystemExit) as info:
        main(["encode", "--weights", str(tmp_path / "deep.npz"), "--heads", "1",
              "--src-vectors", str(tmp_path / "src.npy")])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: Invalid value for '--weights': expected at most 6 encoder "
                          "layers, got 7 in '") and len(err.splitlines()) == 1
