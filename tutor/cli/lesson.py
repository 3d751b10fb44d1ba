"""`tutor lesson`: the course, step by step, with questions the engine checks.

``tutor lesson [LESSON] [options]`` runs a lesson (the hidden subcommand ``run``);
``list``, ``reset`` and ``check`` are subcommands. Thin: the lesson package loads, checks and
runs; this module parses options and maps problems to one-line errors.
"""

from __future__ import annotations

import os
import sys

import click

from .common import tutor_command
from .help import TutorGroup
from .output import output_path_check
from .usage import usage_error

MAX_WIDTH = 80           # lessons are prose: never wider than this, narrower on a narrow screen

EPILOG = """\b
Examples:
  tutor lesson                     resume where you stopped (or start)
  tutor lesson 4                   self-attention with Q, K, V
  tutor lesson scaling --step q-six-four
  tutor lesson list                every lesson, your progress and scores
  tutor lesson 4 --review          ask again the questions you missed
  tutor lesson 4 --no-input        the whole lesson with its answers
  tutor lesson 4 --answer q-the-sat=0.42 --answer q-tie=b
  tutor lesson 4 --html page.html  the lesson as one offline web page
  tutor lesson reset 4             forget lesson 4 (asks first)
  tutor lesson check               validate every lesson file (for authors)

\b
While a question waits: type a number (0.42 or 0,42), a percentage
(42%) or a fraction (3/7), or a letter for a choice; h shows a hint
(one at a time), r reveals the answer, q saves and quits. The answer is
shown after three misses. Ctrl-C or the end of input also saves. At the
end: your score (right at the first try) and an offer to review what
you missed.

\b
Progress is saved after every step in $TUTOR_STATE_DIR/progress.json,
else in this platform's state folder (on Linux
$XDG_STATE_HOME/tutor or ~/.local/state/tutor; 'tutor lesson list'
says where). When stdin is not a terminal,
--no-input is the default (a pipe never waits); --interactive asks the
questions anyway, reading the answers from stdin.
"""


def _console():
    """The commands' console (colour on a terminal, plain otherwise): the screen's width
    (COLUMNS, else the terminal's, else 80), at most 80 columns."""
    from .output import Output, terminal_width

    return Output(None, width=min(MAX_WIDTH, terminal_width())).console


def _exit(code: int):
    """Exit with ``code``. SystemExit, because tutor.cli.main runs Click with
    standalone_mode=False, where a click Exit's code is returned and then lost."""
    sys.exit(code)


def _warn(message: str) -> None:
    click.echo(f"Warning: {message}", err=True)


def _course():
    from tutor.lessons.course import load_course

    return load_course()


def _progress():
    from tutor.lessons.progress import Progress

    return Progress(warn=_warn)


def _lesson_numbers() -> str:
    """'1-13': the numbers of the course's lessons, or '1, 2, …' when it cannot be read
    (the help never fails)."""
    from tutor.lessons.course import LessonError

    try:
        count = len(_course().lessons)
    except (LessonError, OSError):
        return "1, 2, …"
    return "1" if count == 1 else f"1-{count}"


def _find(course, key: str, option: str = "LESSON"):
    try:
        return course.find(key)
    except KeyError:
        ids = ", ".join(lesson.id for lesson in course.lessons)
        raise usage_error(option, f"expected a lesson number 1-{len(course.lessons)} or id "
                                  f"({ids}), got '{key}'") from None


class LessonGroup(TutorGroup):
    """``tutor lesson ARGS`` means ``tutor lesson run ARGS`` unless ARGS starts with a
    subcommand name or asks for help."""

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = ["run", *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx, formatter):
        formatter.write_usage("tutor lesson", "[LESSON] [--step ID] [--no-input | --interactive]"
                                              " [--answer STEP=VALUE]... [--review]")
        formatter.write_usage("tutor lesson", "LESSON --html FILE.html")
        formatter.write_usage("tutor lesson", "list | reset [LESSON|--all] | check")

    def format_help_text(self, ctx, formatter):
        """The help text, with the numbers of the course's lessons (1-13) read from the
        course, so that it follows the course."""
        saved = self.help
        self.help = saved.replace("{numbers}", _lesson_numbers())
        try:
            super().format_help_text(ctx, formatter)
        finally:
            self.help = saved

    def format_options(self, ctx, formatter):
        run_command = self.commands["run"]
        rows = [p.get_help_record(ctx) for p in run_command.get_params(ctx)]
        with formatter.section("Options"):
            formatter.write_dl([r for r in rows if r])
        rows = [(name, cmd.get_short_help_str(60)) for name, cmd in self.commands.items()
                if not cmd.hidden]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@tutor_command(EPILOG, group=True, cls=LessonGroup)
