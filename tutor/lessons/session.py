"""Showing a lesson: all of it at once (``--no-input``), checking scripted answers
(``--answer``), or step by step with questions (interactive).

The session prints through a Rich console and reads lines through a function that raises
EOFError at the end of input; it saves progress after every finished step.
"""

from __future__ import annotations

from dataclasses import dataclass

from tutor.render import lesson as view

from .answers import AnswerError, check_number, format_value, parse_choice
from .compute import ComputeError, Result, expected, fill, run_lesson_computation

MAX_MISSES = 3            # wrong answers before the answer is shown
MIN_OWN_WORDS = 2         # the learner's own sentence: one word could attend only to itself
COMMANDS_HELP = "h hint · r reveal · q quit"


class Quit(Exception):
    """The learner asked to stop (q, end of input or Ctrl-C); progress is already saved."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason            # "quit", "eof" or "interrupt"


class Session:
    """One lesson's computations, run once each, with the learner's own inputs."""

    def __init__(self, lesson, inputs: dict[str, str] | None = None):
        self.lesson = lesson
        self.inputs = dict(inputs or {})
        self.results: dict[str, Result] = {}

    def compute(self, step) -> Result:
        if step.id not in self.results:
            sentence = self.inputs.get(step.id) if step.ask else None
            try:
                self.results[step.id] = run_lesson_computation(step, sentence)
            except ComputeError:
                if sentence is None:
                    raise
                self.results[step.id] = run_lesson_computation(step)       # a stored input no longer valid
        return self.results[step.id]

    def prepare(self, upto: int) -> None:
        """Run every computation before step ``upto`` (to resume in the middle)."""
        for step in self.lesson.steps[:upto]:
            if step.kind == "compute":
                self.compute(step)

    def text(self, text: str) -> str:
        return fill(text, self.results)

    def expected(self, step) -> float:
        return expected(step, self.results)

    def answer_text(self, step) -> str:
        if step.kind == "choice":
            i = step.correct_index()
            return f"{step.correct}) {step.choices[i]}"
        value = self.expected(step)
        return f"{format_value(value, step.tolerance)} (from {step.answer}, ±{step.tolerance:g})"

    def question_number(self, step) -> tuple[int, int]:
        questions = self.lesson.questions
        return questions.index(step) + 1, len(questions)


def _show_step(console, session: Session, index: int, width: int, rule: bool = True) -> None:
    lesson = session.lesson
    step = lesson.steps[index]
    if rule:
        console.print(view.step_rule(lesson, index))
    if step.kind == "prose":
        console.print(view.prose(session.text(step.text)))
    elif step.kind == "compute":
        if step.text:
            console.print(view.prose(session.text(step.text)))
        result = session.compute(step)
        for renderable in view.computation(result.document, step.show, step.title, width=width):
            console.print(renderable)
    else:
        number, total = session.question_number(step)
        console.print(view.question(step, session.text(step.question), number, total))


def print_lesson(console, lesson, total: int, start: int = 0, width: int = 80) -> None:
    """Every step from ``start`` with the expected answers (``--no-input``)."""
    session = Session(lesson)
    session.prepare(start)
    console.print(view.lesson_heading(lesson, total))
    for index in range(start, len(lesson.steps)):
        step = lesson.steps[index]
        console.print()
        _show_step(console, session, index, width)
        if step.is_question:
            console.print(view.answer_key(step, session.answer_text(step),
                                          [session.text(h) for h in step.hints],
                                          session.text(step.explain)))


@dataclass
class Checked:
    step: str
    correct: bool
    message: str


def check_answers(lesson, answers: dict[str, str]) -> list[Checked]:
    """Check scripted answers {step id: text}; the ids and the syntax are checked before."""
    session = Session(lesson)
    session.prepare(len(lesson.steps))
    out = []
    for step in lesson.steps:
        if step.id not in answers:
            continue
        text = answers[step.id]
        if step.kind == "choice":
            ok = parse_choice(text, len(step.choices)) == step.correct_index()
            out.append(Checked(step.id, ok, f"{step.id}: {text.strip()} is "
                                            f"{'right' if ok else 'wrong'}"))
        else:
            verdict = check_number(text, session.expected(step), step.tolerance)
            tol = f"{step.tolerance:g}"
            out.append(Checked(step.id, verdict.correct,
                               f"{step.id}: {text.strip()} is "
                               f"{'right' if verdict.correct else 'wrong'} (checked to ±{tol})"))
    return out


class Interactive:
    """Step by step: show, wait, ask; save after every finished step."""

    def __init__(self, console, lesson, total: int, progress, read, width: int = 80):
        self.console = console
        self.lesson = lesson
        self.total = total
        self.progress = progress
        self.read = read                  # read(prompt) -> str; raises EOFError, KeyboardInterrupt
        self.width = width
        inputs = {s.id: progress.input(lesson.id, s.id) for s in lesson.steps if s.ask}
        self.session = Session(lesson, {k: v for k, v in inputs.items() if v is not None})

    def ask(self, prompt: str) -> str:
        try:
            return self.read(prompt)
        except EOFError:
            raise Quit("eof") from None
        except KeyboardInterrupt:
            raise Quit("interrupt") from None

    def run(self, start: int) -> None:
        """From step ``start`` to the end of the lesson; raises Quit when the learner stops."""
        self.session.prepare(start)
        self.console.print(view.lesson_heading(self.lesson, self.total))
        for index in range(start, len(self.lesson.steps)):
            step = self.lesson.steps[index]
            self.console.print()
            if step.kind == "compute" and step.ask:
                self.console.print(view.step_rule(self.lesson, index))  # the heading, then ask
                self.ask_input(step)
                _show_step(self.console, self.session, index, self.width, rule=False)
            else:
                _show_step(self.console, self.session, index, self.width)
            if step.is_question:
                state = self.question(step)
            else:
                reply = self.ask("Enter to continue, q to quit: ").strip().lower()
                if reply in ("q", "quit"):
                    raise Quit("quit")
                state = "seen"
            self.progress.mark(self.lesson.id, step.id, state)
        self.console.print()
        self.console.print(view.feedback("right", f"Lesson {self.lesson.number} is complete."))

    def ask_input(self, step) -> None:
        default = step.args.get("sentence", "")
        self.console.print(view.prose(self.session.text(step.ask)))
        while True:
            reply = self.ask(f"Your sentence (Enter for \"{default}\"): ").strip()
            if reply.lower() in ("q", "quit"):
                raise Quit("quit")
            sentence = reply or default
            if len(sentence.split()) < MIN_OWN_WORDS:                  # attention needs two to compare
                self.console.print(view.feedback(
                    "error", f"That does not work: expected at least {MIN_OWN_WORDS} words, got "
                             f"{len(sentence.split())}."))
                continue
            try:
                self.session.results.pop(step.id, None)
                self.session.results[step.id] = run_lesson_computation(step, sentence)
            except ComputeError as exc:
                self.console.print(view.feedback("error", f"That does not work: {exc}."))
                continue
            self.session.inputs[step.id] = sentence
            self.progress.set_input(self.lesson.id, step.id, sentence)
            return

    def question(self, step) -> str:
        hints = [self.session.text(h) for h in step.hints]
        shown = misses = 0
        while True:
            reply = self.ask(f"Your answer ({COMMANDS_HELP}): ").strip()
            word = reply.lower()
            if word in ("q", "quit"):
                raise Quit("quit")
            if word in ("h", "hint"):
                if shown < len(hints):
                    self.console.print(view.feedback("hint", f"Hint {shown + 1} of "
                                                             f"{len(hints)}: {hints[shown]}"))
                    shown += 1
                else:
                    self.console.print(view.feedback("info", "No more hints; r shows the "
                                                             "answer."))
                continue
            if word in ("r", "reveal"):
                self.reveal(step, "Here it is")
                return "revealed"
            if not reply:
                continue
            try:
                if step.kind == "choice":
                    right = parse_choice(reply, len(step.choices)) == step.correct_index()
                else:
                    right = check_number(reply, self.session.expected(step),
                                         step.tolerance).correct
            except AnswerError as exc:
                self.console.print(view.feedback("error", f"{str(exc).capitalize()}."))
                continue
            if right:
                self.console.print(view.feedback("right", "Right: " +
                                                 self.session.answer_text(step)))
                self.explain(step)
                return "answered"
            misses += 1
            if misses >= MAX_MISSES:
                self.reveal(step, f"Not quite, {misses} times")
                return "revealed"
            left = MAX_MISSES - misses
            extra = " Type h for a hint." if shown < len(hints) else ""
            self.console.print(view.feedback(
                "wrong", f"Not quite. {left} more {'try' if left == 1 else 'tries'} before the "
                         f"answer is shown.{extra}"))

    def reveal(self, step, why: str) -> None:
        self.console.print(view.feedback("reveal", f"{why}: the answer is "
                                                   f"{self.session.answer_text(step)}"))
        self.explain(step)

    def explain(self, step) -> None:
        if step.explain:
            self.console.print(view.prose(self.session.text(step.explain)))
