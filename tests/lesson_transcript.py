"""Take a transcript of one of the course's later lessons (default: generation) in a real
40-row terminal (tmux, 80×40), answering as a learner would: every screen the learner sees
while the tutor waits, with what was typed next. Run from the project root:

    python tests/lesson_transcript.py generation generation-80x40.txt

(needs tmux; progress goes to a temporary folder). Answers come from the engine (the
session's expected values, typed as shown on screen); one choice question is answered wrong
first to show its note, and one number as a percentage. Not a test."""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tmux_terminal import HEIGHT, WIDTH, Terminal  # noqa: E402

from tutor.lessons.course import load_course  # noqa: E402
from tutor.lessons.session import Session  # noqa: E402

WRONG_FIRST = {"q-third-reads": "d", "q-pattern": "a", "q-truck": "b", "q-saturate": "a",
               "q-members": "c", "q-same-offset": "b", "q-sink": "b"}
PERCENT = {"q-hot", "q-embed", "q-cat-dog"}


def answer_for(step, value) -> str:
    if step.kind == "choice":
        return step.correct
    if step.id in PERCENT:
        return f"{100 * value:.0f}%"
    return f"{value:.2f}" if not float(value).is_integer() else f"{value:.0f}"


def main(lesson_id: str, target: str) -> None:
    lesson = load_course().find(lesson_id)
    session = Session(lesson)
    session.prepare(len(lesson.steps))
    questions = lesson.questions
    state = Path(tempfile.mkdtemp()) / "state"
    shots = [f"`tutor lesson {lesson_id}` in a {WIDTH}×{HEIGHT} tmux pane (status line off), "
             f"taken by tests/lesson_transcript.py. Each block is the whole screen while the "
             f"tutor waits; the line after it says what was typed.\n"]
    tried: set[str] = set()
    with Terminal(["lesson", lesson_id], state) as term:
        screen = term.wait_prompt()
        for n in range(1, 200):
            last = screen.rstrip().splitlines()[-1]
            if last.startswith("Your answer"):
                number = int(re.findall(r"Question (\d+) of", screen)[-1])
                step = questions[number - 1]
                if step.id in WRONG_FIRST and step.id not in tried:
                    reply = WRONG_FIRST[step.id]
                    tried.add(step.id)
                else:
                    value = session.expected(step) if step.kind == "number" else None
                    reply = answer_for(step, value)
            elif last.startswith("Review"):
                reply = "n"
            else:
                reply = ""
            shots.append(f"{'=' * 30} screen {n} {'=' * 30}\n{screen.rstrip()}\n"
                         f">>> typed: {reply!r}" + (" (Enter)" if not reply else "") + "\n")
            before = term.history()
            term.type(reply)
            if last.startswith("Review"):
                screen = term.wait_for("__EXIT__")
                break
            screen = term.wait_prompt(before)
        shots.append(f"{'=' * 30} the end {'=' * 30}\n{screen.rstrip()}\n")
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_text("\n".join(shots), encoding="utf-8")
    print(f"wrote {target}: {len(shots) - 1} screens")


if __name__ == "__main__":
    main(*(sys.argv[1:3] if len(sys.argv) > 2 else ["generation", "generation-80x40.txt"]))
