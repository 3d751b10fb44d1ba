"""tutor explore: the state (every edit checked, the same walkthrough and document as
`tutor attention`) and the Textual app driven by its own test driver (Pilot): typing a
sentence, editing cells, toggling options and switching heads, each checked against the
engine run directly."""

import asyncio
import subprocess
import sys

import numpy as np
import pytest

from tutor.errors import SettingError
from tutor.explore.state import ExploreState, divisors, parse_number
from tutor.nn.attention import attention_head, multi_head_attention_xw
from tutor.nn.masks import causal_mask
from tutor.nn.posenc import sinusoidal_encoding
from tutor.render.attention import attention_document
from tutor.walkthroughs.attention import self_attention

textual = pytest.importorskip("textual")

from textual.widgets import TabbedContent  # noqa: E402

from tutor.explore.app import EditScreen, ExploreApp, HelpScreen, MatrixGrid  # noqa: E402

NOTES_X = np.array([[1, 0, 1, 0], [0, 1, 0, 1], [1, 1, 1, 1]], dtype=np.float64)


def engine(state: ExploreState):
    """(out, weights) of the engine on the state's inputs, run directly (no walkthrough)."""
    x = state.x()
    if state.posenc:
        x = x + sinusoidal_encoding(*x.shape)
    mask = causal_mask(len(state.tokens)) if state.causal else None
    scale = None if state.scaled else 1.0
    w = state.weights
    if state.heads > 1:
        return multi_head_attention_xw(x, x, w["w_q"], w["w_k"], w["w_v"], w["w_o"],
                                       state.heads, mask, scale=scale)
    return attention_head(x, x, w["w_q"], w["w_k"], w["w_v"], mask, scale=scale)


# --- the state, without a screen ------------------------------------------------------------

def test_the_default_state_is_the_notes_worked_example():
    state = ExploreState()
    assert state.tokens == ["the", "cat", "sat"]
    np.testing.assert_array_equal(state.x(), NOTES_X)
    view = state.run()
    np.testing.assert_array_equal(view.recording["scores"], [[2, 0, 2], [0, 2, 2], [2, 2, 4]])
    assert state.worked(view, "scores", 0, 2) == [
        "score(the, sat) = q(the)·k(sat) = [1 0 1 0]·[1 1 1 1] = 1×1 + 0×1 + 1×1 + 0×1 = 2"]
    # softmax([1, 0, 1]) of the scaled row: e^0 / (e^0 + e^-1 + e^0) = 1 / 2.37 = 0.42
    assert state.worked(view, "weights", 0, 2)[0] == \
        "w(the, sat) = e^0 / (e^0 + e^-1 + e^0) = 1 / 2.37 = 0.42"


def test_the_document_is_the_one_tutor_attention_builds():
    state = ExploreState("the cat sat on the mat", heads=2, causal=True)
    state.random_weights(5)
    view = state.run()
    x, sources = state.embeddings()
    again = self_attention(state.tokens, x, *(state.weights[k] for k in ("w_q", "w_k", "w_v", "w_o")),
                           heads=2, causal=True, sources=sources,
                           weight_kinds={k: "random" for k in ("w_q", "w_k", "w_v", "w_o")})
    doc = attention_document(again.trace, again.tokens, precision=2, **again.info)
    assert [s.title for s in view.document.steps] == [s.title for s in doc.steps]
    assert [p.worked for s in view.document.steps for p in s.parts] == \
        [p.worked for s in doc.steps for p in s.parts]
    out, weights = engine(state)
    np.testing.assert_allclose(view.recording["out"], out, atol=1e-12)
    np.testing.assert_allclose(view.recording["head1.weights"], weights[1], atol=1e-12)


def test_every_cell_of_every_matrix_has_a_worked_line():
    for options in ({}, {"heads": 2}, {"causal": True, "scaled": False}, {"posenc": True}):
        state = ExploreState("the cat sat down", **options)
        view = state.run()
        for step in view.document.steps:
            for part in step.parts:
                for matrix in part.matrices:
                    rows, cols = matrix.values.shape
                    for r in range(rows):
                        for c in range(cols):
                            lines = state.worked(view, matrix.key, r, c)
                            assert lines and all(isinstance(line, str) for line in lines)


