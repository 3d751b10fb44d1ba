"""Trial finding 5: with --pause at 80×24 no step is taller than the screen: a step longer than
what is left of the terminal is shown a page at a time, so its top never scrolls away unread."""

import pytest
from click.testing import CliRunner

from tutor.cli import cli
from tutor.cli import output as output_module

ROWS = 24
MARK = "<<Enter>>"


@pytest.fixture
def terminal(monkeypatch):
    """Output behaves as on a 24-row terminal; each wait prints a marker line, as the prompt
    and the Enter key take one line on a real terminal."""
    monkeypatch.setattr(output_module.Output, "interactive", property(lambda self: True))
    waits = []

    def wait(self, prompt):
        waits.append(prompt)
        self.console.print(MARK)

    monkeypatch.setattr(output_module.Output, "wait", wait)
    return waits


def pages(*args):
    result = CliRunner().invoke(cli, [*args, "--pause", "--format", "plain"],
                                env={"NO_COLOR": None, "COLUMNS": "80", "LINES": str(ROWS)},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output.rstrip("\n").split(MARK + "\n")


@pytest.mark.parametrize("args", [
    ["attention", "the cat sat"],
    ["attention", "the cat sat on the mat", "--embeddings", "glove"],
    ["multihead", "the cat sat", "--heads", "2"],
    ["generate", "3 1 4", "--beam", "4"],
    ["backward", "the cat sat"],
])
def test_no_page_is_taller_than_the_terminal(terminal, args):
    shown = pages(*args)
    assert len(shown) > 1
    for page in shown:
        assert len(page.splitlines()) <= ROWS - 1, page           # and the prompt's line
    assert any(prompt == output_module.MORE for prompt in terminal)   # a step was paged
    assert sum(prompt == output_module.NEXT_STEP for prompt in terminal) >= 1


def test_every_line_is_shown_once(terminal):
    plain = CliRunner().invoke(cli, ["attention", "the cat sat", "--format", "plain"],
                               env={"NO_COLOR": None, "COLUMNS": "80"}).output
    assert "".join(pages("attention", "the cat sat")) + "\n" == plain


def test_the_commands_page_with_the_lessons_pager(terminal, monkeypatch):
    """One pager: --pause and the lessons both page through render.pager.Pager."""
    from tutor.lessons.session import Screen
    from tutor.render.pager import Pager

    assert issubclass(Screen, Pager)
    printed = []
    original = Pager.print
    monkeypatch.setattr(Pager, "print", lambda self, r: printed.append(r) or original(self, r))
    shown = pages("attention", "the cat sat")
    assert len(printed) == len(shown) - terminal.count(output_module.MORE) + 1 > 2
