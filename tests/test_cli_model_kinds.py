"""Which commands take which models: `tutor models` lists, for every model it finds, the
commands that read it, and each of those commands really does; a toy model elsewhere is a
usage error naming --model; a .npz file written by `tutor train` works where the shipped toy
models do."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import invoke, invoke_json
from tutor.cli import main
from tutor.pretrained.resolve import resolve_model
from tutor.errors import TutorError

MODELS = Path(__file__).resolve().parent.parent / "tutor" / "data" / "models"
TINY_GPT2 = Path(__file__).resolve().parent / "data" / "hf_tiny_gpt2"

#: A small run of each command the listing may name, for a toy model and for a text model.
RUNS = {
    "generate": {"toy": ["generate", "3 1 4"], "text": ["generate", "the cat"]},
    "heads": {"toy": ["heads", "3 1 4"], "text": ["heads", "the cat"]},
    "attention --model": {"toy": ["attention", "3 1 4"], "text": ["attention", "the cat"]},
    "context": {"text": ["context", "the cat sat", "the cat ran", "--word", "cat"]},
}


def test_a_model_file_written_by_tutor_train_runs_in_generate(tmp_path):
    trained = tmp_path / "u600.npz"                       # the shipped files are tutor train output
    shutil.copy(MODELS / "reverse.npz", trained)
    mine = invoke_json("generate", "3 1 4", "--model", str(trained))
    shipped = invoke_json("generate", "3 1 4", "--model", "reverse")
    assert mine["result"]["output"]["tokens"] == ["4", "1", "3", "<eos>"]
    assert mine["result"]["output"] == shipped["result"]["output"]
    assert mine["settings"]["model"] == "u600"
    where = resolve_model(str(trained))
    assert (where.kind, where.path, where.seq2seq) == ("trained", trained, True)


def test_a_file_that_is_not_npz_is_refused_naming_both_kinds(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(TutorError, match=r"not a folder, a \.gguf or a \.npz file.*written by tutor train"):
        resolve_model(str(text))


@pytest.mark.parametrize("args", [["context", "3 1", "1 3", "--word", "3", "--model", "sort"],
                                  ["context", "3 1", "1 3", "--word", "3", "--model", "reverse"]])
def test_a_toy_model_where_it_does_not_work_is_a_usage_error_naming_model(capsys, args):
    with pytest.raises(SystemExit) as info:
        main(args)
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    assert "'--model'" in err and "toy model trained by tutor train" in err
    assert ("toy models work with tutor generate, heads, attention --model, explore --model"
            in err and "loader" not in err)


def test_every_command_the_listing_names_takes_the_model(tmp_path, monkeypatch):
    pytest.importorskip("tokenizers")
    snapshot = tmp_path / "hub" / "models--org--tiny-gpt2" / "snapshots" / "abc"
    snapshot.parent.mkdir(parents=True)
    snapshot.symlink_to(TINY_GPT2, target_is_directory=True)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    listed = {m["name"]: m for m in invoke_json("models")["models"]}
    assert {"reverse", "copy", "sort", "org/tiny-gpt2"} <= set(listed)
    tried = 0
    for name in ("reverse", "copy", "sort", "org/tiny-gpt2"):
        kind = "toy" if listed[name]["kind"] == "toy" else "text"
        assert listed[name]["commands"], name
        for command in listed[name]["commands"]:
            if command.startswith("explore"):
                continue                                  # full screen; tests/test_explore_models.py
            result = invoke(*RUNS[command][kind], "--model", name, "--format", "json")
            assert result.exit_code == 0, (name, command, result.output)
            tried += 1
        refused = [c for c in RUNS if c not in listed[name]["commands"] and kind in RUNS[c]]
        for command in refused:                           # and the others refuse it
            assert invoke(*RUNS[command][kind], "--model", name).exit_code == 2, (name, command)
    assert "generate" in listed["org/tiny-gpt2"]["commands"]
    assert tried >= 6
    screen = invoke("models", "--format", "plain").output
    assert any("works with: generate, heads, attention --model, explore --model" in line
               for line in screen.splitlines())                          # on one line at 80
    assert "(toy model shipped with tutor)" not in screen


def test_heads_shows_every_attention_block_of_a_toy_model():
    from tutor.training.shipped import load_shipped_model
    from tutor.walkthroughs.toy_heads import toy_model_heads

    doc = invoke_json("heads", "3 1 4 1 5", "--model", "reverse")
    recording = toy_model_heads(load_shipped_model("reverse"), "31415")
    blocks = doc["blocks"]
    assert [b["title"] for b in blocks] == [
        "encoder layer 1 · self-attention", "encoder layer 2 · self-attention",
        "decoder layer 1 · masked self-attention", "decoder layer 1 · attention over the encoder",
        "decoder layer 2 · masked self-attention", "decoder layer 2 · attention over the encoder"]
    assert [s["title"] for s in doc["steps"]] == [b["title"][0].upper() + b["title"][1:]
                                                   for b in blocks]
    for block in blocks:
        weights = np.asarray(block["weights"])                          # [head, query, key]
        assert np.array_equal(weights, recording.trace[block["key"]][0])
        assert np.allclose(weights.sum(axis=-1), 1.0, atol=1e-6)
        assert block["layer"] == block["layer_index"] + 1 == int(block["title"].split()[2])
        if "masked" in block["title"]:                                   # no look at later tokens
            assert np.all(np.triu(weights, 1) == 0)
        if "over the encoder" in block["title"]:
            assert weights.shape[1:] == (6, 5) and block["patterns"] is None
            assert block["queries"] == ["<bos>", "5", "1", "4", "1", "3"]
        else:
            assert len(block["patterns"]) == 2
    layer2 = invoke_json("heads", "31415", "--model", "reverse", "--layer", "2")
    assert [s["title"] for s in layer2["steps"]] == [
        "Encoder layer 2 · self-attention", "Decoder layer 2 · masked self-attention",
        "Decoder layer 2 · attention over the encoder"]
    assert layer2["settings"]["layer"] == 2


def test_heads_takes_a_tutor_train_file_and_refuses_what_is_not_digits(tmp_path, capsys):
    trained = tmp_path / "u600.npz"
    shutil.copy(MODELS / "sort.npz", trained)
    assert invoke_json("heads", "9 2 7", "--model", str(trained))["settings"]["task"] == "sort"
    for sentence in ("3a", "123456789"):
        with pytest.raises(SystemExit) as info:
            main(["heads", sentence, "--model", "reverse"])
        err = capsys.readouterr().err
        assert info.value.code == 2 and "'SENTENCE': expected 1 to 8 digits for reverse" in err


@pytest.mark.parametrize("block, layer, head", [("encoder", 1, 1), ("encoder", 2, 2),
                                                ("decoder", 1, 2), ("decoder", 2, 1)])
def test_attention_shows_one_head_of_a_toy_model_as_the_six_steps(block, layer, head):
    from tutor.training.shipped import load_shipped_model
    from tutor.walkthroughs.toy_heads import toy_model_heads

    doc = invoke_json("attention", "3 1 4 1 5", "--model", "reverse", "--layer", str(layer),
                      "--head", str(head), "--block", block)
    whole = toy_model_heads(load_shipped_model("reverse"), "31415")
    m = {name: np.asarray(v, dtype=np.float64) for name, v in doc["matrices"].items()}
    recorded = whole.trace[f"transformer.{block}.layers.{layer - 1}.self_attn.weights"]
    assert np.array_equal(m["weights"], recorded[0, head - 1])       # the model's own weights
    assert np.allclose(m["x"] @ m["w_q"] + m["b_q"], m["q"], atol=1e-5)   # Q = X·Wq + bq
    assert np.allclose(m["weights"].sum(axis=1), 1.0, atol=1e-6)
    assert doc["settings"]["layer"] == layer and doc["settings"]["head"] == head
    assert doc["settings"]["block"] == block
    if block == "decoder":
        assert doc["tokens"] == ["<bos>", "5", "1", "4", "1", "3"]
        assert np.all(np.triu(m["weights"], 1) == 0)                 # no look at later tokens
        assert doc["title"].startswith(f"Decoder masked self-attention in reverse: layer {layer}")
    else:
        assert doc["tokens"] == ["3", "1", "4", "1", "5"]
        assert doc["title"].startswith(f"Encoder self-attention in reverse: layer {layer}")


def test_attention_block_needs_a_toy_model(tmp_path, capsys):
    trained = tmp_path / "u600.npz"
    shutil.copy(MODELS / "copy.npz", trained)
    assert invoke_json("attention", "2 7", "--model", str(trained))["settings"]["block"] == "encoder"
    for args, message in (
            (["attention", "the cat", "--block", "decoder"], "'--block': expected --model"),
            (["attention", "3 1", "--model", "reverse", "--layer", "3"],
             "'--layer': expected a layer from 1 to 2"),
            (["attention", "3 x", "--model", "reverse"], "'SENTENCE': expected 1 to 8 digits")):
        with pytest.raises(SystemExit) as info:
            main(args)
        err = capsys.readouterr().err
        assert info.value.code == 2 and message in err, err


def test_every_model_command_opens_its_model_through_open_model():
    """tutor.cli.pretrained_options.open_model is the one way a command opens --model (the
    extra checked, float64, the adapter): no other command module loads or resolves one."""
    import ast
    from pathlib import Path

    import tutor.cli

    loaders = {"load_pretrained", "load_model", "resolve_model", "resolve_model_option"}
    found = []
    for path in Path(tutor.cli.__file__).parent.glob("*.py"):
        if path.name == "pretrained_options.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                found += [f"{path.name}: {a.name}" for a in node.names if a.name in loaders]
    assert found == []


def _flat(text):
    """A screen's words, box borders dropped."""
    return " ".join(text.replace("│", " ").split())


