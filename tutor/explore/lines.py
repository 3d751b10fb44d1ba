"""The explorer's lines view (``l`` in ``tutor explore --model``): the current head's
attention as lines, queries left and keys right (:func:`tutor.render.lines.lines_text`), with
one query selected by the keyboard (up and down) and its lines drawn bold, the others dim,
and under the picture the selected query's keys and weights in words. It draws the head the
model screen shows (``ModelState.view()``, the recorded weights): nothing is computed here."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tutor.render.document import LinesView, MatrixView, format_number
from tutor.render.lines import lines_text

LINES_HELP = "↑ ↓ the query · ← → the head · l or escape: back to the matrix"


def head_lines(view: MatrixView, head: int, selected: int | None = None) -> LinesView:
    """The lines view of one head's weights as the model screen holds them (``view``: [n_q,
    n_k], a masked key holds 0), ``head`` numbered from 1, ``selected`` a query (from 0)."""
    weights = np.asarray(view.values, dtype=np.float64)
    if view.masked is not None:
        weights = np.where(view.masked, 0.0, weights)
    return LinesView(f"head {head} as lines", view.key, weights[None], list(view.rows),
                     list(view.cols), [head], selected=selected)


class LinesPanel(Static):
    """The lines picture of one head with a selected query, drawn to the panel's width."""

    def __init__(self, view: MatrixView, head: int, **kwargs):
        super().__init__(**kwargs)
        self.view, self.head, self.selected = view, head, 0

    def lines(self) -> LinesView:
        return head_lines(self.view, self.head, self.selected)

    def picture(self, width: int) -> Text:
        """The drawing, then the selected query's keys and weights in words."""
        lines = self.lines()
        text = lines_text(lines, max(30, width))
        keys = lines.top_keys()[0][self.selected]
        text.append(f"\n\nquery {lines.queries[self.selected]} reads: ", style="bold")
        text.append(", ".join(f"{lines.keys[k]} {format_number(w, 2)}" for k, w in keys)
                    or "no key of weight 0.01 or more")
        return text

    def render(self):
        return self.picture(self.size.width or 76)

    def move(self, step: int) -> None:
        """Select the previous (-1) or next (+1) query, wrapping round."""
        self.selected = (self.selected + step) % len(self.view.rows)
        self.refresh()


class LinesScreen(ModalScreen):
    """The current head as lines over the model screen; up/down select the query, left/right
    change the head (the model screen follows), l or escape close it."""

    BINDINGS = [
        Binding("up", "query(-1)", "Query", key_display="↑↓"),
        Binding("down", "query(1)", show=False),
        Binding("left", "head(-1)", "Head", key_display="←→"),
        Binding("right", "head(1)", show=False),
        Binding("l", "close", "Back"),
        Binding("escape", "close", show=False),
        Binding("q", "close", show=False),
    ]
    DEFAULT_CSS = """
    LinesScreen { align: center middle; }
    #lines-box { width: 100%; height: 100%; border: round $primary; padding: 0 1;
                 background: $surface; }
    #lines-keys { height: auto; color: $text-muted; }
    LinesPanel { height: auto; }
    """

    def __init__(self, state):
        super().__init__()
        self.state = state

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="lines-box"):
            yield Static(LINES_HELP, id="lines-keys")
            yield LinesPanel(self.state.view(), self.state.head + 1, id="lines-panel")

    @property
    def panel(self) -> LinesPanel:
        return self.query_one("#lines-panel", LinesPanel)

    def action_query(self, step: int) -> None:
        self.panel.move(step)

    def action_head(self, step: int) -> None:
        """Another head of the same block; the selected query stays."""
        self.state.move_head(step)
        panel = self.panel
        panel.view, panel.head = self.state.view(), self.state.head + 1
        panel.refresh()

    def action_close(self) -> None:
        self.dismiss()
