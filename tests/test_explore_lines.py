"""The explorer's lines view (tutor/explore/lines.py), driven by Textual's pilot: `l` opens the
current head as lines, up/down select the query whose lines are drawn bold (the others dim),
left/right change the head, `l` goes back to the matrix with the head chosen."""

import asyncio
from pathlib import Path

import numpy as np
import pytest

from tutor.explore.models import ModelState
from tutor.pretrained import load_pretrained
from tutor.training.shipped import load_shipped_model

pytest.importorskip("textual")

from tutor.explore.lines import LinesPanel, LinesScreen, head_lines  # noqa: E402
from tutor.explore.model_app import ModelApp  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"


def run_app(state, script, size=(100, 40)):
    async def main():
        app = ModelApp(state)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await script(app, pilot)
    asyncio.run(main())


def bold_rows(text):
    """The rows (line numbers of ``text.plain``) holding a bold braille character."""
    plain = text.plain
    starts = np.cumsum([0] + [len(line) + 1 for line in plain.split("\n")])
    rows = set()
    for span in text.spans:
        style = span.style
        if getattr(style, "bold", False) and any(0x2800 < ord(c) <= 0x28FF
                                                 for c in plain[span.start:span.end]):
            rows.add(int(np.searchsorted(starts, span.start, side="right") - 1))
    return rows


def test_up_and_down_select_a_query_and_its_lines_are_drawn_bold():
    state = ModelState(load_pretrained(DATA / "hf_tiny_bert"), "the cat sat on the mat")

    async def script(app, pilot):
        await pilot.press("l")
        assert isinstance(app.screen, LinesScreen)
        panel = app.screen.query_one(LinesPanel)
        assert panel.selected == 0
        await pilot.press("down", "down")
        assert panel.selected == 2
        shown = panel.picture(90)
        lines = shown.plain.split("\n")
        marked = [i for i, line in enumerate(lines) if "▶ cat" in line]
        assert len(marked) == 1                                      # query 3 is 'cat'
        # the bold lines start at the selected query's row and end at its keys' rows
        view = head_lines(state.view(), 1, 2)
        keys = [view.keys[k] for k, _ in view.top_keys()[0][2]]
        bold = bold_rows(shown)
        assert marked[0] in bold
        for key in keys:
            row = next(i for i, line in enumerate(lines) if line.rstrip().endswith(" " + key))
            assert row in bold, (key, row, sorted(bold))
        said = shown.plain.split("query cat reads: ")[1]
        weights = state.view().values[2]
        assert said.split(",")[0].split()[0] == view.keys[int(np.argmax(weights))]
        await pilot.press("up", "up", "up")                            # wraps to the last
        assert panel.selected == len(state.view().rows) - 1
        await pilot.press("right")
        assert state.head == 1 and panel.head == 2
        await pilot.press("l")
        assert not isinstance(app.screen, LinesScreen)
        assert "Head 2 of" in str(app.query_one("#where").render())
    run_app(state, script)


def test_a_toy_models_cross_attention_as_lines():
    state = ModelState(load_shipped_model("reverse"), "31415")
    state.block = 3                                                  # attention over the encoder

    async def script(app, pilot):
        await pilot.press("l")
        panel = app.screen.query_one(LinesPanel)
        text = panel.picture(80).plain
        assert "top 3 keys per query of 5" in text and "▶ <bos>" in text
        for key in ("3", "1#2", "4", "1#4", "5"):
            assert any(line.rstrip().endswith(" " + key) for line in text.split("\n"))
    run_app(state, script)