def test_worked_lines_of_other_cells_spell_out_their_own_numbers():
    state = ExploreState(causal=True)
    state.set_cell("w_q", 0, 1, "0.5")
    view = state.run()
    assert state.worked(view, "w_q", 0, 1) == [
        "Wq(d1, d2) = 0.50  (edited): entry d1 of each input row, times this, adds to Q(:, d2)"]
    assert state.worked(view, "q", 0, 1) == [
        "Q(the, d2) = x(the)·Wq(:, d2) = [1 0 1 0]·[0.50 1.00 0.00 0.00] = "
        "1×0.50 + 0×1.00 + 1×0.00 + 0×0.00 = 0.50"]
    assert state.worked(view, "masked", 0, 2) == ["masked(the, sat) = 1.25 + (-inf) = -inf"]  # q(the)·k(sat) = 2.5, ÷ 2
    assert state.worked(view, "weights", 0, 2) == [
        "w(the, sat) = 0  (a masked key: e^-inf = 0, so it gets no weight)"]
    # the last row sees every key: 1/2 + ... as the softmax of its masked row
    weights = view.recording["weights"]
    assert state.worked(view, "weights", 2, 0)[0].endswith(f"= {weights[2, 0]:.2f}")


def test_editing_a_word_changes_it_wherever_it_occurs():
    state = ExploreState("the cat saw the dog")
    state.set_cell("x", 0, 1, "-0.5")
    x = state.x()
    assert x[0, 1] == x[3, 1] == -0.5
    assert state.embeddings()[1][3] == "edited here"
    state.set_sentence("a dog and the cat")
    assert state.x()[3, 1] == -0.5                                       # the word kept its row
    state.reset_embeddings()
    assert state.x()[3, 1] != -0.5


@pytest.mark.parametrize("text, value", [("0.5", 0.5), ("-1", -1.0), ("1e-2", 0.01),
                                         ("0,25", 0.25), ("−2", -2.0), (" 3 ", 3.0)])
def test_numbers_typed_into_a_cell(text, value):
    assert parse_number("Wq", text) == value


@pytest.mark.parametrize("text, message", [
    ("abc", "Wq: expected a number such as 0.5 or -1, got 'abc'"),
    ("nan", "Wq: expected a number from -1,000,000 to 1,000,000, got 'nan'"),
    ("1e9", "Wq: expected a number from -1,000,000 to 1,000,000, got '1e9'"),
])
def test_a_bad_cell_value_is_one_line_and_changes_nothing(text, message):
    state = ExploreState()
    with pytest.raises(SettingError) as info:
        state.set_cell("w_q", 0, 0, text)
    assert str(info.value) == message
    np.testing.assert_array_equal(state.weights["w_q"], np.eye(4))
    assert state.kinds["w_q"] == "identity"


def test_bad_settings_are_refused_with_one_line():
    state = ExploreState()
    with pytest.raises(SettingError, match=r"^heads: expected a number that divides d_model 4, "
                                           r"got 3$"):
        state.set_heads(3)
    with pytest.raises(SettingError, match="sentence: expected at least one word"):
        state.set_sentence("   ")
    with pytest.raises(SettingError, match="sentence: expected at most 32 words, got 33"):
        state.set_sentence("a " * 33)
    with pytest.raises(SettingError, match=r"Wq: expected a cell within 4×4, got \(5, 1\)"):
        state.set_cell("w_q", 4, 0, "1")
    assert state.tokens == ["the", "cat", "sat"] and state.heads == 1
    assert divisors(12) == [1, 2, 3, 4, 6, 12]
    assert [state.next_heads() for _ in range(3)] == [2, 4, 4]
    assert state.next_heads(-1) == 2


# --- the app, driven by Pilot -----------------------------------------------------------------

def run_app(state, script, size=(80, 24)):
    """Run the app at ``size`` and ``await script(app, pilot)`` inside it."""
    async def main():
        app = ExploreApp(state)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await script(app, pilot)
        return app
    return asyncio.run(main())


def grid(app, key) -> MatrixGrid:
    """The grid showing the trace entry ``key`` in the active step."""
    found = [g for g in app.active_pane().query(MatrixGrid) if g.view.key == key]
    assert found, f"no grid {key!r} in {app.active_pane().key}"
    return found[0]


def cells(table: MatrixGrid) -> list[list[str]]:
    return [[str(table.get_cell_at((r, c)).plain if hasattr(table.get_cell_at((r, c)), "plain")
                 else table.get_cell_at((r, c)))
             for c in range(len(table.columns))] for r in range(table.row_count)]


def worked_text(app) -> str:
    return str(app.query_one("#worked").render())


