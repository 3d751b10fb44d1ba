"""The explorer's model mode (``tutor explore --model NAME``): a trained model's attention,
one layer and head at a time, from the walkthrough's recording, in the same grid as the
explorer's steps (cells styled by :func:`tutor.render.console.matrix_cells`), with each
head's pattern label."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Static

from tutor.errors import TutorError
from tutor.render.console import matrix_cells

from .app import HelpScreen, MatrixGrid, SentenceApp, grid_width
from .models import ModelState, cut_note

MODEL_HELP = """\
[b]tutor explore --model[/b]: every head of every layer of a trained model.

  up, down      the previous / next layer (and kind of attention)
  left, right   the previous / next head
  , .  \\[ ]      the same, for keyboards without arrows
  tab           into the matrix: the arrows move the cell (escape: back)
  l             the head as lines: up, down select a query (l: back)
  e             a new input (typing replaces it; enter or escape: back)
  b             the whole block of this layer: residual add, norm,
                feed-forward, and the next-token bar (t T k K p P)
  ?  help       q  quit

Each row of the matrix is one query: how much it takes from each key;
darker is more. The label names the pattern the head follows (the key
most of each query's weight goes to), by a stated rule, or "broad".
Press any key to close."""


class MatrixArea(Vertical):
    """The matrix with its title and caption: when the room changes, the grid's height
    follows."""

    def on_resize(self) -> None:
        self.app.show_cut()


class ModelApp(SentenceApp):
    """Move between the layers and heads of a trained model and see each head's attention."""

    AUTO_FOCUS = None                                     # the arrows move between heads
    SENTENCE_LABEL = "Input"
    CSS = SentenceApp.SENTENCE_CSS + """
    #heading { height: auto; padding: 0 1; }
    #where { height: auto; padding: 0 1; border-bottom: solid $primary; }
    #matrix { height: 1fr; padding: 0 1; }
    #matrix-title { height: auto; }
    MatrixGrid { width: auto; max-width: 100%; height: auto; }
    MatrixGrid > .datatable--header { background: $background; color: $text-muted; }
    MatrixGrid > .datatable--fixed { background: $background; }
    #matrix-caption { height: auto; }
    #all-heads { height: auto; padding: 0 1; border-top: solid $primary; }
    #help { width: 78; height: auto; max-height: 22; border: round $primary; padding: 0 1;
            background: $surface; }
    HelpScreen { align: center middle; }
    """
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("e", "edit_sentence", "Input"),
        Binding("l", "lines", "Lines", show=False),          # in the help (?)
        Binding("b", "block_view", "Block"),
        Binding("up", "block(-1)", "Layer", key_display="↑↓"),
        Binding("down", "block(1)", show=False),
        Binding("left", "head(-1)", "Head", key_display="←→"),
        Binding("right", "head(1)", show=False),
        Binding("comma", "block(-1)", show=False),
        Binding("full_stop", "block(1)", show=False),
        Binding("left_square_bracket", "head(-1)", show=False),
        Binding("right_square_bracket", "head(1)", show=False),
        Binding("escape", "leave_sentence", show=False),
    ]

    def __init__(self, state: ModelState, *, theme: str | None = "ansi-dark"):
        super().__init__(state, theme=theme)
        self.caption_text = Text()           # the matrix's caption as last shown

    def compose(self) -> ComposeResult:
        yield self.sentence_row()
        yield Static(id="heading")
        yield Static(id="where")
        with MatrixArea(id="matrix"):
            yield Static(id="matrix-title")
            yield MatrixGrid(self.state.view(), self.state.precision, editable=False,
                             id="grid")
            yield Static(id="matrix-caption")
        yield Static(id="all-heads")
        yield Footer()

    def on_mount(self) -> None:
        self.show()
        self.set_focus(None)

    def on_resize(self) -> None:
        if self.screen is self.screen_stack[0]:           # not under the block or help screen
            self.show()                                   # tight columns or not, for the width

    def show(self) -> None:
        """Draw the current block and head from the recording."""
        state = self.state
        block = state.blocks[state.block]
        self.query_one("#heading", Static).update(Text(state.heading(), style="bold"))
        where = Text()
        where.append(f"Layer: {block.title}", style="bold magenta")
        where.append(f"  ({state.block + 1} of {len(state.blocks)}, ↑ ↓)\n", style="dim")
        where.append(f"Head {state.head + 1} of {state.n_heads}", style="bold")
        where.append("  (← →)  ", style="dim")
        label = state.label()
        if label is not None:
            where.append("pattern: ", style="dim")
            where.append(label, style="bold cyan")
        elif not block.self_attention:
            where.append("each output position looks at the input digits", style="dim")
        self.query_one("#where", Static).update(where)
        view = state.view()
        grid = self.query_one("#grid", MatrixGrid)
        room = self.size.width - 2                                     # #matrix's padding
        grid.tight = grid_width(view, matrix_cells(view, state.precision)) > room
        grid.fill(view)
        self.show_caption()
        self.show_cut()
        heads = Text("This layer's heads: ", style="bold")
        for h in range(state.n_heads):
            text = state.label(head=h)
            mark = "▶ " if h == state.head else ""
            heads.append(f"{mark}{h + 1}: {text.split(' (')[0] if text else '—'}",
                         style="bold" if h == state.head else "")
            if h + 1 < state.n_heads:
                heads.append(" · ", style="dim")
        self.query_one("#all-heads", Static).update(heads)

    def show_caption(self) -> None:
        """The caption, or with the matrix in focus the selected cell's weight in words."""
        grid = self.query_one("#grid", MatrixGrid)
        view = grid.view
        text = Text(view.caption, style="dim italic")
        if self.focused is grid and grid.row_count:
            r, c = grid.cursor_coordinate
            weight = float(view.values[r, c])
            text = Text(f"w({view.rows[r]}, {view.cols[c]}) = {weight:.4f}: the share of "
                        f"{view.rows[r]}'s attention that goes to {view.cols[c]}"
                        + (" (masked: a later position)" if view.masked is not None
                           and view.masked[r, c] else ""))
        self.caption_text = text
        self.query_one("#matrix-caption", Static).update(text)

    def hidden_cells(self) -> tuple[list[int], list[int]]:
        """The keys (columns) and queries (rows) of the matrix not wholly on screen."""
        return self.query_one("#grid", MatrixGrid).hidden_cells()

    @on(MatrixGrid.WindowMoved)
    def grid_moved(self) -> None:
        self.show_cut()

    def show_cut(self, *_) -> None:
        """The matrix's title, with what of the matrix is not on screen and the share of a
        row it holds (the caption says each row sums to 1), and the grid's height: the room
        the title and the caption leave, so that the caption stays on screen."""
        grid = self.query_one("#grid", MatrixGrid)
        view = grid.view
        note = cut_note(view, *self.hidden_cells())
        text = Text(f"{view.name}  {view.shape}", style="bold")
        if note:
            text.append("\n" + note + " (tab, then the arrows scroll)", style="yellow")
        self.query_one("#matrix-title", Static).update(text)
        area = self.query_one("#matrix")
        width = area.content_size.width
        if width and area.content_size.height:
            lines = len(text.wrap(self.console, width)) + \
                len(self.caption_text.wrap(self.console, width))
            room = max(3, area.content_size.height - lines)
            if grid.styles.max_height is None or grid.styles.max_height.value != room:
                grid.styles.max_height = room                  # its resize calls this again

    @on(DataTable.CellHighlighted)
    def cell_highlighted(self) -> None:
        self.show_caption()

    def on_descendant_focus(self) -> None:
        self.show_caption()

    def on_descendant_blur(self) -> None:
        self.show_caption()

    def action_block(self, step: int) -> None:
        self.state.move_block(step)
        self.show()

    def action_head(self, step: int) -> None:
        self.state.move_head(step)
        self.show()

    def action_focus_next(self) -> None:
        """Tab: from the screen (the arrows moving layers and heads) into the matrix first,
        then as usual (the input line, the matrix, ...)."""
        if self.focused is None:
            self.query_one("#grid", MatrixGrid).focus()
        else:
            super().action_focus_next()

    def action_focus_previous(self) -> None:
        """Shift+tab: the same, backwards; from the screen also into the matrix."""
        if self.focused is None:
            self.query_one("#grid", MatrixGrid).focus()
        else:
            super().action_focus_previous()

    def action_leave_sentence(self) -> None:
        """Escape: out of the input line (or the matrix), the arrows move layers and heads
        again; an input that was refused is replaced by the one shown."""
        self.restore_sentence()
        self.set_focus(None)                              # the arrows move layers and heads

    def action_help(self) -> None:
        self.push_screen(HelpScreen(MODEL_HELP))

    def action_lines(self) -> None:
        """The current head as lines (tutor/explore/lines.py); back, the screen follows the
        head chosen there."""
        from .lines import LinesScreen
        self.push_screen(LinesScreen(self.state), lambda _: self.show())
    def action_block_view(self) -> None:
        """b: the layer shown as a whole block (tutor.explore.block_app); back to the heads
        of the layer it ends on."""
        from .block import BlockState
        from .block_app import BlockScreen

        try:
            state = BlockState(self.state)
        except TutorError as exc:
            self.notify(str(exc), severity="error")
            return
        self.push_screen(BlockScreen(state, self.state.precision), lambda _: self.show())

    async def sentence_shown(self) -> None:
        self.show()
