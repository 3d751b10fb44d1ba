"""Lesson views: headings, prose (Markdown), computations, questions, feedback and the
progress table. Functions return Rich renderables; they never print and compute no model
math (every number shown is read from a computation's trace)."""

from __future__ import annotations

from dataclasses import replace

from rich import box
from rich.columns import Columns
from rich.console import Group, RenderableType
from rich.markdown import Markdown
from rich.panel import Panel
from rich.segment import Segment, Segments
from rich.table import Table
from rich.text import Text

from .console import chart_renderable, matrix_tables, step_panel
from .document import Chart, MatrixView, Part, Step

PANEL_CHROME = 4
PRECISION = 2              # the decimals a lesson's matrices are shown with


def oneline(text: str) -> str:
    """A TOML multi-line string as one paragraph (the console wraps it)."""
    return " ".join(text.split())


def lesson_heading(lesson, total: int) -> RenderableType:
    text = Text(f"Lesson {lesson.number} of {total} · {lesson.title}", style="bold")
    if lesson.summary:
        text.append("\n" + lesson.summary, style="dim")
    return text


def step_rule(lesson, index: int) -> Text:
    """'── 3/12 · scores ──' before each step, so a learner knows where they are."""
    step = lesson.steps[index]
    return Text(f"── {index + 1}/{len(lesson.steps)} · {step.id} ", style="dim")


def prose(text: str) -> RenderableType:
    return Markdown(text.strip())


def show_names(doc) -> list[str]:
    """The names a lesson's ``show = [...]`` may use for document ``doc``: step keys, and
    the matrix keys of a step that only shows matrices (one of them may be shown alone)."""
    names = []
    for step in doc.steps:
        keys = [step.key] + ([m.key for part in step.parts for m in part.matrices]
                             if not step.formula else [])
        names += [key for key in keys if key and key not in names]
    return names


def _shown(doc, show: list[str] | None) -> list:
    """The steps ``show`` names (all when None); a step of matrices only may also be shown
    with just the matrices it names."""
    if show is None:
        return list(doc.steps)
    steps = []
    for step in doc.steps:
        if step.key in show:
            steps.append(step)
        elif not step.formula:
            matrices = [m for part in step.parts for m in part.matrices if m.key in show]
            if matrices:
                steps.append(replace(step, parts=[Part("", matrices)]))
    return steps


def computation_parts(doc, show: list[str] | None, title: str = "",
                      precision: int = PRECISION,
                      width: int = 80) -> list[tuple[RenderableType, set[str]]]:
    """A lesson computation's document, the steps ``show`` names: a walkthrough's steps as
    step panels; steps of matrices only side by side in one panel, with the notes. Each as
    a (renderable, the trace names of the matrices in it) pair, so a session knows where
    each matrix was printed."""
    steps = _shown(doc, show)
    if all(step.formula for step in steps):
        out: list[tuple[RenderableType, set[str]]] = \
            [(Text(title, style="bold"), set())] if title else []
        return out + [(step_panel(s, len(doc.steps), precision, width), _keys([s]) | {s.key})
                      for s in steps]
    inner = width - PANEL_CHROME
    items: list[RenderableType] = [
        Columns([table for part in step.parts for view in part.matrices
                 for table in matrix_tables(view, precision, inner)], padding=(0, 3))
        for step in steps]
    if doc.notes:
        items.append(Text("\n".join(doc.notes), style="dim"))
    body = Group(*[part for i, item in enumerate(items)
                   for part in ((Text(""), item) if i else (item,))])
    return [(Panel(body, title=title or doc.command, title_align="left", box=box.ROUNDED,
                   padding=(0, 1)), _keys(steps))]


def _keys(steps) -> set[str]:
    return {name for step in steps for part in step.parts
            for view in [*part.matrices, *(part.charts if step.formula else [])]
            for name in _names(view.key)}


def _base(key: str) -> str:
    """A view's trace name without the slice a builder may add ('x[0, 1]' -> 'x')."""
    return key.split("[", 1)[0]


def _names(key: str) -> list[str]:
    """The trace names a view shows: one, or several stacked as its rows ('a.0.mean,a.1.mean',
    as generation's table of the layers)."""
    return _base(key).split(",")


def find_matrix(doc, show: list[str] | None, name: str) -> MatrixView | Chart | None:
    """The matrix (or the bar chart, in a walkthrough's step) showing trace entry ``name``
    among the steps ``show`` names, or None."""
    for step in _shown(doc, show):
        for part in step.parts:
            for matrix in part.matrices:
                if name in _names(matrix.key):
                    return matrix
            for chart in part.charts if step.formula else []:     # charts show in step panels
                if name in _names(chart.key):
                    return chart
    return None


def find_shown(doc, show: list[str] | None, name: str) -> MatrixView | Chart | Step | None:
    """What a question is answered from, among the steps ``show`` names: the matrix (or
    chart) showing trace entry ``name`` (:func:`find_matrix`), else the step (drawn as a
    panel) whose key is ``name``, such as a layer's heatmaps; or None."""
    found = find_matrix(doc, show, name)
    if found is not None:
        return found
    return next((step for step in _shown(doc, show) if step.key == name and step.formula),
                None)


def rendered_lines(lines) -> RenderableType:
    """Lines a console rendered (lists of segments), to print as they are, each ending its
    line: one page of a renderable taller than the terminal. Print it with end=""."""
    return Segments([segment for line in lines for segment in (*line, Segment.line())])


def view_title(view: MatrixView | Chart | Step, total: int = 0) -> str:
    """The first line a matrix (or chart) is printed with: 'weights  3×3'; a step's panel
    title, 'Step 2 of 6 · Layer 2 of 6' (``total``: the steps of its document)."""
    if isinstance(view, Step):
        return f"Step {view.number} of {total} · {view.title}"
    return view.name if isinstance(view, Chart) else f"{view.name}  {view.shape}"


