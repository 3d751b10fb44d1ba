"""Showing a lesson: all of it at once (``--no-input``), checking scripted answers
(``--answer``), or step by step with questions (interactive).

The session prints through a Rich console and reads lines through a function that raises
EOFError at the end of input; it saves progress after every finished step, a question with
its first-try outcome (:meth:`tutor.lessons.progress.Progress.mark`).

A learner's screen (:class:`Screen`): every printed line is counted against the terminal's
height (40 rows when the output is not a terminal). A step taller than the terminal pauses
("Enter for more") when paging is on (a terminal, or $LINES); a question whose matrix is no
longer on the screen, or was printed before the lesson resumed, shows it again above the
question. Answers are checked by :mod:`tutor.lessons.answers` with the lesson's
``tolerance``, ``shown_decimals`` and ``rel_tolerance``; a wrong choice gets the lesson's
``feedback`` note. The end of a lesson shows the score (questions right at the first try)
and offers to review the questions missed; ``tutor lesson N --review`` does that later.
What the learner reads names matrices as shown (``weights, row the, column sat``), never a
trace name or a reference.
"""

from __future__ import annotations

from dataclasses import dataclass

from tutor.render import lesson as view
from tutor.render.document import Chart, MatrixView
from tutor.render.pager import Pager

from .answers import AnswerError, accepted_within, check_choice, check_number, format_value
from .compute import Result, run_lesson_computation
from .references import ComputeError, axis_labels, expected, fill, locate, parse_reference

ASSUMED_ROWS = 40          # a terminal's height when the output is not a terminal
MIN_ROWS = 12             # never page shorter than this (a tiny window still works)
MAX_MISSES = 3            # wrong answers before the answer is shown
MIN_OWN_WORDS = 2         # the learner's own sentence: one word could attend only to itself
COMMANDS_HELP = "h hint · r reveal · q quit"


