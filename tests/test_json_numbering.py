"""--format json counts as the screen does: a number named as on screen (layer, head,
token_number) is 1-based and equals what the screen shows; a name ending in _index is 0-based
and names the recorded arrays (step.{step_index}.cross_attn.{layer_index}). Said in each
command's help and in README."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import invoke, invoke_json

README = Path(__file__).resolve().parent.parent / "README.md"
RULE = "a number named as on screen (layer, head, token_number) counts from 1"


def words(text: str) -> str:
    return " ".join(text.replace("`", "").split())


def test_generate_numbers_steps_and_layers_as_the_screen_does():
    doc = invoke_json("generate", "3 1 4")
    screen = invoke("generate", "3 1 4", "--format", "plain").output
    steps = doc["result"]["steps"]
    titles = [s["title"] for s in doc["steps"] if s["key"].startswith("step.")]
    assert [s["token_number"] for s in steps] == [1, 2, 3, 4]
    assert [s["step_index"] for s in steps] == [0, 1, 2, 3]
    for entry, title in zip(steps, titles):
        assert title.startswith(f"token {entry['token_number']}: {entry['chosen']['token']}")
        row = entry["attention"]
        assert row["layer"] == 2 and row["layer_index"] == 1           # the reverse model: 2 layers
        recorded = doc["matrices"][f"step.{entry['step_index']}.cross_attn."
                                   f"{row['layer_index']}.mean"]
        assert np.allclose(np.asarray(recorded)[0], row["weights"], atol=0)
        top = int(np.argmax(row["weights"]))
        assert f"(layer {row['layer']}: " in screen
        assert f"reads source token '{row['keys'][top]}' most (layer {row['layer']}:" in screen
    assert "step" not in steps[0]                                       # the old 0-based name is gone


def test_heads_layer_is_the_screen_layer():
    pytest.importorskip("tokenizers")
    tiny = str(Path(__file__).resolve().parent / "data" / "hf_tiny_bert")
    doc = invoke_json("heads", "the cat sat", "--model", tiny, "--layer", "2")
    assert doc["settings"]["layer"] == 2
    assert [s["title"] for s in doc["steps"]] == ["Layer 2 of 2"]
    every = invoke_json("heads", "the cat sat", "--model", tiny)
    assert np.array_equal(np.asarray(every["attention"])[1],           # attention[l - 1] = layer l
                          np.asarray(doc["attention"])[1])


@pytest.mark.parametrize("command", ["generate", "heads", "attention", "context"])
def test_the_numbering_is_in_each_commands_help(command):
    assert RULE in words(invoke(command, "--help").output)


def test_the_numbering_is_in_the_readme():
    assert RULE in words(README.read_text("utf-8"))
