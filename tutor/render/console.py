"""Rich renderables for a walkthrough: matrix tables labelled by tokens with the shape in the
title, heatmaps, and one panel per step. Nothing here prints.

Heatmap cells carry a bar glyph (▁ … █) as well as a background colour, so the picture
survives plain output (no colour) and a black-and-white printout. In colour the glyph is drawn
in its cell's background colour: the shade alone tells the value (a glyph in the text colour
would put a dark or white block on every cell, whatever its value, in the exported pictures).
"""

from __future__ import annotations

import re

import numpy as np
from rich import box
from rich.cells import cell_len
from rich.columns import Columns
from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.measure import Measurement
from rich.padding import Padding
from rich.panel import Panel
from rich.segment import Segment
from rich.color import Color, ColorSystem
from rich.style import Style
from rich.table import Table
from rich.text import Text

from .document import (Chart, count, Document, MatrixView, Part, Step, format_matrix_cells,
                       format_number, is_integral)

BARS = "▁▂▃▄▅▆▇█"
PANEL_CHROME = 4           # the panel's two borders and two spaces of padding
COLUMN_CHROME = 3          # a column's padding each side and the blank divider before it
LABEL_CHROME = 1           # the padding right of the label column
AXIS_LABEL = 5             # a labelled grid heatmap's row labels: their first 5 characters


NOT_A_SHADE = "?"          # the glyph of a NaN or infinite value (no place on the scale)


def bar(value: float) -> str:
    """A weight in [0, 1] as one of eight bar heights; NaN (a value not on the scale:
    NaN or infinite, see MatrixView.heat_fractions) as '?'."""
    if not np.isfinite(value):
        return NOT_A_SHADE
    level = int(np.clip(value, 0.0, 1.0) * (len(BARS) - 1) + 0.5)
    return BARS[level]


LIGHT_STANDARD = {3, 6, 7, 9, 10, 11, 13, 14, 15}  # standard colours that want black text
# true black and white, not the theme's: an exported picture's theme draws "black" as dark
# grey, which reads poorly on the middle shades (a 16-colour terminal still gets black/white)
BLACK, WHITE = Color.from_rgb(0, 0, 0), Color.from_rgb(255, 255, 255)


def heat_colour(value: float) -> Color:
    """White to deep blue as the weight goes from 0 to 1; grey for NaN (not on the scale)."""
    if not np.isfinite(value):
        return Color.from_rgb(160, 160, 160)
    v = float(np.clip(value, 0.0, 1.0))
    r, g, b = (int(255 - v * (255 - c)) for c in (30, 80, 200))
    return Color.from_rgb(r, g, b)


def heat_style(value: float) -> Style:
    """A number on its heat colour.

    The text colour is chosen from the background as a 16-colour terminal shows it (Rich
    replaces the gradient by the nearest standard colour there), which also reads on the
    gradient itself: black on the light shades, white on the blue ones.
    """
    background = heat_colour(value)
    light = background.downgrade(ColorSystem.STANDARD).number in LIGHT_STANDARD
    return Style(color=BLACK if light else WHITE, bgcolor=background)


def glyph_style(value: float) -> Style:
    """A bar glyph in its cell's own colour: invisible in colour, where the shade tells the
    value, and the only mark in plain output. A value not on the scale (NaN) shows its '?'
    in red."""
    background = heat_colour(value)
    if not np.isfinite(value):
        return Style(color=Color.from_rgb(200, 0, 0), bgcolor=background)
    return Style(color=background, bgcolor=background)


def matrix_cells(view: MatrixView, precision: int) -> list[list[Text]]:
    """The matrix's cells as styled Text: numbers, heatmap glyphs and colours, masked cells
    dimmed (what :func:`matrix_tables` lays out; the explorer's grids show the same)."""
    texts = format_matrix_cells(view, precision)
    fractions = view.heat_fractions() if view.heat else None                  # [rows, cols]
    cells = []
    for r, row in enumerate(texts):
        out = []
        for c, text in enumerate(row):
            masked = view.masked is not None and view.masked[r, c]
            if view.heat and not masked:
                value = float(fractions[r, c])
                cell = Text(text, style=heat_style(value))
                cell.append(bar(value), style=glyph_style(value))
                out.append(cell)
            else:
                out.append(Text(text, style="dim" if masked else ""))
        cells.append(out)
    return cells