def shown_again(matrix: MatrixView | Chart | Step, where: str, precision: int = PRECISION,
                width: int = 80, total: int = 0) -> RenderableType:
    """A matrix (or chart, or a step's panel: ``total`` the steps of its document) printed
    earlier, again beside its question (it has scrolled away, or the lesson resumed here)."""
    if isinstance(matrix, Step):
        body: RenderableType = step_panel(matrix, total, precision, width - PANEL_CHROME)
    elif isinstance(matrix, Chart):
        body = chart_renderable(matrix, precision, width - PANEL_CHROME)
    else:
        body = Columns(matrix_tables(matrix, precision, width - PANEL_CHROME), padding=(0, 3))
    return Panel(body, title=f"Shown again, from {where}", title_align="left",
                 box=box.ROUNDED, padding=(0, 1), border_style="dim")


def question(step, text: str, number: int, total: int, how: str = "") -> RenderableType:
    """The question, its choices, and how to answer (``how``; a default one without)."""
    items: list[RenderableType] = [Text(oneline(text))]
    if step.kind == "choice":
        choices = Table.grid(padding=(0, 1))
        choices.add_column(no_wrap=True)
        choices.add_column(overflow="fold")
        for i, choice in enumerate(step.choices):
            choices.add_row(f"  {chr(ord('a') + i)})", Text(oneline(choice)))
        items.append(choices)
    how = how or ("Answer with a letter." if step.kind == "choice" else
                  f"Answer with a number or a fraction such as 3/7 (checked to "
                  f"±{step.tolerance:g}).")
    items.append(Text(how, style="dim"))
    return Panel(Group(*items), title=f"Question {number} of {total}", title_align="left",
                 box=box.ROUNDED, padding=(0, 1), border_style="yellow")


def answer_key(step, answer_text: str, hints: list[str], explain: str) -> RenderableType:
    """Hints and the expected answer, for --no-input."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for i, hint in enumerate(hints):
        grid.add_row(f"Hint {i + 1}:", Text(oneline(hint)))
    grid.add_row("Answer:", Text(answer_text, style="green"))
    if explain:
        grid.add_row("Why:", Text(oneline(explain)))
    return grid


def feedback(kind: str, message: str) -> Text:
    styles = {"right": "bold green", "wrong": "bold red", "hint": "yellow", "reveal": "cyan",
              "info": "dim", "error": "red"}
    return Text(oneline(message), style=styles.get(kind, ""))


def score_text(score) -> str:
    """'7 of 9 right at the first try', or '' for a lesson without questions."""
    if not score.total:
        return ""
    text = str(score)
    if score.unanswered:
        text += f" ({score.unanswered} not answered yet)"
    if score.assumed:
        text += (f"; {score.assumed} answered before first tries were kept "
                 f"{'is' if score.assumed == 1 else 'are'} counted as right")
    return text


def score_cell(score) -> str:
    """The score column of the lesson list: right at the first try / questions, '' before
    any answer, '-' without questions."""
    if not score.total:
        return "-"
    if score.unanswered == score.total:
        return ""
    return f"{score.right}/{score.total}"


def progress_table(course, progress, current: tuple[str, str] | None = None, *,
                   width: int = 80):
    """Every lesson with its progress: the score (questions right at the first try, of all
    its questions) and ✓ when done, else a percentage of its steps. A course in parts gets a
    heading line per part ("Part 3 · From the 2017 Transformer ..."), each part a table with
    the same columns (one Rich renderable: a Group of tables). Narrower than 70 columns
    (``width``), the lessons' titles are left out: the ids name them; narrower than 56, the
    ids and the step counts give way to the titles, wrapped (the number opens a lesson), so
    that the score, the progress and the ← of where you are stay."""
    from rich.console import Group

    id_width = max(len("id"), *(len(lesson.id) for lesson in course.lessons))

    def new_table(header: bool) -> Table:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False,
                      pad_edge=False, header_style="bold", show_header=header)
        table.add_column("#", justify="right", no_wrap=True, min_width=2)
        if not narrow:
            table.add_column("id", no_wrap=True, min_width=id_width)
        if titled:
            table.add_column("lesson", ratio=1)
        for name, width in (("steps", 5), ("score", 5), ("done", 4)):  # the header's width, so
            if name != "steps" or not narrow:                          # every part's table
                table.add_column(name, justify="right", no_wrap=True,   # lines up
                                 min_width=width)
        table.add_column("", no_wrap=True, min_width=1)                # ← where you are
        return table

    narrow = width < 56                  # no room for the ids (21 wide) beside the progress
    titled = width >= 70 or narrow
    parts = len(course.parts) > 1
    tables = [] if parts else [new_table(True)]
    for lesson in course.lessons:
        part = course.part_starting_at(lesson) if parts else None
        if part is not None:
            heading = Text(("\n" if part.number > 1 else "") + f"Part {part.number} · ",
                           style="bold")
            heading.append(part.title, style="bold")
            tables += [heading, new_table(part.number == 1)]
        done = progress.done_count(lesson)
        n = len(lesson.steps)
        mark = "✓" if done == n else f"{100 * done // n}%"
        here = "←" if current and current[0] == lesson.id else ""
        named = [lesson.title] if narrow else \
            [lesson.id, lesson.title] if titled else [lesson.id]
        steps = [] if narrow else [str(n)]
        tables[-1].add_row(str(lesson.number), *named, *steps,
                           score_cell(progress.score(lesson)), mark, here)
    return tables[0] if len(tables) == 1 else Group(*tables)