def lesson():
    """The course: lessons with live computations and questions the engine checks.

    LESSON is a number ({numbers}) or an id (see `tutor lesson list`); without it the
    tutor resumes at your first unfinished step.
    """


@lesson.command("run", hidden=True, epilog=EPILOG)
@click.argument("lesson_key", metavar="[LESSON]", required=False)
@click.option("--step", "step_key", metavar="ID",
              help="Start at this step (an id, or a number from 1).")
@click.option("--no-input", is_flag=True,
              help="Never prompt: print every step with the expected answers.")
@click.option("--interactive", is_flag=True,
              help="Ask the questions even when stdin is not a terminal.")
@click.option("--answer", "answers", multiple=True, metavar="STEP=VALUE",
              help="Check an answer from a script (repeatable); exit 1 if any is wrong.")
@click.option("--review", is_flag=True,
              help="Ask again the questions of LESSON you missed (shown by 'list').")
@click.option("--html", "html_path", metavar="FILE.html", default=None,
              callback=output_path_check("html"),
              help="Write LESSON as one offline web page (text, pictures, questions with "
                   "hints and answers behind a click); progress is not touched.")
def run_lesson(lesson_key, step_key, no_input, interactive, answers, review, html_path):
    """Run a lesson: resume, or start LESSON (a number or an id)."""
    if html_path is not None:
        others = [name for name, given in (("--step", step_key is not None),
                                           ("--no-input", no_input),
                                           ("--interactive", interactive),
                                           ("--answer", bool(answers)), ("--review", review))
                  if given]
        if lesson_key is None or others:
            got = f"{', '.join(others)} with it" if others else "no lesson"
            raise usage_error("--html", f"expected a lesson and no other option, as in "
                                        f"'tutor lesson 4 --html lesson4.html', got {got}")
        course = _course()
        return _write_page(course, _find(course, lesson_key), html_path)
    if interactive and (no_input or answers):
        raise usage_error("--interactive", "expected it alone, got it with "
                                           + ("--no-input" if no_input else "--answer"))
    if review and (no_input or answers or step_key is not None or lesson_key is None):
        given = ("--no-input" if no_input else "--answer" if answers else
                 "--step" if step_key is not None else "no lesson")
        raise usage_error("--review", f"expected a lesson and no --no-input, --answer or "
                                      f"--step, as in 'tutor lesson 4 --review', got {given}")
    course = _course()
    if answers:
        if lesson_key is None:
            raise usage_error("--answer", "expected a lesson to check against, as in "
                                          "'tutor lesson 4 --answer q-the-sat=0.42', got none")
        if step_key is not None:
            raise usage_error("--step", "expected no --step with --answer (each answer names "
                                        "its step), got --step")
        return _check_answers(course, _find(course, lesson_key), answers)
    progress = _progress()
    if review:
        return _interactive(_console(), course, _find(course, lesson_key), 0, progress,
                            review=True)
    if lesson_key is not None:
        chosen = _find(course, lesson_key)
        start = progress.first_unfinished(chosen) or 0
    else:
        chosen, start = _resume_point(course, progress)
        if chosen is None:
            console = _console()
            console.print(f"You have finished all {len(course.lessons)} lessons. "
                          f"'tutor lesson list' shows them; 'tutor lesson 4' opens one again; "
                          f"'tutor lesson reset --all' starts over.")
            return
    if step_key is not None:
        start = _step_index(chosen, step_key)
    console = _console()
    asking = interactive or (not no_input and sys.stdin.isatty())
    if not asking:
        from tutor.lessons.session import print_lesson
        print_lesson(console, chosen, len(course.lessons), start, console.width)
        return
    _interactive(console, course, chosen, start, progress)


def _write_page(course, chosen, path: str) -> None:
    """``--html``: the lesson as one page, written atomically (a temporary file renamed over
    ``path``); a folder that cannot be written is a usage error naming --html, before the
    lesson is computed. Progress is neither read nor saved."""
    from tutor.errors import printable
    from tutor.files import atomic_write_text
    from tutor.lessons.session import lesson_page

    from .output import is_character_device
    from .usage import check_output, quote

    def cannot(reason: str):
        return usage_error("--html", f"expected a file that can be written, got "
                                     f"{quote(path, 60)} ({reason})")

    check_output("--html", path)
    folder = os.path.dirname(os.path.abspath(path))
    if not is_character_device(path) and not os.access(folder, os.W_OK | os.X_OK):
        raise cannot(f"the folder {quote(folder, 60)} is not writable")
    if os.path.isfile(path) and not os.access(path, os.W_OK):
        raise cannot("the file is not writable")
    page = lesson_page(chosen, len(course.lessons), MAX_WIDTH, course.title)
    try:
        atomic_write_text(path, page)
    except OSError as exc:
        raise cannot(exc.strerror or str(exc)) from None
    questions = len(chosen.questions)
    click.echo(f"Wrote lesson {chosen.number} ({chosen.title}: {len(chosen.steps)} steps, "
               f"{questions} question{'' if questions == 1 else 's'}) to {printable(str(path))}.")


