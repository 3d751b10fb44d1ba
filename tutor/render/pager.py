"""A terminal of ``rows`` rows, paged: every line printed is counted, so a caller knows
whether something printed earlier is still on the screen, and a renderable taller than what
is left of the page is shown a page at a time, with a prompt between pages. Used by the
lessons (:mod:`tutor.lessons.session`) and by the commands' ``--pause``
(:func:`tutor.cli.output.show_paged`). Prints only through the console it is given."""

from __future__ import annotations

from .lesson import rendered_lines

MORE = "Enter for more, q to quit: "


class Pager:
    """What a terminal of ``rows`` rows shows: every line printed is counted, so the caller
    knows whether a matrix printed earlier is still on the screen, and a renderable taller
    than the page is shown a page at a time (``more`` between pages). ``ask(prompt) -> str``
    shows a one-line prompt and returns the reply; ``paging`` False never pauses (output to a
    pipe)."""

    def __init__(self, console, rows: int, ask, paging: bool = True, *, more: str = MORE):
        self.console = console
        self.rows = rows
        self.ask = ask
        self.paging = paging
        self.more = more
        self.line = 0                     # lines printed so far
        self.page_top = 0                 # the first line since the last prompt

    def height(self, renderable) -> int:
        return len(self.console.render_lines(renderable, self.console.options, pad=False))

    def blank(self) -> None:
        self.console.print()
        self.line += 1

    def print(self, renderable) -> int:
        """Print (pausing first if it would push the page past the terminal); return the
        line it starts on."""
        height = self.height(renderable)
        room = self.rows - 1                                           # the prompt's line
        if not self.paging:
            room = height
        elif self.line - self.page_top + height > room and self.line > self.page_top:
            self.pause()
        top = self.line
        if height <= room:
            self.console.print(renderable)
            self.line += height
            return top
        lines = self.console.render_lines(renderable, self.console.options, pad=False)
        while lines:                                                   # taller than a page
            chunk, lines = lines[:room - (self.line - self.page_top)], \
                lines[room - (self.line - self.page_top):]
            self.console.print(rendered_lines(chunk), end="")
            self.line += len(chunk)
            if lines:
                self.pause()
        return top

    def pause(self) -> str:
        """Wait between two pages of one renderable; the reply."""
        return self.prompt(self.more)

    def prompt(self, text: str) -> str:
        reply = self.ask(text)
        self.line += 1
        self.page_top = self.line
        return reply

    def new_page(self) -> None:
        """Start a page here: what was printed before may scroll away unpaused (the
        lesson's heading does, rather than pausing a step that fits on its own)."""
        self.page_top = self.line

    def says(self, renderable) -> None:
        """Feedback between prompts (never paused)."""
        self.console.print(renderable)
        self.line += self.height(renderable)

    def visible(self, top: int, more: int) -> bool:
        """Whether line ``top`` is still on the screen after ``more`` lines and a prompt."""
        return top >= self.line + more + 1 - self.rows
