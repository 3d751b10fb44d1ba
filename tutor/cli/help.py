"""How ``--help`` is laid out: Click's formatter, honouring a narrow terminal. Imports only
Click (``tutor --help`` stays cheap)."""

from __future__ import annotations

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


class TutorFormatter(click.HelpFormatter):
    """Click's formatter, whose option list gives its left column at most a third of the
    width (Click gives it up to 30 columns, which left 10 for the text at 40)."""

    def write_dl(self, rows, col_max: int = 30, col_spacing: int = 2) -> None:
        super().write_dl(rows, col_max=min(col_max, max(12, self.width // 3)),
                         col_spacing=col_spacing)


class TutorContext(click.Context):
    formatter_class = TutorFormatter


class TutorCommand(click.Command):
    context_class = TutorContext


class TutorGroup(click.Group):
    context_class = TutorContext
    command_class = TutorCommand
