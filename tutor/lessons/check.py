"""The lesson validator behind ``tutor lesson check`` and the tests.

It loads the course (structure: keys, types, unique ids) and then checks what each lesson
means: every computation runs with its arguments and ``show`` names parts it has, every
answer reference resolves to a finite number from a computation earlier in the lesson, every
question has non-empty hints, every choice question has a valid correct letter and a valid
``feedback`` table (:func:`tutor.lessons.answers.feedback_problems`) and an ``about`` (what on
the screen it is answered from, or "none"), a question's ``about`` names a matrix, chart or
step its computation shows, ``shown_decimals`` goes with a value shown rounded, and
no question gives its answer away (a number typed into its prompt, hints or choices).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tutor.render.lesson import show_names

from .answers import feedback_problems
from .compute import Result, run_lesson_computation
from .references import ComputeError, expected, fill, parse_reference
from .course import ABOUT_NONE, Course, LessonError, load_course


@dataclass
class Report:
    course: Course | None = None
    problems: list[str] = field(default_factory=list)
    questions: int = 0
    steps: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _literal_in(value: float, texts: list[str]) -> str | None:
    """The first text that spells ``value`` out (to 2 or 3 decimals), for non-whole values."""
    if float(value).is_integer():
        return None
    spellings = {f"{value:.2f}", f"{value:.3f}", f"{value:.4f}"}
    spellings |= {s.lstrip("0") if s.startswith("0.") else s for s in list(spellings)}
    for text in texts:
        for spelled in spellings:
            if re.search(rf"(?<![\d.]){re.escape(spelled)}(?!\d)", text):
                return spelled
    return None


def check_lesson(lesson, report: Report) -> None:
    where = lesson.path.name
    results: dict[str, Result] = {}
    for step in lesson.steps:
        here = f"{where}, step '{step.id}'"
        report.steps += 1
        try:
            if step.kind == "prose" and not step.text.strip():
                report.problems.append(f"{here}: the text is empty")
            if step.kind == "compute":
                if step.ask and not isinstance(step.args.get("sentence"), str):
                    report.problems.append(f"{here}: 'ask' needs args.sentence as the default "
                                           f"sentence")
                result = run_lesson_computation(step)
                results[step.id] = result
                names = show_names(result.document)
                unknown = [n for n in (step.show or []) if n not in names]
                if unknown:
                    report.problems.append(f"{here}: show names {', '.join(unknown)}; "
                                           f"expected some of {', '.join(names)}")
            if step.is_question:
                report.questions += 1
                if not step.question.strip():
                    report.problems.append(f"{here}: the question is empty")
                if not step.hints:
                    report.problems.append(f"{here}: expected at least one hint")
                if any(not h.strip() for h in step.hints):
                    report.problems.append(f"{here}: a hint is empty")
                texts = [fill(step.question, results)] + [fill(h, results) for h in step.hints]
            if step.kind == "number":
                value = expected(step, results)
                literal = _literal_in(value, texts)
                if literal:
                    report.problems.append(f"{here}: the answer {literal} is written in the "
                                           f"question or a hint")
            if step.is_question and step.about_ref:
                _check_about(lesson, step, results, here, report)
            if step.kind == "choice" and not step.about:
                report.problems.append(
                    f"{here}: expected 'about': the matrix, chart or step of a computation "
                    f"the question is answered from (\"<compute step>:<name>\"), shown "
                    f"again when the learner resumes here, or \"{ABOUT_NONE}\" for a "
                    f"question answered from the text alone")
            if step.kind == "number" and step.about == ABOUT_NONE:
                report.problems.append(f"{here}: a number question is answered from the "
                                       f"matrix its answer names; 'about = \"{ABOUT_NONE}\"' "
                                       f"is for choice questions")
            if step.kind == "number" and step.shown_decimals is not None:
                from tutor.render.lesson import PRECISION
                if float(value).is_integer():
                    report.problems.append(f"{here}: shown_decimals is for a value shown "
                                           f"rounded; {value:g} is whole and shown exactly")
                elif step.shown_decimals != PRECISION:
                    report.problems.append(f"{here}: expected shown_decimals = {PRECISION}, "
                                           f"the decimals a lesson shows, got "
                                           f"{step.shown_decimals}")
            if step.kind == "choice":
                report.problems += [f"{here}: {p}" for p in
                                    feedback_problems(step.feedback, len(step.choices),
                                                      step.correct_index())] \
                    if step.feedback else []
                if len(step.choices) < 2 or any(not c.strip() for c in step.choices):
                    report.problems.append(f"{here}: expected at least two non-empty choices")
                letters = "abcdefghij"[:len(step.choices)]
                if len(step.correct) != 1 or step.correct not in letters:
                    report.problems.append(f"{here}: 'correct' must be one of "
                                           f"{', '.join(letters)}, got {step.correct!r}")
            if step.explain:
                fill(step.explain, results)
            if step.text:
                fill(step.text, results)
        except ComputeError as exc:
            report.problems.append(f"{here}: {exc}")


def _check_about(lesson, step, results: dict, here: str, report: Report) -> None:
    """The matrix (chart, step) a question is answered from must be one its computation
    shows, so the session can show it again with the question."""
    from tutor.render.lesson import find_shown

    ref = parse_reference(step.about_ref)
    if ref.indices:
        report.problems.append(f"{here}: 'about' names a matrix (\"{ref.step}:{ref.name}\"), "
                               f"not an entry of it, got {step.about_ref!r}")
        return
    if ref.step not in results:
        report.problems.append(f"{here}: 'about' names {ref.step!r}, not a computation "
                               f"before this question")
        return
    compute_step = lesson.steps[lesson.step_index(ref.step)]
    if find_shown(results[ref.step].document, compute_step.show, ref.name) is None:
        report.problems.append(f"{here}: {ref.name!r} is not a matrix, chart or step that "
                               f"step {ref.step!r} shows, so it cannot be shown again with "
                               f"the question")


def check_course(folder: Path | str | None = None) -> Report:
    report = Report()
    try:
        report.course = load_course(folder)
    except LessonError as exc:
        report.problems.append(str(exc))
        return report
    for lesson in report.course.lessons:
        check_lesson(lesson, report)
    return report
