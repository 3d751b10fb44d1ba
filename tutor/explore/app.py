"""The explorer's screen (Textual): the steps of self-attention as tabs, each matrix a grid
labelled by tokens, every input editable, the worked line of the selected cell below.

Everything shown comes from the walkthrough's document (:mod:`tutor.explore.state` runs
:func:`~tutor.walkthroughs.attention.self_attention` and builds
:func:`~tutor.render.attention.attention_document`): the formulas, the matrices and their
labels, the cells as :func:`tutor.render.console.matrix_cells` styles them, the meanings and
the worked lines. This module lays them out and turns keys into edits.
"""

from __future__ import annotations

import os

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.message import Message
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Static, TabbedContent, TabPane

from tutor.errors import TutorError
from tutor.render.console import bar, glyph_style, matrix_cells
from tutor.render.document import MatrixView, Step

from .models import cut_note
from .state import EDITABLE, ExploreState, View

#: The tabs: the walkthrough's step keys with short titles that fit 80 columns.
STEP_TABS = (("inputs", "1 Inputs"), ("projections", "2 QKV"), ("scores", "3 Scores"),
             ("scaled", "4 Scaled"), ("softmax", "5 Softmax"), ("output", "6 Output"),
             ("concat", "7 Concat"), ("projection", "8 Wo"), ("block", "9 Block"))
NUDGE = 0.1              # what + and - add to an editable cell

HELP = """\
[b]tutor explore[/b]: change an input and every step of self-attention follows.

[b]Moving[/b]
  1 … 9  , .    go to a step (or click its tab); the last, Block: the
                residual add, layer norm, feed-forward and second add
  arrows        move within a matrix
  tab           the next matrix (shift+tab: the previous one)
  \\[ ]           the previous / next head (steps shown per head)
[b]Editing[/b] (the matrices marked ✎: X, Wq, Wk, Wv, Wo)
  enter         type a new value for the selected cell
  + -           add or take 0.1
  e             edit the sentence (typing replaces it; enter: back)
  r  i          random weights (a new seed) / identity weights
  x             every word's own vector again
[b]Options[/b] (or click them in the options line)
  h  H          more / fewer heads (a divisor of d_model)
  s             scaling by 1/√dk on or off
  c             causal mask on or off
  p             sinusoidal positional encoding on or off
[b]Other[/b]
  ?  help       q  quit

The worked line at the bottom spells out the selected cell from the
engine's own numbers. Press any key to close."""


def terminal_theme(theme: str | None) -> str | None:
    """The Textual theme to use: ``theme`` (the terminal's own ANSI palette by default), or
    shades of grey under NO_COLOR, where the ANSI theme would draw black on black. Call it
    before ``App.__init__``, which reads (and removes) NO_COLOR."""
    if "NO_COLOR" in os.environ and theme and theme.startswith("ansi"):
        return "textual-dark"
    return theme


def _pane_id(key: str) -> str:
    return f"step-{key}"


def grid_width(view: MatrixView, cells, tight: bool = False) -> int:
    """The columns a grid of ``view`` takes on screen: DataTable pads each cell by 1 on
    either side, or with ``tight`` each column has one space before it (see MatrixGrid)."""
    pad = 1 if tight else 2
    label = max([len(r) for r in view.rows] + [0]) + (0 if tight else 2)
    widths = [max([len(view.cols[c])] + [row[c].cell_len for row in cells]) + pad
              for c in range(len(view.cols))]
    return label + sum(widths)