class Quit(Exception):
    """The learner asked to stop (q, end of input or Ctrl-C); progress is already saved."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason            # "quit", "eof" or "interrupt"


def _label(labels, i: int, size: int, result: Result) -> str:
    """The label of index ``i`` on an axis of ``size``: its own, else the tokens (when
    they fit), else d1, d2, ... (as references read them)."""
    if labels is not None:
        return str(labels[i])
    if len(result.tokens) == size:
        return result.tokens[i]
    return f"d{i + 1}"


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

    def within(self, step) -> float:
        """The largest difference from the engine's value that is accepted."""
        return accepted_within(self.expected(step), step.tolerance,
                               shown_decimals=step.shown_decimals,
                               rel_tolerance=step.rel_tolerance)

    def checked_to(self, step) -> str:
        """'±0.01', as the learner is told."""
        return f"±{self.within(step):g}"

    def check(self, step, text: str):
        """The verdict on ``text`` (raises AnswerError for text that is not an answer)."""
        if step.kind == "choice":
            return check_choice(text, len(step.choices), step.correct_index(),
                                feedback=step.feedback)
        return check_number(text, self.expected(step), step.tolerance,
                            shown_decimals=step.shown_decimals,
                            rel_tolerance=step.rel_tolerance)

    def how_to_answer(self, step) -> str:
        if step.kind == "choice":
            return "Answer with a letter."
        return (f"Answer with a number: 0.42 or 0,42, 42%, a fraction such as 3/7 "
                f"(checked to {self.checked_to(step)}).")

    def about(self, step) -> tuple[str, str] | None:
        """(compute step id, trace name) of the matrix a question is answered from."""
        if not step.about_ref:
            return None
        ref = parse_reference(step.about_ref)
        return ref.step, ref.name

    def about_matrix(self, step):
        """The matrix a question is answered from, as its computation showed it, or None."""
        about = self.about(step)
        if about is None or about[0] not in self.results:
            return None
        compute_step = self.lesson.steps[self.lesson.step_index(about[0])]
        return view.find_shown(self.results[about[0]].document, compute_step.show, about[1])

    def shown_again(self, step, width: int):
        """The question's matrix again, saying which step showed it."""
        about = self.about(step)
        index = self.lesson.step_index(about[0])
        compute_step = self.lesson.steps[index]
        where = f"step {index + 1} of {len(self.lesson.steps)}" + \
            (f": {compute_step.title}" if compute_step.title else "")
        total = len(self.results[about[0]].document.steps)
        return view.shown_again(self.about_matrix(step), where, width=width, total=total)

    def place(self, step) -> str:
        """Where the answer is read, in the learner's words: 'weights, row the, column
        sat' (the matrix's shown name and labels, never a trace name)."""
        ref = parse_reference(step.answer)
        result = self.results[ref.step]
        array, index = locate(result, ref)
        matrix = self.about_matrix(step) if self.about(step) == (ref.step, ref.name) else None
        labels = axis_labels(result, ref.name, array.shape)
        words = []
        lead = index[:-2] if len(index) > 2 else ()
        tail = index[len(lead):]
        stacked = (matrix.key.split("[", 1)[0].split(",") if isinstance(matrix, MatrixView)
                   else [])                     # one row per trace name (generation's layers)
        if len(stacked) > 1 and ref.name in stacked and len(tail) == 1 \
                and matrix.values.shape[-1] == array.shape[-1]:
            return (f"{matrix.name}, row {matrix.rows[stacked.index(ref.name)]}, column "
                    f"{matrix.cols[tail[0]]}")
        if isinstance(matrix, MatrixView) and all(i == 0 for i in lead) and len(tail) == 2 \
                and matrix.values.shape == array.shape[len(lead):]:
            row_labels, col_labels = matrix.rows, matrix.cols       # its name says the head
        elif len(index) == 1 and isinstance(matrix, Chart) and len(matrix.labels) == len(array):
            return f"{matrix.name}, {matrix.labels[index[0]]}"      # a chart: one bar each
        elif len(index) == 1 and isinstance(matrix, MatrixView) and \
                matrix.values.shape == (1, len(array)):
            return f"{matrix.name}, column {matrix.cols[index[0]]}"  # a vector shown as a row
        else:
            row_labels = col_labels = matrix = None
            for axis, i in enumerate(lead):
                words.append(str(labels[axis][i]) if labels[axis] is not None else f"{i + 1}")
        if len(tail) == 2:
            rows, cols = array.shape[-2:]
            row = row_labels[tail[0]] if row_labels else _label(labels[-2], tail[0], rows,
                                                                 result)
            col = col_labels[tail[1]] if col_labels else _label(labels[-1], tail[1], cols,
                                                                 result)
            words += [f"row {row}", f"column {col}"]
        elif len(tail) == 1:
            words.append(f"entry {_label(labels[-1], tail[0], array.shape[-1], result)}")
        name = matrix.name if matrix is not None else ref.name.rsplit(".", 1)[-1]
        return ", ".join([name] + words)

    def answer_text(self, step) -> str:
        if step.kind == "choice":
            i = step.correct_index()
            return f"{step.correct}) {step.choices[i]}"
        value = self.expected(step)
        shown = format_value(value, min(step.tolerance, self.within(step)))
        return f"{shown} ({self.place(step)}; checked to {self.checked_to(step)})"

    def question_number(self, step) -> tuple[int, int]:
        questions = self.lesson.questions
        return questions.index(step) + 1, len(questions)


def step_items(session: Session, index: int, width: int,
               rule: bool = True) -> list[tuple[object, set[str]]]:
    """What step ``index`` prints, as (renderable, trace names of the matrices in it)."""
    lesson = session.lesson
    step = lesson.steps[index]
    items: list[tuple[object, set[str]]] = []
    if rule:
        items.append((view.step_rule(lesson, index), set()))
    if step.kind == "prose":
        items.append((view.prose(session.text(step.text)), set()))
    elif step.kind == "compute":
        if step.text:
            items.append((view.prose(session.text(step.text)), set()))
        result = session.compute(step)
        items += view.computation_parts(result.document, step.show, step.title, width=width)
    else:
        number, total = session.question_number(step)
        items.append((view.question(step, session.text(step.question), number, total,
                                    session.how_to_answer(step)), set()))
    return items


def print_lesson(console, lesson, total: int, start: int = 0, width: int = 80) -> None:
    """Every step from ``start`` with the expected answers (``--no-input``). A question whose
    matrix was printed before ``start`` gets it again."""
    session = Session(lesson)
    session.prepare(start)
    console.print(view.lesson_heading(lesson, total))
    printed: set[str] = set()                       # compute steps printed here
    for index in range(start, len(lesson.steps)):
        step = lesson.steps[index]
        console.print()
        items = step_items(session, index, width)
        if step.kind == "compute":
            printed.add(step.id)
        if step.is_question and session.about(step) and session.about(step)[0] not in printed:
            items.insert(1, (session.shown_again(step, width), set()))
        for renderable, _ in items:
            console.print(renderable)
        if step.is_question:
            console.print(view.answer_key(step, session.answer_text(step),
                                          [session.text(h) for h in step.hints],
                                          session.text(step.explain)))