def _rich_table(header: list[str], labels: list[str], rows: list[list[Text]],
                tight: bool = False) -> Table:
    """A matrix chunk as a Rich Table: the look :class:`MatrixTable` draws directly (with
    ``tight``, one space between columns)."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="dim",
                  padding=(0, 0) if tight else (0, 1))
    table.add_column("", style="dim", no_wrap=True)
    for name in header:
        table.add_column(Text(name), justify="right", no_wrap=True)
    for label, row in zip(labels, rows):
        table.add_row(Text(label), *row)
    return table


class MatrixTable:
    """A matrix chunk with its row labels and column header, drawn as lines laid out once.

    It draws what ``_rich_table`` (a Rich ``Table`` with the SIMPLE_HEAD box, no edge) draws,
    segment for segment, without Rich measuring every cell again each time an enclosing
    ``Columns``, ``Group`` or ``Panel`` measures or renders it, which was most of the time
    ``tutor attention`` took to start. The widths are known: the label column's and each value
    column's widest text. Where the lines would not be the Table's (narrower than the table,
    an ASCII-only or legacy Windows console, text with spaces or control characters) it is
    that Table; a cell with styled parts (spans) is laid out by Rich, alone.
    """

    def __init__(self, header: list[str], labels: list[str], rows: list[list[Text]],
                 tight: bool = False):
        self.tight = tight                 # one space between columns, not three
        self.header = header
        self.labels = labels
        self.rows = rows
        self.label_width = max([cell_len(label) for label in labels] + [0])
        self.widths = [max([cell_len(name)] + [row[c].cell_len for row in rows])
                       for c, name in enumerate(header)]
        # the label column, then each value column with its padding and the divider before
        # it, less the padding right of the last one
        if tight:                          # each column: the divider, then its text
            self.width = self.label_width + sum(width + 1 for width in self.widths)
        else:
            self.width = (self.label_width + LABEL_CHROME
                          + sum(width + COLUMN_CHROME for width in self.widths) - 1)
        self._simple = (all(_plain_word(text) for text in [*header, *labels])
                        and all(_plain_word(text.plain) for row in rows for text in row))

    def _table(self) -> Table:
        return _rich_table(self.header, self.labels, self.rows, self.tight)

    def _fits(self, options: ConsoleOptions) -> bool:
        return (self._simple and options.max_width >= self.width and not options.ascii_only
                and not options.legacy_windows)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        if self._fits(options):
            return Measurement(self.width, self.width)
        return Measurement.get(console, options, self._table())

    def __rich_console__(self, console: Console, options: ConsoleOptions):
        if not self._fits(options):
            yield self._table()
            return
        get_style = console.get_style
        dim, plain = get_style("dim"), Style.null()
        space, dim_space = Segment(" ", plain), Segment(" ", dim)
        new_line = Segment.line()
        last = len(self.header) - 1
        if self.tight:
            yield from self._tight_lines(console, options)
            return
        yield Segment(" " * self.label_width, dim)                    # the header row
        yield dim_space
        for c, (name, width) in enumerate(zip(self.header, self.widths)):
            yield space
            yield dim_space
            yield Segment(" " * (width - cell_len(name)) + name, dim)
            if c < last:
                yield dim_space
        yield new_line
        yield Segment("─" * self.width, plain)
        yield new_line
        for label, row in zip(self.labels, self.rows):
            yield Segment(label + " " * (self.label_width - cell_len(label)), dim)
            yield dim_space
            for c, (text, width) in enumerate(zip(row, self.widths)):
                yield space
                yield space
                if text.spans or text.justify:                        # as the Table would
                    yield from _cell_segments(console, options, text, width)
                else:
                    yield Segment(" " * (width - text.cell_len) + text.plain,
                                  get_style(text.style))
                if c < last:
                    yield space
            yield new_line

    def _tight_lines(self, console: Console, options: ConsoleOptions):
        """The tight table: one space (the divider) before each column, no padding."""
        dim, plain = console.get_style("dim"), Style.null()
        space = Segment(" ", plain)
        yield Segment(" " * self.label_width, dim)                    # the header row
        for name, width in zip(self.header, self.widths):
            yield space
            yield Segment(" " * (width - cell_len(name)) + name, dim)
        yield Segment.line()
        yield Segment("─" * self.width, plain)
        yield Segment.line()
        for label, row in zip(self.labels, self.rows):
            yield Segment(label + " " * (self.label_width - cell_len(label)), dim)
            for text, width in zip(row, self.widths):
                yield space
                yield from _cell_segments(console, options, text, width)
            yield Segment.line()


def _cell_segments(console: Console, options: ConsoleOptions, text: Text, width: int):
    """One cell right-justified in ``width``, as the Table draws it. A styled one-line cell
    that fits (a heatmap's number and glyph) is its own segments after the padding, what
    Rich's layout gives, without laying it out (that was most of the time of a large run)."""
    if (text.spans and not text.justify and text.cell_len <= width
            and _plain_word(text.plain)):
        yield Segment(" " * (width - text.cell_len), console.get_style(text.style))
        yield from text.render(console, end="")
        return
    if text.spans or text.justify:
        yield from console.render_lines(
            text, options.update(width=width, justify="right", no_wrap=True,
                                 overflow="ellipsis", height=None, highlight=False))[0]
    else:
        yield Segment(" " * (width - text.cell_len) + text.plain, console.get_style(text.style))


def _plain_word(text: str) -> bool:
    """Text Rich lays out as one word on one line: printable, no spaces."""
    return text.isprintable() and not any(ch.isspace() for ch in text)


def columns_that_fit(view: MatrixView, precision: int, max_width: int) -> int:
    """How many of a windowed view's first columns one table ``max_width`` wide holds (at
    least one): a wider terminal shows more of a wide matrix, a narrow one fewer than the
    window, in one table rather than split over several."""
    n_cols = view.values.shape[1]
    most = min(n_cols, max(1, max_width // (1 + COLUMN_CHROME)))
    texts = format_matrix_cells(view.corner(most), precision)
    room = max_width - max([len(r) for r in view.rows[:view.window[0]]] + [1]) - LABEL_CHROME
    glyph = 1 if view.heat else 0                    # a heatmap cell's bar after its number
    fit, width = 1, -1                               # MatrixTable's width, less the labels
    for c in range(most):
        width += max([len(view.cols[c])] + [len(row[c]) + glyph for row in texts]) + COLUMN_CHROME
        if width > room:
            break
        fit = c + 1
    return fit


def matrix_tables(view: MatrixView, precision: int, max_width: int = 76) -> list[Group]:
    """The matrix as one table, or several when its columns do not fit ``max_width``
    (columns 1–8, 9–16, ...), each titled with the name and shape; a heatmap that fits with one
    space between its columns is drawn so, in one table. A windowed view (a corner
    of a large matrix) draws as many of its first columns as fit in one table (the window's
    rows), and its title says which ('X  6×50  (columns 1–13 of 50)')."""
    windowed = view.window is not None
    if windowed:
        view = view.corner(columns_that_fit(view, precision, max_width), at_least=False)
    cells = matrix_cells(view, precision)
    label_width = max([len(r) for r in view.rows] + [1])
    cell_width = max([len(c) for c in view.cols] + [t.cell_len for row in cells for t in row] + [1])
    n_cols = view.values.shape[1]
    per_table = n_cols if windowed else \
        max(1, (max_width - label_width - LABEL_CHROME) // (cell_width + COLUMN_CHROME))
    # a heatmap whose glyphs already part its numbers: one space between columns where that
    # keeps it in one table (an 8×8 head's weights at 80 columns), not 6 columns and then 2
    widths = [max([cell_len(name)] + [row[c].cell_len for row in cells])
              for c, name in enumerate(view.cols)]
    tight = (view.heat and per_table < n_cols
             and label_width + sum(width + 1 for width in widths) <= max_width)
    if tight:
        per_table = n_cols
    tables = []
    for start in range(0, n_cols, per_table):
        stop = min(n_cols, start + per_table)
        title = view.title(start, stop)
        caption = view.caption if stop == n_cols and view.caption else None
        # the title and caption are lines of their own, so a narrow last chunk is not
        # stretched to the title's width and a long title is not wrapped to the table's
        table = MatrixTable(view.cols[start:stop], view.rows,
                            [row[start:stop] for row in cells], tight)
        lines: list[RenderableType] = [Text(title, style="bold"), table]
        if caption:
            lines.append(Text(caption, style="dim italic"))
        tables.append(Group(*lines))
    return tables


def _legend_number(value: float, precision: int) -> str:
    """A heatmap legend's end: at ``precision`` like the cells, a whole number without decimals."""
    return format_number(value, precision, is_integral([value]))


def compact_heatmap(view: MatrixView, max_width: int = 76, precision: int = 2) -> Text:
    """A large matrix as one glyph per cell (▁ palest … █ darkest), a row per line, the
    title and the range (at ``precision``) in the first line. Columns beyond ``max_width``
    are cut and said so.

    In colour each cell is a solid block of its heat colour (the glyph is drawn in the
    cell's own colour, so the shade alone shows the value, on screen and in an exported
    picture); without colour the glyph carries the value. A bare view (a grid of small
    heatmaps) has no row labels, shape or range and draws each cell two characters wide when
    it fits, so the cells are about square."""
    label_width = 0 if view.bare else max([len(r) for r in view.rows] + [1])
    n_cols = view.values.shape[1]
    room = max_width - label_width - (0 if view.bare else 1)
    axis = view.bare and view.labelled and AXIS_LABEL + 1 + 2 * n_cols <= room
    if axis:                                       # short labels on both axes: cells 2 wide
        label_width = AXIS_LABEL
        room -= AXIS_LABEL + 1
    cell = 2 if view.bare and 2 * n_cols <= room else 1
    shown = max(1, min(n_cols, room // cell))
    lo, hi = view.heat_range
    fractions = view.heat_fractions()                                          # [rows, cols]
    text = Text(view.name if view.bare else f"{view.name}  {view.shape}", style="bold")
    if not view.bare:
        scale = ("▁ = 0 … █ = the row's largest" if view.row_scaled
                 else f"▁ = {_legend_number(lo, precision)} … █ = {_legend_number(hi, precision)}")
        text.append(f"  ({scale}"
                    + (f"; columns 1–{shown} of {n_cols}" if shown < n_cols else "") + ")",
                    style="dim")
    if axis:                                       # the keys' first letters, written downwards
        for line in range(max(min(len(c), AXIS_LABEL - 2) for c in view.cols[:shown])):
            text.append("\n" + " " * (label_width + 1), style="dim")
            text.append("".join((c[line] if line < len(c) else " ").ljust(cell)
                                for c in view.cols[:shown]).rstrip(), style="dim")
    for r, label in enumerate(view.rows):
        text.append("\n" + ("" if view.bare and not axis else
                            label[:label_width].ljust(label_width) + " "), style="dim")
        for c in range(shown):
            value = float(fractions[r, c])
            text.append(bar(value) * cell, style=glyph_style(value))
    if view.caption:
        text.append("\n" + view.caption, style="dim italic")
    return text


def chart_renderable(chart: Chart, precision: int, max_width: int = 76) -> RenderableType:
    """Horizontal bars scaled to the largest value, each with its number; the name above and
    the caption below as lines of their own, so that they wrap at ``max_width``, not at the
    width of the bars. A NaN or infinite value gets no bar (its number says what it is); the
    bars are scaled to the largest finite value. No values: the name alone."""
    values = np.asarray(chart.values, dtype=np.float64)
    numbers = [format_number(v, precision) for v in values]
    label_width = max((len(label) for label in chart.labels), default=0)
    number_width = max((len(n) for n in numbers), default=0)
    room = max(4, max_width - label_width - number_width - 4)
    finite = np.abs(values[np.isfinite(values)])
    top = float(np.max(finite)) if finite.size else 0.0
    if chart.full is not None:                                          # e.g. 1 for probabilities
        top = max(top, float(chart.full))
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="dim", no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    for label, value, number in zip(chart.labels, values, numbers):
        length = 0 if top == 0 or not np.isfinite(value) else int(round(abs(value) / top * room))
        table.add_row(Text(label), Text("█" * length, style="cyan"), number)
    lines: list[RenderableType] = [Text(chart.name, style="bold"), table]
    if chart.caption:
        lines.append(Text(chart.caption, style="dim italic"))
    return Group(*lines)


def break_long_paths(line: str, room: int) -> str:
    """``line`` with each path too long for ``room`` columns broken after a '/' onto lines of
    its own (indented as the line is), so that no file or folder name is cut in two; other
    text is left to Rich's word wrap."""
    if room < 20 or len(line) <= room:
        return line
    indent = line[:len(line) - len(line.lstrip())]
    out, width = [], room - len(indent)
    for word in re.split(r"(\s+)", line.strip()):
        if len(word) <= width or "/" not in word:
            out.append(word)
            continue
        pieces, current = [], ""
        for piece in re.findall(r"[^/]*/|[^/]+$", word):             # each ends at a '/'
            if current and len(current) + len(piece) > width:
                pieces.append(current)
                current = piece
            else:
                current += piece
        pieces.append(current)
        before = "".join(out).strip()
        out.append(("\n" + indent if before else "") + ("\n" + indent).join(pieces))
    return indent + "".join(out)


def part_renderable(part: Part, precision: int, width: int = 80, *,
                    listing: bool = False) -> RenderableType:
    inner = width - PANEL_CHROME
    items: list[RenderableType] = []
    if part.heading:
        items.append(Text(part.heading, style="bold magenta"))
    tables = [t for view in part.matrices if not view.compact
              for t in matrix_tables(view, precision, inner)]
    if tables:
        items.append(Columns(tables, padding=(0, 3)))
    compact = [compact_heatmap(view, inner, precision) for view in part.matrices if view.compact]
    if len(compact) == 1:
        items.append(compact[0])
    elif compact:                               # a grid of small heatmaps, as many a row as fit
        items.append(Columns(compact, padding=(0, 2)))
    for chart in part.charts:
        items.append(Padding(chart_renderable(chart, precision, inner), (1, 0, 0, 0)))
    if part.lines:
        from .lines import lines_text
        for view in part.lines:
            items.append(lines_text(view, inner))
    notes = Table.grid(padding=(0, 1))
    notes.add_column(style="bold", no_wrap=True)
    notes.add_column(overflow="fold")
    if listing:                                     # plain lines, then the paragraph under them
        for line in part.worked:
            items.append(Text(break_long_paths(line, inner)))
        if part.meaning:
            items.append(Padding(Text(break_long_paths(part.meaning, inner)), (1, 0, 0, 0)))
        return Group(*items)
    room = inner - len("Worked:") - 1               # the text column beside the labels
    for i, line in enumerate(part.worked):
        notes.add_row("Worked:" if i == 0 else "", Text(break_long_paths(line, room)))
    if part.meaning:
        notes.add_row("Means:", Text(break_long_paths(part.meaning, room)))
    items.append(Padding(notes, (1, 0, 0, 0)))
    return Group(*items)


def step_panel(step: Step, total: int, precision: int, width: int = 80, *,
               listing: bool = False) -> Panel:
    """One step: formula, its matrices with shapes, the worked cell and the meaning. In a
    listing (``Document.listing``) one section titled by its name, its lines as they are."""
    items: list[RenderableType] = [Text(step.formula, style="bold cyan")] if step.formula else []
    for part in step.parts:
        if items:
            items.append(Text(""))
        items.append(part_renderable(part, precision, width, listing=listing))
    title = step.title if listing else f"Step {step.number} of {total} · {step.title}"
    return Panel(Group(*items), title=Text(title), title_align="left", box=box.ROUNDED,
                 padding=(0, 1))


def document_renderables(doc: Document, precision: int, width: int = 80,
                         steps: list[Step] | None = None) -> list[RenderableType]:
    """The heading, then one panel per step (all steps, or the ones given)."""
    return list(iter_document_renderables(doc, precision, width, steps))


def _heading(doc: Document) -> Text:
    """The document's title, and under it its subtitle or its sizes."""
    heading = Text(doc.title, style="bold")
    settings = doc.settings
    facts = [count(len(doc.tokens), "token"), f"d_model = {settings.get('d_model')}"]
    heads = settings.get("heads", 1)
    if heads > 1 and "d_k" in settings:                                # dk is what each head uses
        facts.append(f"{heads} heads, d_k = {settings['d_k'] // heads} each")
    elif "d_k" in settings:
        facts.append(f"d_k = {settings['d_k']}")
    elif heads > 1:
        facts.append(count(heads, "head"))
    heading.append("\n" + (doc.subtitle or ", ".join(facts)), style="dim")
    return heading


def iter_document_renderables(doc: Document, precision: int, width: int = 80,
                              steps: list[Step] | None = None):
    """:func:`document_renderables` one at a time, each step's panel built when it is asked
    for: a long document starts printing at once instead of after every step is laid out."""
    yield _heading(doc)
    for step in steps or doc.steps:
        yield step_panel(step, len(doc.steps), precision, width, listing=doc.listing)