class MatrixGrid(DataTable):
    """One matrix of the walkthrough, its rows and columns labelled as the document says,
    its cells as the Rich renderer styles them (heatmap glyphs and colours, masked cells).
    With ``tight`` one space parts the columns instead of two (as ``tutor heads`` draws a
    heatmap whose glyphs already part its numbers), so a wider matrix fits."""

    def __init__(self, view: MatrixView, precision: int, *, editable: bool, **kwargs):
        super().__init__(cursor_type="cell", cursor_background_priority="css", **kwargs)
        self.view = view
        self.precision = precision
        self.editable = editable
        self.tight = False                   # set before fill(): one space between columns
        self.shown_tight = False

    class WindowMoved(Message):
        """The part of the grid on screen may have changed (scrolled, resized, refilled)."""

        def __init__(self, grid: "MatrixGrid"):
            super().__init__()
            self.grid = grid

    def on_mount(self) -> None:
        self.fill(self.view)
        self.watch(self, "scroll_x", self.window_moved, init=False)
        self.watch(self, "scroll_y", self.window_moved, init=False)

    def on_resize(self) -> None:
        self.window_moved()

    def window_moved(self, *_) -> None:
        self.post_message(self.WindowMoved(self))

    def hidden_cells(self) -> tuple[list[int], list[int]]:
        """The columns and rows (by index) not wholly on screen: past the grid's edges at
        its scroll position (the row labels and the header stay)."""
        if not self.row_count or self.size.width == 0:
            return [], []
        view_w = self.scrollable_content_region.width
        view_h = self.scrollable_content_region.height
        pad = self.cell_padding
        label_w = max(len(r) for r in self.view.rows) + 2 * pad
        left, right = self.scroll_x + label_w, self.scroll_x + view_w
        columns, x = [], label_w
        for c, column in enumerate(self.ordered_columns):
            width = column.get_render_width(self)
            if x < left or x + width - pad > right:                    # its number is cut
                columns.append(c)
            x += width
        top = self.scroll_y
        bottom = self.scroll_y + view_h - (self.header_height if self.show_header else 0)
        rows = [r for r in range(self.row_count) if r < top or r + 1 > bottom]
        return columns, rows

    def fill(self, view: MatrixView) -> None:
        """Show ``view``: cell by cell when the rows and columns are the same (the cursor
        stays), else a new table."""
        cells = matrix_cells(view, self.precision)
        space = " " if self.tight else ""
        for row in cells:
            for cell in row:
                cell.justify = "right"                                 # numbers line up
                cell.pad_left(len(space))
        same = (self.row_count and self.view.values.shape == view.values.shape
                and self.view.rows == view.rows and self.view.cols == view.cols
                and self.shown_tight == self.tight)
        self.view = view
        self.shown_tight = self.tight
        self.cell_padding = 0 if self.tight else 1
        if same:
            for r, row in enumerate(cells):
                for c, cell in enumerate(row):
                    self.update_cell_at(Coordinate(r, c), cell, update_width=True)
            self.call_after_refresh(self.window_moved)                 # widths may change
            return
        cursor = self.cursor_coordinate
        self.clear(columns=True)
        for col in view.cols:
            self.add_column(Text(space + col, style="dim"))
        for label, row in zip(view.rows, cells):
            self.add_row(*row, label=Text(label, style="dim"))
        self.move_cursor(row=min(cursor.row, len(view.rows) - 1),
                         column=min(cursor.column, len(view.cols) - 1), animate=False)
        self.call_after_refresh(self.window_moved)


class MatrixBlock(Vertical):
    """A grid with its title (name, shape, ✎ when editable) and caption."""

    def __init__(self, view: MatrixView, precision: int, editable: bool):
        super().__init__(classes="matrix")
        self.view, self.precision, self.editable = view, precision, editable

    def compose(self) -> ComposeResult:
        yield Static(self.title_text(self.view), classes="matrix-title")
        yield Static(classes="matrix-cut")
        yield MatrixGrid(self.view, self.precision, editable=self.editable)
        yield Static(Text(self.view.caption, style="dim italic"), classes="matrix-caption")

    @on(MatrixGrid.WindowMoved)
    def show_cut(self, event: MatrixGrid.WindowMoved) -> None:
        """Under the title, what of the matrix the screen does not show, as wide as the
        grid (so that the block is no wider), or nothing."""
        event.stop()
        grid = event.grid
        note = cut_note(grid.view, *grid.hidden_cells(),
                        weights=grid.view.key.split("[", 1)[0].endswith("weights"))
        line = self.query_one(".matrix-cut", Static)
        line.display = note is not None
        if note is not None:
            line.styles.width = max(20, grid.outer_size.width)
            line.update(Text(note + " (the arrows scroll)", style="yellow"))

    def title_text(self, view: MatrixView) -> Text:
        return Text(f"{view.name}  {view.shape}" + ("  ✎" if self.editable else ""),
                    style="bold")

    def fill(self, view: MatrixView) -> None:
        self.view = view
        self.query_one(".matrix-title", Static).update(self.title_text(view))
        self.query_one(".matrix-caption", Static).update(
            Text(view.caption, style="dim italic"))
        self.query_one(MatrixGrid).fill(view)


