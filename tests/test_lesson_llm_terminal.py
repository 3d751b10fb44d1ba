"""The SmolLM2 lessons in a real terminal (tmux, 80×40): resuming at a question whose matrix
is a tall step's shows it again, the question and the row it asks about in view, live or from
the recording. Skipped where tmux is not installed."""

import pytest

from tmux_terminal import HEIGHT, Terminal, have_tmux

pytestmark = pytest.mark.skipif(not have_tmux(), reason="tmux is not installed")


@pytest.mark.parametrize("lesson, step, row", [
    ("real-llm", "q-sink-layer7", "layer 7"),                 # 6 rows of 30 layers, shown again
    ("weights-4bit", "q-error-x7", "error"),                  # the error row of x1 … x32
    ("tokens", "q-rank", "u + n"),
])
def test_resuming_at_a_question_keeps_its_matrix_in_view(tmp_path, lesson, step, row):
    with Terminal(["lesson", lesson, "--step", step], tmp_path / "state") as term:
        screen = term.wait_prompt(timeout=60)
        while "Your answer" not in screen:                    # a tall matrix: a page at a time
            before = term.history()
            term.type("")
            screen = term.wait_prompt(before, timeout=60)
        lines = screen.splitlines()
        assert len(lines) <= HEIGHT and all(len(line) <= 80 for line in lines)
        question = next(i for i, line in enumerate(lines) if "Question" in line)
        assert any(line.lstrip("│ ").startswith(row) for line in lines[:question]), screen
        term.type("q")
        term.wait_for("__EXIT__ 0")
