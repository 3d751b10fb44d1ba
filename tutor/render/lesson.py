"""Lesson views: headings, prose (Markdown), computations, questions, feedback and the
progress table. Functions return Rich renderables; they never print and compute no model
math (every number shown is read from a computation's trace)."""

from __future__ import annotations

import numpy as np
from rich import box
from rich.columns import Columns
from rich.console import Group, RenderableType
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .console import matrix_tables, step_panel
from .document import MatrixView

PANEL_CHROME = 4


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


def _as_matrix(values, rows, cols):
    """A trace array as a 2-D matrix: a batch of one dropped, the first head kept, a vector
    shown as one row."""
    values = np.asarray(values)
    while values.ndim > 2:
        values = values[0]
    if values.ndim == 1:
        values = values[None, :]
    if values.ndim == 0:
        values = values.reshape(1, 1)
    n_rows, n_cols = values.shape
    rows = rows if rows is not None and len(rows) == n_rows else [str(i + 1) for i in range(n_rows)]
    cols = cols if cols is not None and len(cols) == n_cols else [f"d{i + 1}" for i in range(n_cols)]
    return values, rows, cols


def computation(result, show: list[str] | None, title: str = "", precision: int = 2,
                width: int = 80) -> list[RenderableType]:
    """A computation's parts: walkthrough step panels (attention) or labelled matrices."""
    out: list[RenderableType] = []
    if result.document is not None:
        doc = result.document
        steps = [s for s in doc.steps if show is None or s.key in show]
        if title:
            out.append(Text(title, style="bold"))
        out += [step_panel(s, len(doc.steps), precision, width) for s in steps]
        return out
    groups: dict[str, list] = {}
    for view in result.views:
        if show is None or view.group in show or view.key in show:
            groups.setdefault(view.group or view.key, []).append(view)
    inner = width - PANEL_CHROME
    items: list[RenderableType] = []
    for views in groups.values():
        tables = []
        for view in views:
            values, rows, cols = _as_matrix(result.trace[view.key], view.rows, view.cols)
            matrix = MatrixView(view.name, view.key, values, rows, cols, heat=view.heat,
                                caption=view.caption)
            tables += matrix_tables(matrix, precision, inner)
        items.append(Columns(tables, padding=(0, 3)))
    if result.facts:
        items.append(Text("\n".join(result.facts), style="dim"))
    body = Group(*[part for i, item in enumerate(items)
                   for part in ((Text(""), item) if i else (item,))])
    out.append(Panel(body, title=title or result.name, title_align="left", box=box.ROUNDED,
                     padding=(0, 1)))
    return out


def question(step, text: str, number: int, total: int) -> RenderableType:
    """The question, its choices, and how to answer."""
    items: list[RenderableType] = [Text(oneline(text))]
    if step.kind == "choice":
        choices = Table.grid(padding=(0, 1))
        choices.add_column(no_wrap=True)
        choices.add_column(overflow="fold")
        for i, choice in enumerate(step.choices):
            choices.add_row(f"  {chr(ord('a') + i)})", Text(oneline(choice)))
        items.append(choices)
    how = ("Answer with a letter." if step.kind == "choice" else
           f"Answer with a number or a fraction such as 3/7 (checked to ±{step.tolerance:g}).")
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


def progress_table(course, progress, current: tuple[str, str] | None = None) -> Table:
    """Every lesson with its progress: ✓ when done, else a percentage of its steps."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("#", justify="right")
    table.add_column("id", no_wrap=True)
    table.add_column("lesson")
    table.add_column("steps", justify="right")
    table.add_column("done", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)                                 # ← marks where you are
    for lesson in course.lessons:
        done = progress.done_count(lesson)
        n = len(lesson.steps)
        mark = "✓" if done == n else f"{100 * done // n}%"
        here = "←" if current and current[0] == lesson.id else ""
        table.add_row(str(lesson.number), lesson.id, lesson.title, str(n), mark, here)
    return table