class StepPane(VerticalScroll):
    """One step: its formula, the parts shown (one head at a time when the step has a part
    per head), each matrix as a grid, and what the step means."""

    def __init__(self, key: str, **kwargs):
        super().__init__(**kwargs)
        self.key = key
        self.layout_key = None
        self.last_focus = None           # (trace name, cell) of the grid focused last

    def shown_parts(self, step: Step, head: int, heads: int):
        if heads > 1 and len(step.parts) == heads:
            return [step.parts[head]]
        return step.parts

    async def show(self, step: Step, head: int, heads: int, precision: int, width: int) -> None:
        parts = self.shown_parts(step, head, heads)
        rows = []                      # per part: the matrices, in rows that fit ``width``
        for part in parts:
            packed, line, used = [], [], 0
            for view in part.matrices:
                need = grid_width(view, matrix_cells(view, precision)) + 2
                if line and used + need > width:
                    packed.append(line)
                    line, used = [], 0
                line.append(view)
                used += need
            if line:
                packed.append(line)
            rows.append(packed)
        layout = tuple((part.heading != "", tuple(tuple((v.key, v.values.shape) for v in line)
                                                  for line in packed))
                       for part, packed in zip(parts, rows))
        if layout != self.layout_key:
            self.layout_key = layout
            await self.remove_children()
            widgets = [Static(Text(step.formula, style="bold cyan"), classes="formula")]
            for part, packed in zip(parts, rows):
                if part.heading:
                    widgets.append(Static(classes="heading"))
                for line in packed:
                    widgets.append(Horizontal(*[MatrixBlock(v, precision, v.key in EDITABLE)
                                                for v in line], classes="matrices"))
                widgets.append(Static(classes="meaning"))
            await self.mount_all(widgets)
        else:
            self.query_one(".formula", Static).update(Text(step.formula, style="bold cyan"))
        blocks = list(self.query(MatrixBlock))
        views = [v for packed in rows for line in packed for v in line]
        for block, view in zip(blocks, views):
            block.fill(view)
        headings = list(self.query(".heading").results(Static))
        meanings = list(self.query(".meaning").results(Static))
        with_heading = [p for p in parts if p.heading]
        for widget, part in zip(headings, with_heading):
            extra = "   ([ and ] switch heads)" if len(parts) == 1 and heads > 1 and \
                len(step.parts) == heads else ""
            widget.update(Text(part.heading, style="bold magenta").append(extra, style="dim"))
        for widget, part in zip(meanings, parts):
            text = Text("Means: ", style="bold")
            text.append(part.meaning)
            widget.update(text)

    def worked_default(self, step: Step, head: int, heads: int) -> list[str]:
        return [line for part in self.shown_parts(step, head, heads) for line in part.worked]


class HelpScreen(ModalScreen):
    """The keys, closed by any key or a click."""

    def __init__(self, text: str = HELP):
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        yield VerticalScroll(Static(self.text, id="help-text"), id="help")

    def on_key(self, event) -> None:
        event.stop()
        self.dismiss()

    def on_click(self) -> None:
        self.dismiss()