def _resume_point(course, progress):
    """The lesson you worked in last, if it is unfinished; else the first unfinished one."""
    last = next((c for c in course.lessons if c.id == progress.last_lesson), None)
    if last is not None and progress.first_unfinished(last) is not None:
        return last, progress.first_unfinished(last)
    for candidate in course.lessons:
        index = progress.first_unfinished(candidate)
        if index is not None:
            return candidate, index
    return None, 0


def _step_index(lesson, key: str) -> int:
    key = key.strip()
    if key.isdigit() and 1 <= int(key) <= len(lesson.steps):
        return int(key) - 1
    try:
        return lesson.step_index(key)
    except KeyError:
        import difflib

        names = [s.id for s in lesson.steps]
        close = ([name for name in names if name.startswith(key)][:3]
                 or difflib.get_close_matches(key, names, n=3, cutoff=0.6))
        if close:                                                      # what was probably meant
            ids = "such as " + ", ".join(close)
        else:                                                          # whole ids only, never cut
            shown, width = [], 0
            for name in names:
                if width + len(name) > 100:
                    break
                shown.append(name)
                width += len(name) + 2
            ids = ", ".join(shown)
            if len(shown) < len(names):
                ids += f" and {len(names) - len(shown)} more"
        raise usage_error("--step", f"expected a step of lesson {lesson.number} "
                                    f"(1-{len(lesson.steps)} or an id, {ids}), got '{key}'") from None


def _message(text: str, width: int):
    """A message wrapped at ``width`` between words, a path too long for a line broken after a
    '/' (never inside a name): a Rich Text, so no markup is read in it."""
    from rich.text import Text

    from tutor.render.console import break_long_paths

    return Text(break_long_paths(text, width))


def _interactive(console, course, chosen, start, progress, review: bool = False) -> None:
    from tutor.lessons.session import Interactive, Quit

    def read(prompt: str) -> str:
        return console.input(prompt, markup=False)                     # "[y/N]" is text

    rows, paging = _rows(console)
    interactive = Interactive(console, chosen, len(course.lessons), progress, read, console.width,
                              rows, paging)
    try:
        if review:
            interactive.review_missed()
            return
        interactive.run(start)
    except Quit as stop:
        console.print()
        where = progress.first_unfinished(chosen)
        step = chosen.steps[where].id if where is not None else None
        resume = (f"'tutor lesson {chosen.number}' resumes at step {step}"
                  if step else f"lesson {chosen.number} is complete")
        saved = (f"Progress saved in {progress.path}" if os.path.exists(progress.path)
                 else "No step finished yet, so nothing was saved")
        console.print(_message(f"{saved}; {resume}.", console.width))
        if stop.reason == "interrupt":
            _exit(130)
        return
    following = chosen.number
    if following < len(course.lessons):
        nxt = course.lessons[following]
        console.print(_message(f"Next: 'tutor lesson {nxt.number}' ({nxt.title}). "
                               f"Progress is saved in {progress.path}.", console.width))
    else:
        console.print("That was the last lesson of the course.")


def _rows(console) -> tuple[int, bool]:
    """(the terminal's height, whether to pause a step taller than it). On a terminal: its
    height, pausing. Otherwise $LINES when set (pausing, as a terminal of that height would),
    else 40 rows and no pauses: a pipe never waits for more than the answers."""
    from tutor.lessons.session import ASSUMED_ROWS

    if console.is_terminal:
        return console.size.height, True
    lines = os.environ.get("LINES", "").strip()
    if lines.isdigit() and int(lines) > 0:
        return int(lines), True
    return ASSUMED_ROWS, False


def _check_answers(course, chosen, answers) -> None:
    from tutor.lessons.answers import AnswerError, parse_choice, parse_number
    from tutor.lessons.session import check_answers

    questions = {s.id: s for s in chosen.questions}
    given: dict[str, str] = {}
    for item in answers:
        step_id, sep, value = item.partition("=")
        step_id = step_id.strip()
        if not sep or not step_id or not value.strip():
            raise usage_error("--answer", f"expected STEP=VALUE such as q-the-sat=0.42, "
                                          f"got '{item}'")
        if step_id not in questions:
            ids = ", ".join(questions) or "none"
            raise usage_error("--answer", f"expected a question of lesson {chosen.number} "
                                          f"({ids}), got '{step_id}'")
        if step_id in given:
            raise usage_error("--answer", f"expected each question once, got '{step_id}' twice")
        try:
            if questions[step_id].kind == "choice":
                parse_choice(value, len(questions[step_id].choices))
            else:
                parse_number(value)
        except AnswerError as exc:
            raise usage_error("--answer", f"{exc} for {step_id}") from None
        given[step_id] = value
    results = check_answers(chosen, given)
    for item in results:
        click.echo(("✓ " if item.correct else "✗ ") + item.message)
    wrong = sum(1 for item in results if not item.correct)
    click.echo(f"{len(results) - wrong} of {len(results)} right.")
    if wrong:
        _exit(1)