def test_models_names_a_toy_models_kind_once():
    text = _flat(invoke("models").output)
    assert "copy: a toy model shipped with tutor" in text
    assert "shipped toy model (toy model shipped with tutor)" not in text


def test_heads_reads_a_written_date_with_the_dates_model(capsys):
    """`tutor heads "7 December 2026" --model dates`: one token per character (a space is ␣),
    the answer is the ISO date, and the attention over the encoder has the target as rows and
    the date's characters as columns; a calendar-impossible date gets the model's guess and
    a note; text the model cannot read is a one-line usage error naming the limit."""
    doc = invoke_json("heads", "7 December 2026", "--model", "dates")
    assert doc["title"] == "Attention heads of dates on '7 December 2026' → 2026-12-07"
    assert doc["tokens"] == ["7", "␣", "d", "e", "c", "e", "m", "b", "e", "r", "␣",
                             "2", "0", "2", "6"]
    cross = [b for b in doc["blocks"] if "over the encoder" in b["title"]]
    assert len(cross) == 2
    for block in cross:
        weights = np.asarray(block["weights"])                          # [head, query, key]
        assert weights.shape == (2, 11, 15) and np.allclose(weights.sum(-1), 1, atol=1e-6)
        assert block["queries"] == ["<bos>", *"2026-12-07"]
    month = np.mean([np.asarray(b["weights"])[:, 5:7, 2:10].sum(-1).mean() for b in cross])
    assert month > 0.5                                 # the month digits read "december"
    assert doc["notes"][0] != "" and not doc["notes"][0].startswith("Note")
    bad = invoke_json("heads", "31 February 2026", "--model", "dates")
    assert bad["notes"][0] == ("Note: February 2026 has 28 days, so there is no day 31; the "
                               "answer is the model's guess, outside what it learned.")
    screen = invoke("heads", "31 February 2026", "--model", "dates", "--format", "plain")
    assert "outside what it learned" in " ".join(screen.output.split())
    with pytest.raises(SystemExit) as info:
        main(["heads", "7/12/2026", "--model", "dates"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "'SENTENCE': expected letters a-z, digits, spaces, ',' and '.' in a date, got '/'" \
        in err and "dates, a toy model trained by tutor train on the dates task" in err


def test_heads_of_one_source_token_say_why_the_self_attention_heads_have_no_label():
    # "Each head labelled with the pattern it shows" once stood under unlabelled heads
    result = invoke("heads", "7", "--model", "reverse", "--format", "plain")
    assert result.exit_code == 0
    panels = result.output.split("Step ")[1:]
    encoder = [p for p in panels if "Encoder layer" in p]
    decoder_self = [p for p in panels if "masked self-attention" in p]
    assert len(encoder) == 2 and len(decoder_self) == 2
    for panel in encoder:                                              # 1×1: every weight is 1
        text = " ".join(panel.replace("│", " ").split())             # the panel's lines joined
        assert "labelled with the pattern" not in text
        assert "No pattern labels: with a single token every head gives it the whole weight" \
            in text
    for panel in decoder_self:                                         # <bos> 7: 2 rows, labels
        assert "labelled with the pattern it shows" in " ".join(panel.replace("│", " ").split())
    doc = invoke_json("heads", "7", "--model", "reverse")
    assert [b["patterns"] for b in doc["blocks"] if b["title"].startswith("encoder")] == [None, None]