def test_the_app_opens_on_the_inputs_with_the_worked_line_of_the_selected_cell():
    async def script(app, pilot):
        assert app.active_pane().key == "inputs"
        assert isinstance(app.focused, MatrixGrid) and app.focused.view.key == "x"
        assert [str(r.label) for r in app.focused.rows.values()] == ["the", "cat", "sat"]
        assert cells(app.focused) == [["1", "0", "1", "0"], ["0", "1", "0", "1"],
                                      ["1", "1", "1", "1"]]
        await pilot.press("down", "down")
        assert "x(sat) = [1 1 1 1]  (the worked example's vector)" in worked_text(app)
        await pilot.press("3", "right", "right")
        assert app.active_pane().key == "scores"
        assert "score(the, sat) = q(the)·k(sat) = [1 0 1 0]·[1 1 1 1]" in worked_text(app)
        assert cells(grid(app, "scores")) == [["2", "0", "2"], ["0", "2", "2"], ["2", "2", "4"]]
    run_app(ExploreState(), script)


def test_typing_a_sentence_updates_every_step():
    async def script(app, pilot):
        await pilot.press("e", *"a dog ran")                         # typing replaces it
        assert app.state.tokens == ["a", "dog", "ran"]
        await pilot.press("enter")                                      # back to the grids
        await pilot.press("5")
        weights = grid(app, "weights")
        assert [str(r.label) for r in weights.rows.values()] == ["a", "dog", "ran"]
        _, expected = engine(app.state)
        np.testing.assert_allclose(weights.view.values, expected, atol=1e-12)
        assert cells(weights)[0][0].startswith(f"{expected[0, 0]:.2f}")
    run_app(ExploreState(), script)


def test_an_empty_sentence_keeps_the_last_one():
    async def script(app, pilot):
        await pilot.press("e", "backspace")
        assert app.state.tokens == ["the", "cat", "sat"]
        assert app.query_one("#sentence").has_class("-invalid")
        await pilot.press("x")
        assert app.state.tokens == ["x"]
    run_app(ExploreState(), script)


def test_enter_on_a_refused_sentence_leaves_the_line_so_q_quits():
    async def script(app, pilot):
        await pilot.press("e", "backspace", "enter")                    # empty: refused
        assert app.state.tokens == ["the", "cat", "sat"]
        box = app.query_one("#sentence")
        assert box.value == "the cat sat" and not box.has_class("-invalid")  # the one shown
        assert isinstance(app.focused, MatrixGrid) and app.focused.view.key == "x"
        await pilot.press("e", "backspace", "escape")                   # the same with escape
        assert box.value == "the cat sat" and isinstance(app.focused, MatrixGrid)
        await pilot.press("q")
        assert not app.is_running
    run_app(ExploreState(), script)


def test_a_matrix_wider_than_the_screen_says_what_it_does_not_show():
    """15 words: the softmax weights are 15 columns, 8 of which fit 80 columns; the others
    are named, with the largest share of a row's weight they hold."""
    async def script(app, pilot):
        await pilot.press("5")
        await pilot.pause()
        weights = grid(app, "weights")
        assert weights.virtual_size.width > weights.scrollable_content_region.width
        columns, _ = weights.hidden_cells()
        assert columns and columns == list(range(columns[0], 15))       # past the right edge
        _, expected = engine(app.state)                                 # [15, 15]
        cut = expected[:, columns].sum(axis=1)
        top = int(np.argmax(cut))
        labels = weights.view.cols
        note = str(weights.parent.query_one(".matrix-cut").render())
        assert note.startswith(f"Not shown: {len(columns)} of 15 keys ({labels[columns[0]]}…"
                               f"house), up to {cut[top]:.2f} of a row's weight (query "
                               f"{weights.view.rows[top]})")
        await pilot.press(*["right"] * 14)                              # to the last key
        await pilot.pause()
        columns, _ = weights.hidden_cells()
        assert 14 not in columns and 0 in columns
        note = str(weights.parent.query_one(".matrix-cut").render())
        assert note.startswith(f"Not shown: {len(columns)} of 15 keys (the#1…")
        await pilot.press("1")                                          # X: 4 columns, all shown
        await pilot.pause()
        assert grid(app, "x").hidden_cells() == ([], [])
        assert not grid(app, "x").parent.query_one(".matrix-cut").display
    run_app(ExploreState("the cat sat on the mat and the dog ran to the big red house"), script)