def lesson_page(lesson, total: int, width: int = 80, course: str = "",
                session: Session | None = None) -> str:
    """The whole lesson as one offline HTML page (``tutor lesson N --html FILE``): every
    step in order, each computation's pictures as the session prints them
    (:func:`tutor.render.lesson.computation_parts`, the steps its ``show`` names), and each
    question with its choices, hints and answer (:meth:`Session.answer_text`) behind a click
    (:class:`tutor.render.lesson_page.LessonPage`). A step that asks for the learner's own
    sentence shows the lesson's example. ``session``: one whose computations ran already
    (a new one by default). Reads no progress and saves none."""
    from tutor.render.lesson_page import LessonPage

    session = session or Session(lesson)
    session.prepare(len(lesson.steps))
    page = LessonPage(lesson.number, total, lesson.title, lesson.summary, len(lesson.steps),
                      course=course, width=width)
    for step in lesson.steps:
        if step.kind == "prose":
            page.prose(step.id, session.text(step.text))
        elif step.kind == "compute":
            result = session.compute(step)
            parts = view.computation_parts(result.document, step.show, step.title, width=width)
            page.computation(step.id, session.text(step.text) if step.text else "",
                             [renderable for renderable, _ in parts], ask=step.ask,
                             sentence=str(step.args.get("sentence", "")))
        else:
            number, count = session.question_number(step)
            about = session.about(step)
            where = None
            if about is not None:
                shown = lesson.step_index(about[0])
                title = lesson.steps[shown].title
                where = (about[0], f"step {shown + 1}" + (f", {title}" if title else ""))
            how = ("Choose one." if step.kind == "choice" else
                   f"A number, checked to {session.checked_to(step)}.")
            page.question(step.id, number, count, session.text(step.question),
                          choices=step.choices, how=how,
                          hints=[session.text(h) for h in step.hints],
                          answer=session.answer_text(step), explain=session.text(step.explain),
                          feedback={str(k).strip().lower(): session.text(v)
                                    for k, v in step.feedback.items()},
                          about=where)
    return page.html()


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
            verdict = session.check(step, text)
            note = f" ({verdict.note})" if verdict.note else ""
            out.append(Checked(step.id, verdict.correct,
                               f"{step.id}: {text.strip()} is "
                               f"{'right' if verdict.correct else 'wrong'}{note}"))
        else:
            verdict = session.check(step, text)
            out.append(Checked(step.id, verdict.correct,
                               f"{step.id}: {text.strip()} is "
                               f"{'right' if verdict.correct else 'wrong'} (checked to "
                               f"{session.checked_to(step)})"))
    return out


class Screen(Pager):
    """A learner's screen: a :class:`~tutor.render.pager.Pager` at least ``MIN_ROWS`` high
    whose "Enter for more" prompt also takes q to quit."""

    def __init__(self, console, rows: int, ask, paging: bool = True):
        super().__init__(console, max(MIN_ROWS, rows), ask, paging)   # ask raises Quit

    def pause(self) -> str:
        reply = super().pause()
        if reply.strip().lower() in ("q", "quit"):
            raise Quit("quit")
        return reply


