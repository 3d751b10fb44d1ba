"""The lesson format and its loader.

A course is a folder: ``course.toml`` names the lessons in order, and each lesson is
``<id>.toml`` holding a title and a list of ``[[steps]]``. A step's kind follows from its
keys (see ``lessons/README.md``):

* prose     -- ``text`` (Markdown);
* compute   -- ``compute`` (a name from :data:`tutor.lessons.compute.REGISTRY`), ``args``,
  optionally ``show``, ``text`` and ``ask`` (prompt for the learner's own sentence);
* number    -- ``question`` and ``answer``, a reference such as ``"attn:weights[the, sat]"``,
  with ``tolerance``, ``shown_decimals`` and ``rel_tolerance`` (see
  :mod:`tutor.lessons.answers`) and ``hints``;
* choice    -- ``question``, ``choices`` and ``correct`` (a letter), with ``hints`` and
  ``feedback`` (a note per wrong choice, by letter).

A question names what it is answered from: ``about = "scores:scores"``, a compute step and a
matrix (or chart) it shows, or one of the steps it shows (``"heads:layer2"``); a number
question's answer names it already. The session shows it again with the question when it is
no longer on the screen. A choice question answered from the lesson's text, not from numbers
on the screen, says ``about = "none"`` (the check requires one or the other).

Loading checks the structure (keys, types, ids); :mod:`tutor.lessons.check` checks the
meaning (every computation runs, every reference resolves, no answer is typed in).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tutor.errors import TutorError

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
RESERVED_IDS = {"list", "reset", "check", "run"}      # subcommands of `tutor lesson`
DEFAULT_TOLERANCE = 0.005
COURSE_FILE = "course.toml"

STEP_KEYS = {
    "prose": {"id", "text"},
    "compute": {"id", "compute", "args", "show", "text", "ask", "title"},
    "number": {"id", "question", "answer", "tolerance", "shown_decimals", "rel_tolerance",
               "hints", "explain", "about"},
    "choice": {"id", "question", "choices", "correct", "feedback", "hints", "explain", "about"},
}


class LessonError(TutorError):
    """A lesson file that cannot be read or does not follow the format."""


@dataclass
class LessonStep:
    """One step of a lesson; ``kind`` is prose, compute, number or choice."""

    id: str
    kind: str
    text: str = ""                       # prose, or the words before a computation
    compute: str = ""                    # compute: the computation's name
    args: dict = field(default_factory=dict)
    show: list[str] | None = None        # compute: which parts to show (None = all)
    ask: str = ""                        # compute: ask the learner for args["sentence"]
    title: str = ""                      # compute: a heading for the computation
    question: str = ""
    answer: str = ""                     # number: a reference into a computation's results
    tolerance: float = DEFAULT_TOLERANCE
    shown_decimals: int | None = None    # number: answered from values shown with so many
    rel_tolerance: float = 0.0           #   decimals; a tolerance relative to the answer
    about: str = ""                      # question: "<compute step>:<trace name>", the matrix
                                         #   it is answered from (numbers: the answer's own),
                                         #   or "none": from the text, nothing on screen
    feedback: dict[str, str] = field(default_factory=dict)   # choice: letter -> note
    hints: list[str] = field(default_factory=list)
    explain: str = ""                    # said after the answer is found or revealed
    choices: list[str] = field(default_factory=list)
    correct: str = ""                    # choice: the letter of the right choice

    @property
    def is_question(self) -> bool:
        return self.kind in ("number", "choice")

    def correct_index(self) -> int:
        return ord(self.correct) - ord("a")

    @property
    def about_ref(self) -> str:
        """The matrix a question is answered from: ``about``, else (a number question) the
        compute step and trace name of its answer; '' for none (``about = "none"``)."""
        if self.about == ABOUT_NONE:
            return ""
        if self.about or self.kind != "number":
            return self.about
        return self.answer.split("[", 1)[0].strip()


#: ``about = "none"``: a question answered from the lesson's text, with nothing on the screen
#: to show again.
ABOUT_NONE = "none"


@dataclass
class Lesson:
    id: str
    number: int                          # 1-based position in the course
    title: str
    summary: str
    steps: list[LessonStep]
    path: Path

    def step_index(self, step_id: str) -> int:
        for i, step in enumerate(self.steps):
            if step.id == step_id:
                return i
        raise KeyError(step_id)

    @property
    def questions(self) -> list[LessonStep]:
        return [s for s in self.steps if s.is_question]


@dataclass
class CoursePart:
    """A part of the course: its title and the id of its first lesson; it runs up to the
    next part's first lesson."""

    number: int                          # 1-based
    title: str
    first: str                           # the id of its first lesson


