"""tutor explore --model: a trained model's heads, one layer and head at a time, checked
against the model run without a trace, and driven by Pilot."""

import asyncio
from pathlib import Path

import numpy as np
import pytest

from tutor.errors import SettingError
from tutor.explore.models import ModelState
from tutor.pretrained import load_pretrained
from tutor.pretrained.analysis import head_pattern
from tutor.training.shipped import load_shipped_model

pytest.importorskip("textual")

from tutor.explore.model_app import ModelApp  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"


def test_a_toy_model_answers_and_shows_every_attention_of_every_layer():
    state = ModelState(load_shipped_model("reverse"), "31415")
    assert state.recording.info["answer"] == "51413"                     # it reverses
    assert [b.title for b in state.blocks] == [
        "encoder layer 1 · self-attention", "encoder layer 2 · self-attention",
        "decoder layer 1 · masked self-attention", "decoder layer 1 · attention over the encoder",
        "decoder layer 2 · masked self-attention", "decoder layer 2 · attention over the encoder"]
    assert [b.causal for b in state.blocks] == [False, False, True, False, True, False]
    assert state.blocks[0].mask() is None and state.blocks[3].mask() is None
    assert state.blocks[2].mask().tolist() == (np.arange(6)[None] > np.arange(6)[:, None]).tolist()
    assert state.n_heads == 2
    for block in range(len(state.blocks)):
        for head in range(state.n_heads):
            weights = state.weights(block, head)
            np.testing.assert_allclose(weights.sum(axis=1), 1, atol=1e-5)
    state.block = 2                                                     # decoder self-attention
    view = state.view()
    assert view.rows == ["<bos>", "5", "1#3", "4", "1#5", "3"] and view.cols == view.rows
    assert np.all(view.values[np.triu_indices(6, 1)] == 0) and view.masked[0, 1]
    state.block = 3                                                     # cross-attention
    assert state.view().cols == ["3", "1#2", "4", "1#4", "5"] and state.label() is None


def test_moving_between_blocks_and_heads_wraps_around():
    state = ModelState(load_shipped_model("copy"), "123")
    state.move_head(-1)
    assert state.head == 1
    state.move_block(-1)
    assert state.block == len(state.blocks) - 1
    state.move_block(1)
    assert state.block == 0


def test_input_a_model_cannot_read_is_a_one_line_setting_error():
    state = ModelState(load_shipped_model("sort"), "3141")
    with pytest.raises(SettingError, match="sentence: expected 1 to 8 digits, got 'abc'"):
        state.set_sentence("abc")
    assert state.recording.info["answer"] == "1134"                     # unchanged, sorted


@pytest.mark.parametrize("folder", ["hf_tiny_bert", "hf_tiny_gpt2"])
def test_a_pretrained_models_heads_and_labels_match_the_untraced_model(folder):
    model = load_pretrained(DATA / folder)
    state = ModelState(model, "the cat sat on the mat")
    encoding, out = model.run("the cat sat on the mat")                 # the fast path
    assert state.recording.info["tokens"] == list(encoding.tokens)
    assert len(state.blocks) == model.config.n_layer
    for layer in range(model.config.n_layer):
        for head in range(model.config.n_head):
            np.testing.assert_allclose(state.weights(layer, head), out.attentions[layer, head],
                                       atol=1e-6)
            expected = head_pattern(out.attentions[layer, head], list(encoding.tokens))
            assert state.label(layer, head).startswith(f"{expected.label} ({expected.share:.2f}")
    causal = model.config.causal
    assert (state.view().masked is not None) == causal
    assert all(block.causal == causal for block in state.blocks)
    assert state.blocks[0].title == ("layer 1 · masked self-attention" if causal
                                     else "layer 1 · self-attention")


def run_app(state, script, size=(80, 24)):
    async def main():
        app = ModelApp(state)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await script(app, pilot)
    asyncio.run(main())


def text_of(app, selector) -> str:
    return str(app.query_one(selector).render())


def test_the_model_screen_moves_between_layers_and_heads_with_the_arrows():
    state = ModelState(load_pretrained(DATA / "hf_tiny_bert"), "the cat sat on the mat")

    async def script(app, pilot):
        assert "Layer: layer 1 · self-attention" in text_of(app, "#where")
        assert "Head 1 of" in text_of(app, "#where")
        await pilot.press("down", "right")
        assert (state.block, state.head) == (1, 1)
        where = text_of(app, "#where")
        assert "Layer: layer 2 · self-attention" in where and "Head 2 of" in where
        assert f"pattern: {state.label()}" in where
        heads = text_of(app, "#all-heads")
        assert heads.startswith("This layer's heads: 1: ")
        assert f"▶ 2: {state.label().split(' (')[0]}" in heads
        await pilot.press("up", "up", "left")
        assert (state.block, state.head) == (len(state.blocks) - 1, 0)
    run_app(state, script)


def test_the_model_screen_reads_a_new_input():
    state = ModelState(load_shipped_model("reverse"), "31415")

    async def script(app, pilot):
        assert "31415 → 51413" in text_of(app, "#heading")
        await pilot.press("e", *"2718", "enter")
        assert "2718 → 8172" in text_of(app, "#heading")
        await pilot.press("e", *"x")                                    # not digits: kept
        assert "2718 → 8172" in text_of(app, "#heading")
        assert app.query_one("#sentence").has_class("-invalid")
        await pilot.press("escape", "question_mark")
        assert app.screen.__class__.__name__ == "HelpScreen"
        await pilot.press("space", "q")
        assert not app.is_running
    run_app(state, script)


def test_tab_enters_the_matrix_and_escape_gives_the_arrows_back():
    state = ModelState(load_shipped_model("reverse"), "31415")

    async def script(app, pilot):
        await pilot.press("tab", "tab")                                 # past the input line
        assert app.focused is app.query_one("#grid")
        await pilot.press("right", "down")
        assert (state.block, state.head) == (0, 0)                      # the cell moved instead
        weight = state.weights()[1, 1]
        assert text_of(app, "#matrix-caption") == (
            f"w(1#2, 1#2) = {weight:.4f}: the share of 1#2's attention that goes to 1#2")
        await pilot.press("escape", "right")
        assert state.head == 1 and app.focused is None
    run_app(state, script)
