"""The lesson validator behind ``tutor lesson check`` and the tests.

It loads the course (structure: keys, types, unique ids) and then checks what each lesson
means: every computation runs with its arguments and ``show`` names parts it has, every
answer reference resolves to a finite number from a computation earlier in the lesson, every
question has non-empty hints, every choice question has a valid correct letter, and no
question gives its answer away (a number typed into its prompt, hints or choices).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .compute import ComputeError, Result, expected, fill, run_lesson_computation
from .course import Course, LessonError, load_course


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
                unknown = [n for n in (step.show or []) if n not in result.show_names()]
                if unknown:
                    report.problems.append(f"{here}: show names {', '.join(unknown)}; "
                                           f"expected some of {', '.join(result.show_names())}")
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
            if step.kind == "choice":
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