@dataclass
class Course:
    title: str
    lessons: list[Lesson]
    folder: Path
    parts: list[CoursePart] = field(default_factory=list)   # none: the course is one part

    def part_starting_at(self, lesson: Lesson) -> CoursePart | None:
        """The part whose first lesson is ``lesson``, or None."""
        return next((part for part in self.parts if part.first == lesson.id), None)

    def find(self, key: str) -> Lesson:
        """A lesson by id or by number ('4')."""
        key = key.strip()
        if key.isdigit() and 1 <= int(key) <= len(self.lessons):
            return self.lessons[int(key) - 1]
        for lesson in self.lessons:
            if lesson.id == key.lower():
                return lesson
        raise KeyError(key)


def _read_toml(path: Path) -> dict:
    """A lesson or course file: a regular file of at most ``MAX_LESSON_FILE_BYTES``, TOML
    nested at most ``MAX_NESTING`` deep (``tutor.files.read_toml``). Raises LessonError
    naming the file."""
    from tutor.errors import FileReadError
    from tutor.files import parse_toml, read_bytes
    from tutor.limits import MAX_LESSON_FILE_BYTES

    try:
        return parse_toml(read_bytes(path, MAX_LESSON_FILE_BYTES, "a lesson file"), path.name)
    except FileNotFoundError:
        raise LessonError(f"{path.name}: file not found in {path.parent}") from None
    except FileReadError as exc:
        text = str(exc)
        for prefix in (f"{path}: ", f"{path.name}: "):
            text = text[len(prefix):] if text.startswith(prefix) else text
        raise LessonError(f"{path.name}: {text}") from None


def _expect(value, kind, where: str, what: str):
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise LessonError(f"{where}: expected {what}, got {value!r}")
    return value


def _strings(value, where: str, what: str) -> list[str]:
    _expect(value, list, where, what)
    for item in value:
        _expect(item, str, where, what)
    return list(value)


def step_kind(table: dict, where: str) -> str:
    if "compute" in table:
        return "compute"
    if "question" in table:
        if "choices" in table:
            return "choice"
        if "answer" in table:
            return "number"
        raise LessonError(f"{where}: a question needs 'answer' (a reference) or 'choices'")
    if "text" in table:
        return "prose"
    raise LessonError(f"{where}: expected one of 'text', 'compute' or 'question', got keys "
                      f"{sorted(table)}")


def parse_step(table, where: str) -> LessonStep:
    _expect(table, dict, where, "a table")
    kind = step_kind(table, where)
    step_id = _expect(table.get("id"), str, where, "an 'id' (lower-case letters, digits, -)")
    where = f"{where} ('{step_id}')"
    if not ID_PATTERN.match(step_id):
        raise LessonError(f"{where}: expected an id of lower-case letters, digits and -, "
                          f"got {step_id!r}")
    extra = set(table) - STEP_KEYS[kind]
    if extra:
        raise LessonError(f"{where}: unknown keys for a {kind} step: {', '.join(sorted(extra))}")
    step = LessonStep(id=step_id, kind=kind)
    for key in ("text", "ask", "title", "question", "explain"):
        if key in table:
            setattr(step, key, _expect(table[key], str, where, f"'{key}' as a string"))
    if kind == "compute":
        step.compute = _expect(table["compute"], str, where, "'compute' as a name")
        step.args = dict(_expect(table.get("args", {}), dict, where, "'args' as a table"))
        if "show" in table:
            step.show = _strings(table["show"], where, "'show' as a list of names")
    if kind == "number":
        answer = table["answer"]
        if not isinstance(answer, str):
            raise LessonError(f"{where}: 'answer' must be a reference such as "
                              f"\"attn:weights[the, sat]\", not a literal value ({answer!r})")
        step.answer = answer
        tol = table.get("tolerance", DEFAULT_TOLERANCE)
        if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 < tol < 1e6:
            raise LessonError(f"{where}: expected 'tolerance' as a positive number, got {tol!r}")
        step.tolerance = float(tol)
        if "shown_decimals" in table:
            shown = table["shown_decimals"]
            if isinstance(shown, bool) or not isinstance(shown, int) or not 1 <= shown <= 10:
                raise LessonError(f"{where}: expected 'shown_decimals' as a whole number from 1 "
                                  f"to 10 (the decimals the answer is read from), got {shown!r}")
            step.shown_decimals = shown
        if "rel_tolerance" in table:
            rel = table["rel_tolerance"]
            if isinstance(rel, bool) or not isinstance(rel, (int, float)) or not 0 < rel < 1:
                raise LessonError(f"{where}: expected 'rel_tolerance' as a fraction between 0 "
                                  f"and 1, got {rel!r}")
            step.rel_tolerance = float(rel)
    if step.is_question:
        step.hints = _strings(table.get("hints", []), where, "'hints' as a list of strings")
        if "about" in table:
            step.about = _expect(table["about"], str, where, "'about' as a reference such as "
                                                          "\"scores:scores\"").strip()
    if kind == "choice":
        step.choices = _strings(table["choices"], where, "'choices' as a list of strings")
        correct = _expect(table.get("correct"), str, where, "'correct' as a letter (a, b, ...)")
        step.correct = correct.strip().lower()
        if "feedback" in table:
            feedback = _expect(table["feedback"], dict, where,
                               "'feedback' as a table of notes by choice letter")
            step.feedback = dict(feedback)         # the check says what is wrong with it
    return step