def test_editing_a_weight_moves_the_softmax_as_the_engine_says():
    async def script(app, pilot):
        await pilot.press("tab")                                        # X -> Wq
        assert app.focused.view.key == "w_q"
        await pilot.press("right", "enter")                             # Wq(d1, d2)
        assert isinstance(app.screen, EditScreen)
        await pilot.press("3", "enter")                              # replaces the 0
        assert not isinstance(app.screen, EditScreen)
        assert app.state.weights["w_q"][0, 1] == 3
        await pilot.press("5")
        _, expected = engine(app.state)
        shown = grid(app, "weights")
        np.testing.assert_allclose(shown.view.values, expected, atol=1e-12)
        # q(the) = [1 3 1 0]; scores(the) = [2, 3, 5]; /2; softmax
        row = np.exp(np.array([2, 3, 5]) / 2 - 2.5)
        np.testing.assert_allclose(expected[0], row / row.sum(), atol=1e-12)
        assert [c[:4] for c in cells(shown)[0]] == [f"{w:.2f}" for w in row / row.sum()]
        await pilot.press("6")
        out, _ = engine(app.state)
        np.testing.assert_allclose(grid(app, "out").view.values, out, atol=1e-12)
    run_app(ExploreState(), script)


def test_a_bad_value_is_refused_in_the_editor_and_escape_keeps_the_old_one():
    async def script(app, pilot):
        await pilot.press("enter", *"abc", "enter")
        assert isinstance(app.screen, EditScreen)
        assert "X: expected a number such as 0.5 or -1, got 'abc'" in \
            str(app.screen.query_one("#edit-error").render())
        await pilot.press("escape")
        assert not isinstance(app.screen, EditScreen)
        np.testing.assert_array_equal(app.state.x(), NOTES_X)
    run_app(ExploreState(), script)


def test_plus_and_minus_nudge_the_selected_cell():
    async def script(app, pilot):
        await pilot.press("right", "plus", "plus", "plus")
        assert app.state.x()[0, 1] == pytest.approx(0.3)
        assert "x(the) = [1 0.30 1 0]" in worked_text(app).replace("1.00", "1").replace("0.00", "0") \
            or "x(the) = [1.00 0.30 1.00 0.00]" in worked_text(app)
        await pilot.press("minus")
        assert app.state.x()[0, 1] == pytest.approx(0.2)
        await pilot.press("3", "plus")                                  # scores are computed
        assert app.state.x()[0, 1] == pytest.approx(0.2)
    run_app(ExploreState(), script)


def test_toggles_scale_causal_and_positional_encoding():
    async def script(app, pilot):
        await pilot.press("s")
        assert not app.state.scaled
        await pilot.press("5")
        assert grid(app, "with_scaling.weights")                        # the comparison
        _, expected = engine(app.state)
        np.testing.assert_allclose(grid(app, "weights").view.values, expected, atol=1e-12)
        await pilot.press("s", "c")
        assert app.state.scaled and app.state.causal
        shown = grid(app, "weights")
        assert cells(shown)[0][1:] == ["—", "—"]                        # later keys: masked
        _, expected = engine(app.state)
        np.testing.assert_allclose(shown.view.values, expected, atol=1e-12)
        await pilot.press("4")
        assert grid(app, "masked")
        await pilot.press("p", "1")
        assert grid(app, "input.pe") and grid(app, "input.out")
        await pilot.press("5")
        _, expected = engine(app.state)
        np.testing.assert_allclose(grid(app, "weights").view.values, expected, atol=1e-12)
    run_app(ExploreState(), script)


def test_switching_the_number_of_heads_and_the_head_shown():
    async def script(app, pilot):
        await pilot.press("h")
        assert app.state.heads == 2
        await pilot.press("7")
        assert app.active_pane().key == "concat"
        await pilot.press("8")
        out, weights = engine(app.state)
        np.testing.assert_allclose(grid(app, "out").view.values, out, atol=1e-12)
        await pilot.press("5")
        np.testing.assert_allclose(grid(app, "head0.weights").view.values, weights[0])
        await pilot.press("right_square_bracket")
        assert app.head == 1
        np.testing.assert_allclose(grid(app, "head1.weights").view.values, weights[1])
        assert "Head 2 of 2" in str(app.active_pane().query_one(".heading").render())
        await pilot.press("H")
        assert app.state.heads == 1 and app.head == 0
        assert app.active_pane().key == "softmax"
        assert not any(g.view.key.startswith("head") for g in app.active_pane().query(MatrixGrid))
    run_app(ExploreState(), script)


def test_random_and_identity_weights():
    async def script(app, pilot):
        await pilot.press("r")
        assert app.state.kinds["w_q"] == "random"
        assert not np.array_equal(app.state.weights["w_q"], np.eye(4))
        await pilot.press("2")
        q = grid(app, "q").view.values
        np.testing.assert_allclose(q, app.state.x() @ app.state.weights["w_q"])
        await pilot.press("i")
        np.testing.assert_array_equal(app.state.weights["w_q"], np.eye(4))
    run_app(ExploreState(), script)


