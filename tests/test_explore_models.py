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


@pytest.mark.parametrize("folder", ["hf_tiny_bert", "hf_tiny_gpt2", "hf_tiny_llama",
                                    "tiny_llama.gguf"])
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


def test_the_first_tab_enters_the_matrix_and_escape_gives_the_arrows_back():
    state = ModelState(load_shipped_model("reverse"), "31415")

    async def script(app, pilot):
        assert app.focused is None                                      # arrows: layers, heads
        await pilot.press("tab")                                        # the matrix, first
        assert app.focused is app.query_one("#grid")
        await pilot.press("right", "down")
        assert (state.block, state.head) == (0, 0)                      # the cell moved instead
        weight = state.weights()[1, 1]
        assert text_of(app, "#matrix-caption") == (
            f"w(1#2, 1#2) = {weight:.4f}: the share of 1#2's attention that goes to 1#2")
        await pilot.press("tab")                                        # then the input line
        assert app.focused is app.query_one("#sentence")
        await pilot.press("tab")                                        # and round again
        assert app.focused is app.query_one("#grid")
        await pilot.press("escape", "right")
        assert state.head == 1 and app.focused is None
        await pilot.press("shift+tab")                                  # backwards: the matrix
        assert app.focused is app.query_one("#grid")
    run_app(state, script)


@pytest.mark.parametrize("leave", ["enter", "escape"])
def test_after_a_refused_input_the_line_is_left_and_q_quits(leave):
    state = ModelState(load_shipped_model("reverse"), "31415")

    async def script(app, pilot):
        await pilot.press("e", *"12x", leave)                           # not digits: refused
        box = app.query_one("#sentence")
        assert app.focused is None                                      # out of the line
        assert box.value == "12" and not box.has_class("-invalid")      # the input shown
        assert "12 → 21" in text_of(app, "#heading")
        await pilot.press("right")
        assert state.head == 1                                          # the arrows work again
        await pilot.press("q")
        assert not app.is_running
    run_app(state, script)


def test_a_cross_attention_of_eight_digits_fits_80_columns_whole():
    """12345678's last cross-attention has numbers like 9.4e-17: with two spaces between
    columns its key 8 (0.84 of a query's weight) fell off the right edge, unmentioned."""
    state = ModelState(load_shipped_model("reverse"), "12345678")

    async def script(app, pilot):
        await pilot.press("up")                                         # the last block
        await pilot.pause()
        assert state.blocks[state.block].title == "decoder layer 2 · attention over the encoder"
        grid = app.query_one("#grid")
        assert grid.view.values.shape == (9, 8)
        assert grid.virtual_size.width <= grid.scrollable_content_region.width   # every column
        assert grid.virtual_size.height <= grid.scrollable_content_region.height  # every row
        assert app.hidden_cells() == ([], [])
        assert text_of(app, "#matrix-title") == "head 1 weights  9×8"   # no note
        caption = app.query_one("#matrix-caption")
        assert caption.region.bottom <= app.query_one("#matrix").region.bottom  # on screen
    run_app(state, script)


def test_what_the_screen_cannot_show_is_named_with_its_share_of_a_row():
    state = ModelState(load_shipped_model("reverse"), "12345678")

    async def script(app, pilot):
        await pilot.press("up")
        await pilot.pause()
        grid = app.query_one("#grid")
        view_w = grid.scrollable_content_region.width
        assert grid.virtual_size.width > view_w                         # it cannot fit
        columns, rows = app.hidden_cells()
        # the keys past the right edge: the first column whose right end is off screen on
        x, first_cut = max(len(r) for r in grid.view.rows), None
        for c, column in enumerate(grid.ordered_columns):
            x += column.get_render_width(grid)
            if x > view_w and first_cut is None:
                first_cut = c
        assert columns == list(range(first_cut, 8))
        weights = state.weights()
        cut = weights[:, columns].sum(axis=1)                           # per query
        top = int(np.argmax(cut))
        title = text_of(app, "#matrix-title")
        assert (f"Not shown: {len(columns)} of 8 keys ({grid.view.cols[columns[0]]}…8), up to "
                f"{cut[top]:.2f} of a row's weight (query {grid.view.rows[top]})") in title
        if rows:
            assert f"{len(rows)} of 9 queries" in title
        caption = app.query_one("#matrix-caption")
        assert "each row sums to 1" in text_of(app, "#matrix-caption")
        assert caption.region.bottom <= app.query_one("#matrix").region.bottom  # still shown
        await pilot.press("tab", *["right"] * 7)                        # scroll to the last key
        await pilot.pause()
        columns, _ = app.hidden_cells()
        assert 7 not in columns and 0 in columns                        # the cut is now left
        assert f"keys (1…{grid.view.cols[max(columns)]})" in text_of(app, "#matrix-title")
    run_app(state, script, size=(60, 24))


def test_the_note_of_what_is_cut_counts_only_unmasked_weight():
    from tutor.explore.models import cut_note
    from tutor.render.document import MatrixView

    weights = np.array([[1.0, 0.0, 0.0], [0.25, 0.75, 0.0], [0.1, 0.3, 0.6]])
    masked = np.triu(np.ones((3, 3), dtype=bool), 1)
    view = MatrixView("w", "w", weights, ["a", "b", "c"], ["a", "b", "c"], heat=True,
                      masked=masked)
    assert cut_note(view, [], []) is None
    assert cut_note(view, [2], []) == ("Not shown: 1 of 3 keys (c), up to 0.60 of a row's "
                                       "weight (query c)")
    assert cut_note(view, [1, 2], [0]) == ("Not shown: 2 of 3 keys (b…c), up to 0.90 of a "
                                           "row's weight (query c); 1 of 3 queries (a)")
    assert cut_note(view, [0, 2], [1, 2]) == (
        "Not shown: 2 of 3 keys (a and c), up to 1.00 of a row's weight (query a); "
        "2 of 3 queries (b…c)")
