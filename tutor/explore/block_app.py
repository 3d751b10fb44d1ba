"""The model explorer's block screen (``b`` in ``tutor explore --model``): the layer shown as
a whole block, the residual add, the norm (layer norm or RMSNorm, pre- or post-norm as the
model does it), the feed-forward (SwiGLU with its gate), the second add, and for a model that
writes the next-token bar with live temperature, top-k and top-p keys. Laid out from
:class:`tutor.explore.block.BlockState`; the matrices in the explorer's step pane."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tutor.errors import TutorError

from .app import HelpScreen, MatrixGrid, StepPane
from .block import BlockState

BAR_WIDTH = 30            # the cells of a probability-1 bar

BLOCK_HELP = """\
[b]The whole block[/b] of the layer the explorer shows: the residual add, the
norm, the feed-forward and the second add, from the model's own numbers.

  up, down      the previous / next layer
  tab           the next matrix; the arrows move its cell (worked line below)
[b]The next-token bar[/b] (a model that writes: GPT-2, llama, a toy model)
  t  T          temperature up / down (1: the model's own distribution)
  k  K          top-k: keep fewer / more of the most likely tokens (off: all)
  p  P          top-p: a smaller / larger nucleus of likely tokens (off: all)
  0             temperature 1, top-k and top-p off
  b  escape     back to the heads        ?  help       q  quit

The bar is the distribution tutor generate samples from with the same
--temperature, --top-k and --top-p. Press any key to close."""


def bar_text(state: BlockState, width: int, rows: int | None = None) -> Text:
    """The next-token bar: one line per token, most likely first, its probability under
    the settings as a number and a bar (the most likely token's the full width); tokens
    top-k or top-p leave out are dim, at 0. ``rows``: at most that many tokens (a short
    screen keeps room for the block)."""
    text = Text()
    position = repr(state.recording.info["position"])
    if len(position) > 14:
        position = position[:13] + "…"
    text.append(f"Next token after {position}: ", style="bold")
    text.append(state.settings_text(), style="bold cyan")
    if text.cell_len + 20 <= width:
        text.append("   (t T  k K  p P  0)", style="dim")
    text.append("\n")
    rows = state.bar_rows()[:rows]
    top = max(prob for _, prob, _ in rows) or 1.0
    label_w = min(16, max(len(repr(t)) for t, _, _ in rows))
    room = max(8, min(BAR_WIDTH, width - label_w - 12))
    for token, prob, kept in rows:
        label = repr(token)
        label = label if len(label) <= label_w else label[:label_w - 1] + "…"
        text.append(f"{label:>{label_w}} ", style="" if kept else "dim")
        cells = int(round(prob / top * room))                       # the first fills it
        text.append("█" * cells, style="green" if kept else "dim")
        text.append(" " * (room - cells))
        text.append(f" {prob:.3f}" + ("" if kept else "  (left out)") + "\n",
                    style="" if kept else "dim")
    return text


class BlockScreen(Screen):
    """One layer as a whole block, over the model explorer (escape or b: back)."""

    CSS = """
    BlockScreen #block-heading { height: auto; padding: 0 1; border-bottom: solid $primary; }
    BlockScreen StepPane { height: 1fr; padding: 0 1; }
    BlockScreen #bar { height: auto; padding: 0 1; border-top: solid $primary; }
    BlockScreen #block-worked { height: auto; max-height: 3; padding: 0 1; }
    BlockScreen .formula { margin: 0 0 1 0; }
    BlockScreen .matrices { height: auto; }
    BlockScreen .matrix { width: auto; max-width: 100%; height: auto; margin: 0 2 1 0; }
    BlockScreen .matrix-title { width: auto; }
    BlockScreen .matrix-caption { width: auto; height: auto; }
    BlockScreen .matrix-cut { height: auto; display: none; }
    BlockScreen MatrixGrid { width: auto; max-width: 100%; height: auto; max-height: 12; }
    BlockScreen .meaning { margin: 0 0 1 0; }
    """
    BINDINGS = [
        Binding("escape,b", "back", "Back"),
        Binding("q", "app.quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("up", "layer(-1)", "Layer", key_display="↑↓"),
        Binding("down", "layer(1)", show=False),
        Binding("t", "sampling('temperature', 1)", "Temp"),
        Binding("T", "sampling('temperature', -1)", show=False),
        Binding("k", "sampling('top_k', 1)", "Top-k"),
        Binding("K", "sampling('top_k', -1)", show=False),
        Binding("p", "sampling('top_p', 1)", "Top-p"),
        Binding("P", "sampling('top_p', -1)", show=False),
        Binding("0", "reset_sampling", show=False),
        Binding("tab", "next_grid(1)", show=False),
        Binding("shift+tab", "next_grid(-1)", show=False),
        # the heads screen's keys, which would look for its widgets here
        *[Binding(key, "nothing", show=False) for key in
          ("e", "left", "right", "comma", "full_stop", "left_square_bracket",
           "right_square_bracket")],
    ]
    AUTO_FOCUS = None

    def __init__(self, state: BlockState, precision: int = 2):
        super().__init__()
        self.state, self.precision = state, precision

    def compose(self) -> ComposeResult:
        yield Static(id="block-heading")
        yield StepPane("block", id="block-pane")
        yield Static(id="bar")
        yield Static(id="block-worked")
        yield Footer()

    async def on_mount(self) -> None:
        await self.show()

    async def show(self) -> None:
        """Draw the block and the bar from the state."""
        state = self.state
        info = state.recording.info
        heading = Text(f"{info['title']} · {info['layer_title']} · the whole block",
                       style="bold")
        heading.append(f"\n{info['norm']}, "
                       f"{'pre-norm' if info['norm_first'] else 'post-norm'}; feed-forward "
                       f"{info['activation']}, d_ff {info['d_ff']}   (↑ ↓ layer, b back)",
                       style="dim")
        self.query_one("#block-heading", Static).update(heading)
        await self.query_one(StepPane).show(state.step(self.precision), 0, 1, self.precision,
                                            max(20, self.app.size.width - 6))
        self.show_bar()
        self.show_worked()

    def show_bar(self) -> None:
        bar = self.query_one("#bar", Static)
        bar.display = self.state.writes
        if self.state.writes:
            room = max(3, (self.app.size.height - 14) // 2)         # 5 at 24 lines, 10 at 34
            bar.update(bar_text(self.state, self.app.size.width - 2, room))

    def show_worked(self) -> None:
        grid = self.focused if isinstance(self.focused, MatrixGrid) else None
        text = Text("Worked: ", style="bold")
        if grid is not None and grid.row_count:
            r, c = grid.cursor_coordinate
            text.append("\n".join(self.state.worked(grid.view.key, r, c, self.precision)))
        else:
            text.append("tab into a matrix to see how a cell is made", style="dim")
        self.query_one("#block-worked", Static).update(text)

    # the model explorer's own handlers look for its widgets: these events stop here
    @on(DataTable.CellHighlighted)
    def cell_highlighted(self, event) -> None:
        event.stop()
        self.show_worked()

    def on_descendant_focus(self, event) -> None:
        event.stop()
        self.show_worked()

    def on_descendant_blur(self, event) -> None:
        event.stop()

    def action_nothing(self) -> None:
        """The heads screen's keys (e, ← →, ...) do nothing here."""

    def action_next_grid(self, step: int) -> None:
        """Tab: the next matrix (shift+tab: the previous one), from none to the first."""
        grids = list(self.query(MatrixGrid))
        if not grids:
            return
        index = grids.index(self.focused) + step if self.focused in grids else 0
        grid = grids[index % len(grids)]
        grid.focus()
        grid.scroll_visible()

    def action_back(self) -> None:
        self.dismiss(True)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(BLOCK_HELP))

    async def action_layer(self, step: int) -> None:
        """The previous / next layer: the model explorer's block moves (its attention
        blocks, skipping a decoder's second one), and the block is run again."""
        models = self.state.models
        before = self.state.where()
        for _ in range(len(models.blocks)):
            models.move_block(step)
            if self.state.where() != before:
                break
        try:
            self.state.run()
        except TutorError as exc:
            self.notify(str(exc), severity="error")
            return
        await self.show()

    def action_sampling(self, name: str, step: int) -> None:
        if not self.state.writes:
            self.notify(f"{self.state.models.name} does not write: no next-token bar",
                        severity="warning")
            return
        self.state.change(name, step)
        self.show_bar()

    def action_reset_sampling(self) -> None:
        if self.state.writes:
            self.state.reset_sampling()
            self.show_bar()
