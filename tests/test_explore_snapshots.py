"""SVG snapshots of the explorer's main screens at 80×24 (pytest-textual-snapshot, in the
test extra). After a deliberate change of the screens: pytest tests/test_explore_snapshots.py
--snapshot-update, then look at the report or the SVGs before committing them."""

import pytest

pytest.importorskip("textual")
pytest.importorskip("pytest_textual_snapshot")

from tutor.explore.app import ExploreApp  # noqa: E402
from tutor.explore.state import ExploreState  # noqa: E402

SIZE = (80, 24)


@pytest.fixture(autouse=True)
def _colour(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)                     # the same screens anywhere


def test_inputs(snap_compare):
    assert snap_compare(ExploreApp(ExploreState()), terminal_size=SIZE)


def test_scores_with_a_cell_selected(snap_compare):
    assert snap_compare(ExploreApp(ExploreState()), press=["3", "right", "right"],
                        terminal_size=SIZE)


def test_softmax_causal(snap_compare):
    assert snap_compare(ExploreApp(ExploreState(causal=True)), press=["5", "down", "down"],
                        terminal_size=SIZE)


def test_softmax_two_heads_second_head(snap_compare):
    state = ExploreState("the cat sat on the mat", heads=2)
    state.random_weights(3)
    assert snap_compare(ExploreApp(state), press=["5", "right_square_bracket"],
                        terminal_size=SIZE)


def test_editing_a_weight(snap_compare):
    assert snap_compare(ExploreApp(ExploreState()), press=["tab", "right", "enter"],
                        terminal_size=SIZE)


def test_help(snap_compare):
    assert snap_compare(ExploreApp(ExploreState()), press=["question_mark"], terminal_size=SIZE)


def test_model_mode_decoder_self_attention(snap_compare):
    from tutor.explore.model_app import ModelApp
    from tutor.explore.models import ModelState
    from tutor.training.shipped import load_shipped_model

    assert snap_compare(ModelApp(ModelState(load_shipped_model("reverse"), "31415")), press=["down", "down"],
                        terminal_size=SIZE)


def test_model_mode_eight_digits_cross_attention_fits(snap_compare):
    """Every key column on screen at 80 columns (one space between columns, numbers like
    9.4e-17 included), no note of anything cut."""
    from tutor.explore.model_app import ModelApp
    from tutor.explore.models import ModelState
    from tutor.training.shipped import load_shipped_model

    assert snap_compare(ModelApp(ModelState(load_shipped_model("reverse"), "12345678")),
                        press=["up"], terminal_size=SIZE)