def load_lesson(path: Path, number: int) -> Lesson:
    data = _read_toml(path)
    where = path.name
    lesson_id = _expect(data.get("id"), str, where, "an 'id'")
    if lesson_id != path.stem:
        raise LessonError(f"{where}: the id {lesson_id!r} must match the file name "
                          f"{path.stem!r}")
    title = _expect(data.get("title"), str, where, "a 'title'")
    summary = _expect(data.get("summary", ""), str, where, "'summary' as a string")
    extra = set(data) - {"id", "title", "summary", "steps"}
    if extra:
        raise LessonError(f"{where}: unknown keys {', '.join(sorted(extra))}")
    tables = _expect(data.get("steps"), list, where, "a list of [[steps]]")
    steps = [parse_step(t, f"{where}, step {i + 1}") for i, t in enumerate(tables)]
    if not steps:
        raise LessonError(f"{where}: expected at least one step")
    seen: set[str] = set()
    for step in steps:
        if step.id in seen:
            raise LessonError(f"{where}: step id {step.id!r} is used twice")
        seen.add(step.id)
    return Lesson(lesson_id, number, title, summary, steps, path)


def load_course(folder: Path | str | None = None) -> Course:
    """The course in ``folder`` (default: the one that ships with tutor)."""
    if folder is None:
        from tutor.resources import lessons_dir
        try:
            folder = lessons_dir()
        except FileNotFoundError as exc:
            raise LessonError(str(exc)) from None
    folder = Path(folder)
    data = _read_toml(folder / COURSE_FILE)
    title = _expect(data.get("title", "The course"), str, COURSE_FILE, "'title' as a string")
    ids = _strings(data.get("lessons"), COURSE_FILE, "'lessons' as a list of lesson ids")
    if not ids:
        raise LessonError(f"{COURSE_FILE}: expected at least one lesson")
    lessons = []
    for i, lesson_id in enumerate(ids):
        if not ID_PATTERN.match(lesson_id) or lesson_id in RESERVED_IDS or lesson_id.isdigit():
            raise LessonError(f"{COURSE_FILE}: expected lesson ids of lower-case letters, "
                              f"digits and - (not a number, not list/reset/check/run), "
                              f"got {lesson_id!r}")
        if lesson_id in ids[:i]:
            raise LessonError(f"{COURSE_FILE}: lesson {lesson_id!r} is listed twice")
        lessons.append(load_lesson(folder / f"{lesson_id}.toml", i + 1))
    extra = set(data) - {"title", "lessons", "parts"}
    if extra:
        raise LessonError(f"{COURSE_FILE}: unknown keys {', '.join(sorted(extra))}")
    return Course(title, lessons, folder, _parts(data.get("parts", []), ids))


def _parts(tables, ids: list[str]) -> list[CoursePart]:
    """``[[parts]]`` of course.toml (``title``, ``first``: the id of the part's first
    lesson), checked: the first part starts at the first lesson and each later one further
    on in ``lessons``. None given: no parts."""
    _expect(tables, list, COURSE_FILE, "[[parts]] tables with a 'title' and a 'first' lesson")
    parts = []
    for i, table in enumerate(tables):
        where = f"{COURSE_FILE}, part {i + 1}"
        _expect(table, dict, where, "a table with 'title' and 'first'")
        extra = set(table) - {"title", "first"}
        if extra:
            raise LessonError(f"{where}: unknown keys {', '.join(sorted(extra))}")
        title = _expect(table.get("title"), str, where, "a 'title'")
        first = _expect(table.get("first"), str, where, "'first', the id of its first lesson")
        if first not in ids:
            raise LessonError(f"{where}: expected 'first' to be a lesson of 'lessons', "
                              f"got {first!r}")
        earlier = ids.index(parts[-1].first) if parts else -1
        if (ids.index(first) == 0) != (not parts) or ids.index(first) <= earlier:
            raise LessonError(f"{where}: expected parts in the order of 'lessons', the "
                              f"first starting at {ids[0]!r}, got {first!r}")
        parts.append(CoursePart(i + 1, title, first))
    return parts