class Interactive:
    """Step by step: show, wait, ask; save after every finished step. At the end: the score,
    and an offer to review the questions missed."""

    def __init__(self, console, lesson, total: int, progress, read, width: int = 80,
                 rows: int = ASSUMED_ROWS, paging: bool = True):
        self.console = console
        self.lesson = lesson
        self.total = total
        self.progress = progress
        self.read = read                  # read(prompt) -> str; raises EOFError, KeyboardInterrupt
        self.width = width
        self.screen = Screen(console, rows, self.ask, paging)
        self.where: dict[str, dict[str, int]] = {}   # compute step -> matrix -> its first line
        inputs = {s.id: progress.input(lesson.id, s.id) for s in lesson.steps if s.ask}
        self.session = Session(lesson, {k: v for k, v in inputs.items() if v is not None})

    def ask(self, prompt: str) -> str:
        try:
            return self.read(prompt)
        except EOFError:
            raise Quit("eof") from None
        except KeyboardInterrupt:
            raise Quit("interrupt") from None

    def prompt(self, text: str) -> str:
        return self.screen.prompt(text)

    def say(self, renderable) -> None:
        self.screen.says(renderable)

    def run(self, start: int) -> None:
        """From step ``start`` to the end of the lesson; raises Quit when the learner stops."""
        self.session.prepare(start)
        self.say(view.lesson_heading(self.lesson, self.total))
        self.screen.new_page()
        for index in range(start, len(self.lesson.steps)):
            step = self.lesson.steps[index]
            self.screen.blank()
            if step.kind == "compute" and step.ask:
                self.screen.print(view.step_rule(self.lesson, index))  # the heading, then ask
                self.ask_input(step)
                self.show(index, rule=False)
            else:
                self.show(index)
            if step.is_question:
                state, first_try = self.question(step)
                self.progress.mark(self.lesson.id, step.id, state, first_try=first_try)
                continue
            reply = self.prompt("Enter to continue, q to quit: ").strip().lower()
            if reply in ("q", "quit"):
                raise Quit("quit")
            self.progress.mark(self.lesson.id, step.id, "seen")
        self.screen.blank()
        self.say(view.feedback("right", f"Lesson {self.lesson.number} is complete."))
        self.finish()

    def show(self, index: int, rule: bool = True) -> None:
        """Print a step, paging it; a question gets its matrix again when that is no longer
        on the screen (or was never shown in this run)."""
        step = self.lesson.steps[index]
        items = step_items(self.session, index, self.width, rule)
        if step.is_question and self.session.about_matrix(step) is not None:
            compute_id, name = self.session.about(step)
            top = self.where.get(compute_id, {}).get(name)
            more = sum(self.screen.height(renderable) for renderable, _ in items)
            if top is None or not self.screen.visible(top, more):
                items.insert(1 if rule else 0, (self.session.shown_again(step, self.width),
                                                set()))
        printed = [(self.screen.print(renderable), renderable, keys)
                   for renderable, keys in items]
        if step.kind == "compute":
            self.where[step.id] = self.matrix_lines(step, printed)

    def matrix_lines(self, step, printed) -> dict[str, int]:
        """The line on which each matrix of a computation starts (its title 'name  shape'),
        so a question knows whether that matrix is still on the screen."""
        document = self.session.results[step.id].document
        lines: dict[str, int] = {}
        for top, renderable, keys in printed:
            if not keys:
                continue
            texts = None
            for key in keys:
                matrix = view.find_shown(document, step.show, key)
                if matrix is None:
                    continue
                if texts is None:
                    texts = ["".join(seg.text for seg in line) for line in
                             self.console.render_lines(renderable, self.console.options,
                                                       pad=False)]
                title = view.view_title(matrix, len(document.steps))
                offset = next((i for i, text in enumerate(texts) if title in text), 0)
                lines[key] = top + offset
        return lines

    def ask_input(self, step) -> None:
        default = step.args.get("sentence", "")
        self.say(view.prose(self.session.text(step.ask)))
        while True:
            reply = self.prompt(f"Your sentence (Enter for \"{default}\"): ").strip()
            if reply.lower() in ("q", "quit"):
                raise Quit("quit")
            sentence = reply or default
            if len(sentence.split()) < MIN_OWN_WORDS:                  # attention needs two to compare
                self.say(view.feedback(
                    "error", f"That does not work: expected at least {MIN_OWN_WORDS} words, got "
                             f"{len(sentence.split())}."))
                continue
            try:
                self.session.results.pop(step.id, None)
                self.session.results[step.id] = run_lesson_computation(step, sentence)
            except ComputeError as exc:
                self.say(view.feedback("error", f"That does not work: {exc}."))
                continue
            self.session.inputs[step.id] = sentence
            self.progress.set_input(self.lesson.id, step.id, sentence)
            return

    def question(self, step) -> tuple[str, bool]:
        """Ask until right, revealed or MAX_MISSES wrong answers: (state, right at the first
        try). Hints do not count as misses."""
        hints = [self.session.text(h) for h in step.hints]
        shown = misses = 0
        while True:
            reply = self.prompt(f"Your answer ({COMMANDS_HELP}): ").strip()
            word = reply.lower()
            if word in ("q", "quit"):
                raise Quit("quit")
            if word in ("h", "hint"):
                if shown < len(hints):
                    self.say(view.feedback("hint", f"Hint {shown + 1} of "
                                                   f"{len(hints)}: {hints[shown]}"))
                    shown += 1
                else:
                    self.say(view.feedback("info", "No more hints; r shows the answer."))
                continue
            if word in ("r", "reveal"):
                self.reveal(step, "Here it is")
                return "revealed", False
            if not reply:
                continue
            try:
                verdict = self.session.check(step, reply)
            except AnswerError as exc:
                self.say(view.feedback("error", f"{str(exc)[:1].upper()}{str(exc)[1:]}."))
                continue
            if verdict.correct:
                after = (f" (on try {misses + 1}: the score counts first tries, so this "
                         "question stays on your review list)" if misses else "")
                self.say(view.feedback("right", "Right: " + self.session.answer_text(step)
                                       + after))
                self.explain(step)
                return "answered", misses == 0
            misses += 1
            note = verdict.note.rstrip(".")
            note = f" {note[0].upper()}{note[1:]}." if note else ""
            if misses >= MAX_MISSES:
                self.reveal(step, f"Not quite, {misses} times", note)
                return "revealed", False
            left = MAX_MISSES - misses
            extra = " Type h for a hint." if shown < len(hints) else ""
            self.say(view.feedback(
                "wrong", f"Not quite.{note} {left} more {'try' if left == 1 else 'tries'} "
                         f"before the answer is shown.{extra}"))

    def reveal(self, step, why: str, note: str = "") -> None:
        if note:
            self.say(view.feedback("wrong", note.strip()))
        self.say(view.feedback("reveal", f"{why}: the answer is "
                                         f"{self.session.answer_text(step)}"))
        self.explain(step)

    def explain(self, step) -> None:
        if step.explain:
            self.say(view.prose(self.session.text(step.explain)))

    # -- the end of a lesson: the score and a review ---------------------------------------
    def finish(self) -> None:
        """The score, then an offer to review the questions missed."""
        score = self.progress.score(self.lesson)
        text = view.score_text(score)
        if text:
            self.say(view.feedback("info" if score.missed else "right", f"Score: {text}."))
        missed = self.progress.missed_questions(self.lesson)
        if not missed:
            return
        numbers = [self.session.question_number(step)[0] for step in missed]
        which = _listed(numbers)
        count = "the question" if len(missed) == 1 else f"the {len(missed)} questions"
        if len(missed) == len(self.lesson.questions) and len(missed) > 1:
            which = "all of them"                                      # a list would pass 80 columns
        reply = self.prompt(f"Review {count} you missed ({which})? [y/N] ").strip().lower()
        if reply not in ("y", "yes"):
            return
        self.review(missed)

    def review_missed(self) -> None:
        """``tutor lesson N --review``: the score, then every question missed, asked again."""
        self.say(view.lesson_heading(self.lesson, self.total))
        missed = self.progress.missed_questions(self.lesson)
        text = view.score_text(self.progress.score(self.lesson))
        if text:
            self.say(view.feedback("info", f"Score: {text}."))
        if not missed:
            self.say(view.feedback("info", "Nothing to review: no question of this lesson "
                                           "was missed."))
            return
        self.review(missed)

    def review(self, missed) -> None:
        """Ask each missed question again, with the matrix it is answered from."""
        self.session.prepare(len(self.lesson.steps))
        for step in missed:
            self.screen.blank()
            self.show(self.lesson.step_index(step.id))
            state, first_try = self.question(step)
            self.progress.mark(self.lesson.id, step.id, state, first_try=first_try)
        left = self.progress.missed_questions(self.lesson)
        self.screen.blank()
        if left:
            numbers = [self.session.question_number(step)[0] for step in left]
            self.say(view.feedback("info", f"Reviewed. Still to review: "
                                           f"{_listed(numbers)} ('tutor lesson "
                                           f"{self.lesson.number} --review')."))
        else:
            self.say(view.feedback("right", "Reviewed: every question of this lesson is "
                                            "now answered right."))


def _listed(numbers: list[int]) -> str:
    """[2, 5, 7] -> 'questions 2, 5 and 7'."""
    if len(numbers) == 1:
        return f"question {numbers[0]}"
    return "questions " + ", ".join(str(n) for n in numbers[:-1]) + f" and {numbers[-1]}"