class EditScreen(ModalScreen):
    """Type a new value for one cell; enter applies it, escape keeps the old one. A value
    that cannot be used is refused in one line and the screen stays open."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, value: str, apply):
        super().__init__()
        self.prompt, self.value, self.apply = prompt, value, apply

    def compose(self) -> ComposeResult:
        with Vertical(id="edit"):
            yield Static(self.prompt, id="edit-prompt")
            yield Input(self.value, id="edit-input", compact=True)
            yield Static("enter: use it   escape: keep the old value", id="edit-error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        event.stop()
        error = self.apply(event.value)
        if error:
            self.query_one("#edit-error", Static).update(Text(error, style="bold red"))
        else:
            self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class SentenceApp(App):
    """What the two explorer apps share: the theme, and the row on top where the sentence (or
    a model's input) is edited: ``#sentence-row``, its label, the ``#sentence`` line. A new
    sentence goes to ``state.set_sentence`` (a refused one marks the line ``-invalid``), then
    to :meth:`sentence_shown`; escape or enter leaves the line (:meth:`leave_sentence_line`)."""

    TITLE = "tutor explore"
    ENABLE_COMMAND_PALETTE = False
    SENTENCE_LABEL = "Sentence"
    #: the sentence row's rules, to begin each app's CSS
    SENTENCE_CSS = """
    #sentence-row { height: 1; }
    #sentence-label { width: auto; padding: 0 1 0 0; text-style: bold; }
    #sentence { width: 1fr; }
    """

    def __init__(self, state, *, theme: str | None = "ansi-dark"):
        theme = terminal_theme(theme)                      # before Textual removes NO_COLOR
        super().__init__()
        self.state = state
        if theme:
            self.theme = theme               # before the first style pass, not after it

    def sentence_row(self) -> Horizontal:
        return Horizontal(Static(self.SENTENCE_LABEL, id="sentence-label"),
                          Input(self.state.sentence, id="sentence", compact=True),
                          id="sentence-row")

    async def sentence_shown(self) -> None:
        """Show the run of the new sentence."""
        raise NotImplementedError

    def leave_sentence_line(self) -> None:
        """Where the focus goes when the sentence line is left."""
        raise NotImplementedError

    @on(Input.Changed, "#sentence")
    async def sentence_changed(self, event: Input.Changed) -> None:
        try:
            self.state.set_sentence(event.value)
        except TutorError:
            event.input.add_class("-invalid")
            return
        event.input.remove_class("-invalid")
        await self.sentence_shown()

    @on(Input.Submitted, "#sentence")
    def sentence_submitted(self, event: Input.Submitted) -> None:
        try:
            self.state.set_sentence(event.value)
        except TutorError as exc:
            self.notify(str(exc), severity="error")       # and out of the line: q quits
        self.action_leave_sentence()

    def restore_sentence(self) -> None:
        """A sentence that was refused is replaced by the one shown."""
        box = self.query_one("#sentence", Input)
        if box.value != self.state.sentence:
            with box.prevent(Input.Changed):
                box.value = self.state.sentence
            box.remove_class("-invalid")

    def action_edit_sentence(self) -> None:
        self.query_one("#sentence", Input).focus()


class ExploreApp(SentenceApp):
    """``tutor explore``: the six steps of self-attention on a sentence, live."""

    CSS = SentenceApp.SENTENCE_CSS + """
    Screen { layout: vertical; }
    #options { height: 1; }
    #watch { height: 1; }
    TabbedContent { height: 1fr; }
    TabPane { padding: 0; }
    StepPane { height: 1fr; padding: 0 1; }
    .formula { margin: 0 0 1 0; }
    .heading { margin: 0; }
    .matrices { height: auto; }
    .matrix { width: auto; max-width: 100%; height: auto; margin: 0 2 1 0; }
    .matrix-title { width: auto; }
    .matrix-caption { width: auto; height: auto; }
    .matrix-cut { height: auto; display: none; }
    MatrixGrid { width: auto; max-width: 100%; height: auto; max-height: 20; }
    MatrixGrid > .datatable--header { background: $background; color: $text-muted; }
    MatrixGrid > .datatable--fixed { background: $background; }
    MatrixGrid:focus > .datatable--header { color: $text; }
    .meaning { margin: 0 0 1 0; }
    #worked { height: auto; max-height: 5; padding: 0 1; border-top: solid $primary; }
    #help { width: 78; height: auto; max-height: 22; border: round $primary; padding: 0 1;
            background: $surface; }
    HelpScreen { align: center middle; }
    EditScreen { align: center middle; }
    #edit { width: 64; height: auto; border: round $primary; padding: 0 1;
            background: $surface; }
    #edit-input { margin: 1 0; border: none; background: $boost; }
    """
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("e", "edit_sentence", "Sentence"),
        Binding("escape", "leave_sentence", show=False),
        Binding("h", "heads(1)", "Heads"),
        Binding("H", "heads(-1)", "Fewer heads", show=False),
        Binding("s", "toggle('scaled')", "Scale"),
        Binding("c", "toggle('causal')", "Causal"),
        Binding("p", "toggle('posenc')", "PE"),
        Binding("r", "random_weights", "Random W", show=False),
        Binding("i", "identity_weights", "Identity W", show=False),
        Binding("x", "reset_x", "Reset X", show=False),
        Binding("left_square_bracket", "head(-1)", "Prev head", show=False),
        Binding("right_square_bracket", "head(1)", "Next head", show=False),
        Binding("comma", "step(-1)", "Prev step", show=False),
        Binding("full_stop", "step(1)", "Next step", show=False),
        Binding("plus,equals_sign", "nudge(1)", "+0.1", show=False),
        Binding("minus", "nudge(-1)", "-0.1", show=False),
        *[Binding(str(i + 1), f"goto({i})", show=False) for i in range(len(STEP_TABS))],
    ]

    def __init__(self, state: ExploreState, *, theme: str | None = "ansi-dark"):
        super().__init__(state, theme=theme)
        self.view_: View = state.run()
        self.head = 0                        # the head shown in per-head steps
        self.stale: set[str] = set()         # steps whose pane shows an earlier run

    # --- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield self.sentence_row()
        yield Static(id="options")
        yield Static(id="watch")
        with TabbedContent(id="steps"):
            for key, title in STEP_TABS:
                with TabPane(title, id=_pane_id(key)):
                    yield StepPane(key, id=f"pane-{key}")
        yield Static(id="worked")
        yield Footer()

    async def on_mount(self) -> None:
        await self.refresh_all()
        self.focus_first_grid()

    # --- the one update path -------------------------------------------------------------------
    async def refresh_all(self) -> None:
        """Show the current run in the step on screen, the options line and the worked
        line; the other steps are brought up to date when their tab is opened."""
        state = self.state
        self.head = min(self.head, state.heads - 1)
        focused = self.focused_grid()
        keep = (focused.view.key, focused.cursor_coordinate) if focused is not None else None
        tabs = self.query_one(TabbedContent)
        steps = {step.key: step for step in self.view_.steps}
        for key, _ in STEP_TABS:
            (tabs.show_tab if key in steps else tabs.hide_tab)(_pane_id(key))
        self.stale = set(steps)
        if tabs.active.removeprefix("step-") not in steps:
            tabs.active = _pane_id("output")                           # shown when activated
        else:
            await self.update_pane(self.active_pane())
        if keep is not None and self.focused_grid() is None:           # its grid was rebuilt
            key, cursor = keep
            again = [g for g in self.active_pane().query(MatrixGrid) if g.view.key == key]
            if again:
                again[0].focus()
                again[0].move_cursor(row=cursor.row, column=cursor.column, animate=False)
        self.query_one("#options", Static).update(self.options_text())
        self.query_one("#watch", Static).update(self.watch_text())
        self.show_worked()

    async def update_pane(self, pane: "StepPane") -> None:
        """Bring one step's pane up to date with the current run."""
        step = next(s for s in self.view_.steps if s.key == pane.key)
        heads = 1 if pane.key == "block" else self.state.heads       # its parts are stages
        await pane.show(step, self.head, heads, self.state.precision,
                        max(20, self.size.width - 6))
        self.stale.discard(pane.key)

    def options_text(self) -> str:
        state = self.state
        on = {True: "on", False: "off"}
        kinds = sorted({state.kinds[k] for k in ("w_q", "w_k", "w_v")})
        d_k = state.d_model // state.heads
        return (f"[@click=app.heads(1)]heads [b]{state.heads}[/b][/] (d_k {d_k}) · "
                f"[@click=app.toggle('scaled')]scale [b]{on[state.scaled]}[/b][/] · "
                f"[@click=app.toggle('causal')]causal [b]{on[state.causal]}[/b][/] · "
                f"[@click=app.toggle('posenc')]PE [b]{on[state.posenc]}[/b][/] · "
                f"[@click=app.random_weights]W {'/'.join(kinds)}[/] · "
                f"[@click=app.help][b]?[/b] help[/]")

    def watch_text(self) -> Text:
        """One line to watch while editing: the softmax step's weights of the head shown, a
        glyph per weight shaded as that step's heatmap shades it, a group per query."""
        key = ("" if self.state.heads == 1 else f"head{self.head}.") + "weights"
        softmax = next(s for s in self.view_.steps if s.key == "softmax")
        view = next(m for part in softmax.parts for m in part.matrices if m.key == key)
        shades = view.heat_fractions()                                 # [n, n] in [0, 1]
        room = max(10, self.size.width - 2)
        text = Text("softmax ", style="bold")
        if self.state.heads > 1:
            text.append(f"(head {self.head + 1}) ", style="dim")
        for r, label in enumerate(view.rows):
            if text.cell_len + len(label) + len(view.cols) + 3 > room:
                text.append("…", style="dim")
                break
            text.append(f"{label} ", style="dim")
            for c in range(len(view.cols)):
                if view.masked is not None and view.masked[r, c]:
                    text.append("·", style="dim")
                else:
                    text.append(bar(shades[r, c]), style=glyph_style(shades[r, c]))
            text.append("  ")
        return text

    async def recompute(self) -> None:
        self.view_ = self.state.run()
        await self.refresh_all()

    # --- selection and the worked line ---------------------------------------------------------
    def active_pane(self) -> StepPane:
        key = self.query_one(TabbedContent).active.removeprefix("step-")
        return self.query_one(f"#pane-{key}", StepPane)

    def current_step(self) -> Step | None:
        key = self.active_pane().key
        return next((s for s in self.view_.steps if s.key == key), None)

    def focused_grid(self) -> MatrixGrid | None:
        grid = self.focused
        if isinstance(grid, MatrixGrid) and grid in self.active_pane().query(MatrixGrid):
            return grid
        return None

    def worked_lines(self) -> list[str]:
        grid = self.focused_grid()
        if grid is not None and grid.row_count:
            cell = grid.cursor_coordinate
            return self.state.worked(self.view_, grid.view.key, cell.row, cell.column)
        step = self.current_step()
        if step is None:
            return []
        return self.active_pane().worked_default(step, self.head, self.state.heads)

    def show_worked(self) -> None:
        text = Text("Worked: ", style="bold")
        text.append("\n".join(self.worked_lines()))
        self.query_one("#worked", Static).update(text)

    def focus_first_grid(self) -> None:
        """Focus the grid this step had focused last (its cell too), else its first grid."""
        pane = self.active_pane()
        grids = list(pane.query(MatrixGrid))
        if grids:
            key, cell = pane.last_focus or (None, None)
            again = [g for g in grids if g.view.key == key]
            if again:
                again[0].focus()
                again[0].move_cursor(row=cell.row, column=cell.column, animate=False)
            else:
                grids[0].focus()
        self.show_worked()

    def closing(self) -> bool:
        """Whether the steps are gone: while the app closes its widgets are removed one by
        one, and focus can still move to a grid (and a cell be highlighted) after the tabs
        went, so the handlers below check this first (it used to end a run now and then,
        under load, with NoMatches for TabbedContent)."""
        return not self.query(TabbedContent)

    @on(DataTable.CellHighlighted)
    def cell_highlighted(self, event: DataTable.CellHighlighted) -> None:
        if self.closing():
            return
        if event.data_table is self.focused:
            self.remember(event.data_table)
            self.show_worked()

    def remember(self, grid) -> None:
        """Note the grid and cell in focus, for when its step is opened again."""
        if isinstance(grid, MatrixGrid) and grid in self.active_pane().query(MatrixGrid):
            self.active_pane().last_focus = (grid.view.key, grid.cursor_coordinate)

    def on_descendant_focus(self, event) -> None:
        if isinstance(event.widget, MatrixGrid) and not self.closing():
            self.remember(event.widget)
            self.show_worked()

    @on(TabbedContent.TabActivated)
    async def tab_activated(self, event: TabbedContent.TabActivated) -> None:
        pane = self.active_pane()
        if pane.key in self.stale:
            await self.update_pane(pane)
        if not isinstance(self.focused, Input):
            self.call_after_refresh(self.focus_first_grid)

    # --- editing -------------------------------------------------------------------------------
    @on(DataTable.CellSelected)
    def cell_selected(self, event: DataTable.CellSelected) -> None:
        grid = event.data_table
        if isinstance(grid, MatrixGrid):
            self.edit_cell(grid)

    def edit_cell(self, grid: MatrixGrid) -> None:
        """Open the editor on the grid's cursor cell."""
        if not grid.editable:
            self.notify(f"{grid.view.name} is computed from the inputs; edit X, Wq, Wk, Wv "
                        f"or Wo (step 1)", severity="warning")
            return
        row, col = grid.cursor_coordinate
        view = grid.view
        value = float(view.values[row, col])
        prompt = f"{view.name}({view.rows[row]}, {view.cols[col]}) is {value:g}; new value:"
        if view.key == "x":
            prompt += f"\n(the word {self.state.tokens[row]!r} changes wherever it occurs)"

        def apply(text: str) -> str | None:
            try:
                self.state.set_cell(view.key, row, col, text)
            except TutorError as exc:
                return str(exc)
            return None

        async def done(changed) -> None:
            if changed:
                await self.recompute()

        self.push_screen(EditScreen(prompt, f"{value:g}", apply), done)

    async def action_nudge(self, sign: int) -> None:
        grid = self.focused_grid()
        if grid is None:
            return
        if not grid.editable:
            self.notify(f"{grid.view.name} is computed; + and - change X, Wq, Wk, Wv, Wo",
                        severity="warning")
            return
        row, col = grid.cursor_coordinate
        value = round(float(grid.view.values[row, col]) + sign * NUDGE, 10)
        try:
            self.state.set_cell(grid.view.key, row, col, value)
        except TutorError as exc:
            self.notify(str(exc), severity="error")
            return
        await self.recompute()

    async def sentence_shown(self) -> None:
        await self.recompute()

    def action_leave_sentence(self) -> None:
        """Escape (or enter): out of the sentence into the step's matrix; a sentence that
        was refused is replaced by the one shown."""
        if isinstance(self.focused, Input):
            self.restore_sentence()
            self.focus_first_grid()

    # --- options --------------------------------------------------------------------------------
    async def action_toggle(self, name: str) -> None:
        setattr(self.state, name, not getattr(self.state, name))
        await self.recompute()

    async def action_heads(self, step: int) -> None:
        before = self.state.heads
        if self.state.next_heads(step) == before:
            self.notify(f"heads: {before} is the {'most' if step > 0 else 'fewest'} that "
                        f"divide d_model = {self.state.d_model}", severity="warning")
            return
        await self.recompute()

    async def action_head(self, step: int) -> None:
        if self.state.heads == 1:
            self.notify("one head: press h for more", severity="information")
            return
        self.head = (self.head + step) % self.state.heads
        await self.refresh_all()
        self.focus_first_grid()

    async def action_random_weights(self) -> None:
        self.state.random_weights()
        await self.recompute()

    async def action_identity_weights(self) -> None:
        self.state.identity_weights()
        await self.recompute()

    async def action_reset_x(self) -> None:
        self.state.reset_embeddings()
        await self.recompute()

    def visible_steps(self) -> list[str]:
        keys = {step.key for step in self.view_.steps}
        return [key for key, _ in STEP_TABS if key in keys]

    def action_goto(self, index: int) -> None:
        """The key on a tab's title (1 … 9) opens it, when the tab is shown."""
        key = STEP_TABS[index][0]
        if key in self.visible_steps():
            self.query_one(TabbedContent).active = _pane_id(key)

    def action_step(self, step: int) -> None:
        keys = self.visible_steps()
        current = self.active_pane().key
        index = (keys.index(current) + step) % len(keys)
        self.query_one(TabbedContent).active = _pane_id(keys[index])

    def action_help(self) -> None:
        self.push_screen(HelpScreen())
