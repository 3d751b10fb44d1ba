"""How ``--help`` is laid out: Click's formatter, honouring a narrow terminal. Imports only
Click (``tutor --help`` stays cheap)."""

from __future__ import annotations

import re
import shutil

import click

HELP_MAX, HELP_MIN = 80, 40         # the columns --help is laid out in: COLUMNS within these


def help_width() -> int:
    """The width Click wraps ``--help`` to: the terminal's columns (``COLUMNS`` first) within
    HELP_MIN..HELP_MAX, less Click's margin of 2. Click's own floor is 50 whatever COLUMNS
    says, so help on a 40-column terminal ran past its edge; below 40 an option's text
    would get a handful of columns, so 40 is the floor."""
    columns = shutil.get_terminal_size().columns                 # COLUMNS, else the terminal
    return min(HELP_MAX, max(HELP_MIN, columns)) - 2


_ROW = re.compile(r"^(\s+)(\S.*?)\s{2,}(\S.*)$")          # "  term    what it does"


def is_command_line(line: str, previous: str = "") -> bool:
    """Whether ``line`` of a help text is a verbatim command (``tutor ...`` with no
    description beside it, or the continuation of one ending in a backslash): the one kind of
    line that may run past the help's width, since breaking it would change the command."""
    text = line.strip()
    return (text.startswith("tutor ") or previous.rstrip().endswith("\\")) and \
        not _ROW.match(line)


def fit_verbatim(text: str, width: int) -> str:
    """``text`` (a help text or epilog in Click's markup) with its ``\\b`` blocks fitted to
    ``width`` columns where a line would run past it: a run of unindented lines (prose) is
    rewrapped between words; an indented two-column row ("  term   what it does") keeps its
    term and gets its description on the lines below, indented; other indented lines wrap
    with a hanging indent. A verbatim command line (:func:`is_command_line`) is kept whole.
    A block whose lines all fit is left exactly as written."""
    import textwrap

    paragraphs = text.split("\n\n")
    out = []
    for paragraph in paragraphs:
        if not paragraph.startswith("\b\n"):
            out.append(paragraph)
            continue
        lines = paragraph[2:].split("\n")
        if all(len(line) <= width for line in lines):
            out.append(paragraph)
            continue
        fitted: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            if not line.startswith(" "):                                # a run of prose
                run = [line]
                while i + 1 < len(lines) and lines[i + 1] and not lines[i + 1].startswith(" "):
                    i += 1
                    run.append(lines[i])
                if any(len(item) > width for item in run):
                    fitted.extend(textwrap.wrap(" ".join(run), width, break_long_words=False,
                                                break_on_hyphens=False) or [""])
                else:
                    fitted.extend(run)
            elif len(line) <= width or is_command_line(line, lines[i - 1] if i else ""):
                fitted.append(line)
            else:
                row = _ROW.match(line)
                indent = len(line) - len(line.lstrip())
                if row:
                    fitted.append(row.group(1) + row.group(2))
                    fitted.extend(textwrap.wrap(row.group(3), width,
                                                initial_indent=" " * (indent + 4),
                                                subsequent_indent=" " * (indent + 4),
                                                break_long_words=False, break_on_hyphens=False))
                else:
                    fitted.extend(textwrap.wrap(line.strip(), width,
                                                initial_indent=" " * indent,
                                                subsequent_indent=" " * (indent + 2),
                                                break_long_words=False, break_on_hyphens=False))
            i += 1
        out.append("\b\n" + "\n".join(fitted))
    return "\n\n".join(out)


class TutorFormatter(click.HelpFormatter):
    """Click's formatter, whose option list gives its left column at most a third of the
    width (Click gives it up to 30 columns, which left 10 for the text at 40), breaks an
    option's signature wider than the help at its spaces, and fits the ``\\b`` blocks of
    help texts and epilogs to the width (:func:`fit_verbatim`)."""

    def write_dl(self, rows, col_max: int = 30, col_spacing: int = 2) -> None:
        room = self.width - self.current_indent
        split = []
        for term, *rest in rows:
            if len(term) > room and " " in term:                       # --format [rich|...]
                head, tail = term.split(" ", 1)
                split.append((head, ""))
                term = "  " + tail
            split.append((term, *rest))
        super().write_dl(split, col_max=min(col_max, max(12, self.width // 3)),
                         col_spacing=col_spacing)

    def write_text(self, text: str) -> None:
        super().write_text(fit_verbatim(text, self.width - self.current_indent))


class TutorContext(click.Context):
    formatter_class = TutorFormatter


class TutorCommand(click.Command):
    context_class = TutorContext


class TutorGroup(click.Group):
    context_class = TutorContext
    command_class = TutorCommand
