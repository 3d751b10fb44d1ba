"""Take a transcript of one lesson in a real 40-row terminal (tmux, 80×40): every screen the
learner sees while the tutor waits, with what was typed next. Run from the project root:

    python tests/lesson_shots.py architecture-80x40.txt

(needs tmux; the progress goes to a temporary folder). Not a test: tests/test_lesson_terminal.py
checks the same things with assertions."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tmux_terminal import HEIGHT, WIDTH, Terminal  # noqa: E402

from tutor.lessons.course import load_course  # noqa: E402
from tutor.lessons.session import Session  # noqa: E402


def replies() -> list[str]:
    """The architecture lesson: prose and computations by Enter; the GELU answer with a
    decimal comma; a wrong choice first (its note), the layer output as shown (2 decimals);
    then the review of the missed question."""
    lesson = load_course().find("architecture")
    session = Session(lesson)
    session.prepare(len(lesson.steps))
    out_width = session.expected(lesson.steps[lesson.step_index("q-out-width")])
    gelu = session.expected(lesson.steps[lesson.step_index("q-gelu")])
    return ["", "", "", "",                                   # stacks, inside, ffn, ffn-run
            f"{gelu:.2f}".replace(".", ","),                  # q-gelu: -0,08
            "a", "b",                                         # q-ffn-rows: wrong, then right
            "",                                               # one-layer
            f"{out_width:.2f}",                               # q-out-width, as shown
            "1", "b",                                         # q-encoder-parts, q-decoder-only
            "y", "b"]                                         # review q-ffn-rows


def main(target: str) -> None:
    state = Path(tempfile.mkdtemp()) / "state"
    shots = [f"`tutor lesson architecture` in a {WIDTH}×{HEIGHT} tmux pane (status line off), "
             f"taken by tests/lesson_shots.py. Each block is the whole screen while the tutor "
             f"waits; the line after it says what was typed.\n"]
    with Terminal(["lesson", "architecture"], state) as term:
        screen = term.wait_prompt()
        for n, reply in enumerate(replies(), 1):
            shots.append(f"{'=' * 30} screen {n} {'=' * 30}\n{screen.rstrip()}\n"
                         f">>> typed: {reply!r}" + (" (Enter)" if not reply else "") + "\n")
            before = term.history()
            term.type(reply)
            if n == len(replies()):
                screen = term.wait_for("__EXIT__")
            else:
                screen = term.wait_prompt(before)
        shots.append(f"{'=' * 30} the end {'=' * 30}\n{screen.rstrip()}\n")
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_text("\n".join(shots), encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "lesson-shots.txt")