@lesson.command("list")
def list_lessons():
    """Every lesson with your progress and score, and where progress is kept."""
    from tutor.render.lesson import progress_table

    course = _course()
    progress = _progress()
    point, index = _resume_point(course, progress)
    current = (point.id, point.steps[index].id) if point is not None else None
    console = _console()
    console.print(progress_table(course, progress, current, width=console.width))
    state = "" if progress.path.exists() else " (not created yet)"
    console.print()
    console.print(_message(f"Progress is kept in {progress.path}{state}.", console.width))
    if current:
        console.print(f"'tutor lesson' resumes at lesson {point.number}, step {current[1]}.")


@lesson.command("reset")
@click.argument("lesson_key", metavar="[LESSON]", required=False)
@click.option("--all", "everything", is_flag=True, help="Forget the progress of every lesson.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def reset(lesson_key, everything, yes):
    """Forget your progress in LESSON, or in every lesson with --all (asks first)."""
    if lesson_key is None and not everything:
        raise usage_error("LESSON", "expected a lesson number or id, or --all, got neither")
    if lesson_key is not None and everything:
        raise usage_error("--all", "expected either a lesson or --all, got both")
    course = _course()
    chosen = None if everything else _find(course, lesson_key)
    what = "every lesson" if everything else f"lesson {chosen.number} ({chosen.title})"
    if not yes and not _confirm(f"Forget your progress in {what}?"):
        click.echo("Nothing changed.")                                 # "no" is an answer, not Ctrl-C
        return
    progress = _progress()
    progress.reset(None if everything else chosen.id)
    click.echo(f"Progress in {what} forgotten ({progress.path}).")


def _confirm(question: str) -> bool:
    """Ask ``question`` (yes/no) on standard input, the prompt wrapped between words at the
    terminal's width. y/yes is yes; n/no or an empty line is no. An input that ends before an
    answer (``< /dev/null``, a closed pipe, Ctrl-D on a terminal) is a usage error (exit 2)
    saying --yes confirms without asking; an answer that is not y or n is asked again on a
    terminal and a usage error otherwise. Ctrl-C stays "Aborted." (exit 130)."""
    import shutil
    import textwrap

    from .usage import quote

    width = max(20, shutil.get_terminal_size().columns - 1)
    prompt = "\n".join(textwrap.wrap(f"{question} [y/N]:", width, break_long_words=False,
                                      break_on_hyphens=False)) + " "
    terminal = sys.stdin is not None and sys.stdin.isatty()
    while True:
        click.echo(prompt, nl=False)
        try:
            answer = input()
        except EOFError:
            _end_line()
            raise click.UsageError("confirmation needs an answer (y or n), and standard input "
                                   "ended without one: pass --yes to confirm without "
                                   "asking") from None
        except KeyboardInterrupt:
            _end_line()
            raise click.Abort() from None
        word = answer.strip().lower()
        if word in ("y", "yes"):
            return True
        if word in ("", "n", "no"):
            return False
        if terminal:
            click.echo(f"Please answer y or n (got {quote(answer.strip())}).")
            continue
        _end_line()
        raise click.UsageError(f"confirmation expected y or n as the answer, got "
                               f"{quote(answer.strip())}: pass --yes to confirm without asking")


def _end_line() -> None:
    """End the prompt's line on standard output (a write that fails changes nothing)."""
    try:
        click.echo()
    except (OSError, ValueError):
        pass


@lesson.command("check")
@click.option("--dir", "folder", type=click.Path(file_okay=False, exists=True), default=None,
              help="Check the course in this folder instead of the one that ships.")
def check(folder):
    """Validate every lesson file: ids, references, hints, no literal answers."""
    from tutor.lessons.check import check_course

    report = check_course(folder)
    for problem in report.problems:
        click.echo(f"✗ {problem}")
    if not report.ok:
        click.echo(f"{len(report.problems)} problem(s) found.")
        _exit(1)
    course = report.course
    click.echo(f"✓ {len(course.lessons)} lessons, {report.steps} steps, {report.questions} "
               f"questions in {course.folder}: every computation runs, every reference "
               f"resolves.")