def test_help_opens_and_any_key_closes_it_and_q_quits():
    async def script(app, pilot):
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("space")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("q")
        assert not app.is_running
    run_app(ExploreState(), script)


def test_the_options_line_is_clickable_and_fits_80_columns():
    async def script(app, pilot):
        options = app.query_one("#options")
        assert len(str(options.render())) <= 80
        await pilot.click("#options", offset=(2, 0))                    # "heads 1"
        assert app.state.heads == 2
    run_app(ExploreState(), script)


def test_focus_that_moves_while_the_app_closes_is_ignored():
    # closing removes the widgets one by one; a grid could still get focus (or a highlighted
    # cell) after the tabs were gone, and the handlers asked for the tabs: NoMatches ended the
    # run now and then under load (the options-line test, last in its run, showed it)
    from types import SimpleNamespace

    async def script(app, pilot):
        grid = app.focused
        assert isinstance(grid, MatrixGrid)
        await app.query_one(TabbedContent).remove()                     # as closing does
        app.on_descendant_focus(SimpleNamespace(widget=grid))
        app.cell_highlighted(SimpleNamespace(data_table=grid))
    run_app(ExploreState(), script)


# --- the command ----------------------------------------------------------------------------

def test_without_textual_the_command_names_the_extra(monkeypatch):
    import click

    from tutor.cli import explore as command

    monkeypatch.setitem(sys.modules, "textual", None)                   # import textual fails
    with pytest.raises(click.ClickException) as info:
        command.load_app_class()
    assert info.value.format_message() == \
        'tutor explore needs Textual: pip install "transformer-tutor[explore]"'


def test_the_command_checks_its_options_before_starting():
    from click.testing import CliRunner

    from tutor.cli import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["explore", "the cat sat", "--heads", "3"])
    assert result.exit_code == 2
    assert "expected a number that divides --dim 4, got 3" in result.output
    result = runner.invoke(cli, ["explore", "--help"])
    assert result.exit_code == 0 and "tutor explore \"the cat sat\"" in result.output


def test_textual_is_not_imported_by_the_other_commands():
    code = ("import sys\nfrom tutor.cli import main\n"
            "try:\n    main(['attention', 'the cat sat'])\nexcept SystemExit:\n    pass\n"
            "print('textual' in sys.modules, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stderr.strip().splitlines()[-1] == "False"


def test_colours_follow_the_terminal_and_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert ExploreApp(ExploreState()).theme == "ansi-dark"             # the terminal's palette
    monkeypatch.setenv("NO_COLOR", "1")
    app = ExploreApp(ExploreState())
    assert app.no_color and app.theme == "textual-dark"                # shades of grey


def test_a_step_opened_again_keeps_its_selected_cell_and_the_watch_line_follows():
    async def script(app, pilot):
        await pilot.press("tab", "right", "down")                       # Wq(d2, d2)
        await pilot.press("5", "1")
        assert app.focused.view.key == "w_q"
        assert tuple(app.focused.cursor_coordinate) == (1, 1)
        before = str(app.query_one("#watch").render())
        assert before.startswith("softmax the ") and " cat " in before
        await pilot.press("minus", "minus", "minus")                   # Wq(d2, d2) = 0.7
        assert app.state.weights["w_q"][1, 1] == pytest.approx(0.7)
        _, weights = engine(app.state)
        from tutor.render.console import bar
        shades = weights[1] / weights[1].max()                          # as the heatmap shades
        shown = str(app.query_one("#watch").render())
        assert "cat " + "".join(bar(w) for w in shades) in shown
    run_app(ExploreState(), script)


@pytest.mark.parametrize("args, message", [
    (["explore", "--model", "reverse", "--heads", "2"], "expected no --heads with --model"),
    (["explore", "--model", "nosuch"], "Invalid value for '--model': no model named 'nosuch'"),
    (["explore", "--model", "reverse", "abc"],
     "Invalid value for 'SENTENCE': expected 1 to 8 digits, got 'abc'"),
    (["explore", ""], "Invalid value for 'SENTENCE': expected at least one word"),
    (["explore", "a b", "--dim", "65"], "--dim"),
    (["explore", "a b", "--precision", "11"], "Invalid value for '--precision': expected 0 to 10"),
])
def test_bad_command_lines_are_one_line_usage_errors(args, message):
    # in this process, through the real error boundary (tutor.cli.main); `python -m tutor
    # explore` as a process: tests/test_cli_text_inputs.py
    import contextlib
    import io

    from tutor.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    assert message in err.getvalue() and len(err.getvalue().strip().splitlines()) == 1
    assert out.getvalue() == ""
