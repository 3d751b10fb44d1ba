"""Output options and display: the one place that decides how a command's output looks.

``--format`` is resolved once: ``rich`` (colour) on a terminal, ``plain`` when the output is
piped or ``NO_COLOR`` is set (or ``TERM=dumb``). ``json``, ``markdown`` and ``latex`` are
text documents written as they are. ``--svg`` / ``--html`` save what was printed, using
Rich's export. Heavy modules (Rich, the renderers) load inside functions, so importing this
module stays cheap.
"""

from __future__ import annotations

import functools
import io
import os
import sys

import click

from tutor.errors import TutorError
from tutor.limits import DEFAULT_WIDTH, MAX_PRECISION, MAX_WIDTH, MIN_WIDTH

FORMATS = ("rich", "plain", "json", "markdown", "latex")
TEXT_FORMATS = ("json", "markdown", "latex")
DEFAULT_PRECISION = 2


def _check_precision(ctx, param, value):
    if value is not None and not 0 <= value <= MAX_PRECISION:
        raise click.BadParameter(f"expected a number of decimals from 0 to {MAX_PRECISION}, "
                                 f"got {value}", ctx=ctx, param=param)
    return value


# what each kind of output file is called and how an earlier one of it begins: an output
# replaces an existing file only when that file is empty or looks like an earlier output of the
# same kind (a device such as /dev/null is written in place), so no command silently writes
# over a file of another kind (notes.txt given as --svg, a matrix given as --save-weights)
OUTPUT_KINDS = {
    "svg": ((".svg",), (b"<svg", b"<?xml")),
    "html": ((".html", ".htm"), (b"<!doctype html", b"<html")),
    "npz": ((".npz",), (b"PK\x03\x04", b"PK\x05\x06")),
    "npy": ((".npy",), (b"\x93NUMPY",)),
}


def check_output_kind(option: str, path: str, kind: str) -> None:
    """``path`` ends in the kind's suffix, and replaces no file of another kind (see
    OUTPUT_KINDS); a usage error naming ``option`` otherwise."""
    from .usage import quote, usage_error

    suffixes, magics = OUTPUT_KINDS[kind]
    if is_character_device(path):
        return                                 # /dev/null, /dev/stdout: written in place
    if not path.lower().endswith(suffixes):
        raise usage_error(option, f"expected a file name ending in {' or '.join(suffixes)}, "
                                  f"got {quote(path, 60)}")
    hold_pipe(option, path)
    if not os.path.isfile(path):
        return
    try:
        with open(path, "rb") as handle:
            start = handle.read(64).lstrip().lower()
    except OSError:
        return                                 # unreadable: the write will say why it fails
    if start and not start.startswith(tuple(m.lower() for m in magics)):
        raise usage_error(option, f"expected a new file or an earlier {suffixes[0]} output, got "
                                  f"{quote(path, 60)}, which holds something else (remove it "
                                  f"or choose another name)")


def is_character_device(path: str) -> bool:
    """Whether ``path`` is a character device (/dev/null, a terminal): the one kind of output
    that is written in place whatever its name."""
    import stat

    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False


def hold_pipe(option: str, path: str) -> None:
    """An output that is a named pipe (FIFO) is opened for writing now, before anything is
    computed: one that no process reads is a usage error naming ``option`` (writing would wait
    forever); one that is read is kept open for the write (``tutor.files.hold_output_pipe``).
    A path that is no FIFO is left alone."""
    from tutor.files import NoReaderError, hold_output_pipe

    from .usage import quote, usage_error

    try:
        hold_output_pipe(path)
    except NoReaderError:
        raise usage_error(option, f"expected a file, or a named pipe that a process reads, "
                                  f"got {quote(path, 60)}, a named pipe (FIFO) that no "
                                  f"process reads") from None
    except OSError as exc:
        raise usage_error(option, f"expected a file that can be written, got "
                                  f"{quote(path, 60)} ({exc.strerror or exc})") from None


def output_path_check(kind: str | None):
    """The callback of an output file option of ``kind`` (OUTPUT_KINDS; None: the name only)."""
    def check(ctx, param, value):
        if isinstance(value, tuple):           # a multiple=True option: given at most once
            if len(value) > 1:
                raise click.BadParameter(f"expected one file, got {len(value)}: "
                                         f"{', '.join(value)}", ctx=ctx, param=param)
            value = value[0] if value else None
        value = check_output_path(ctx, param, value)
        if value is not None and kind is not None:
            check_output_kind(param.opts[0], value, kind)
        return value
    return check


def check_output_path(ctx, param, value):
    """An output file name: not empty, not a directory, in a folder that exists."""
    if value is None:
        return value
    if not value.strip():
        raise click.BadParameter("expected a file name, got an empty one", ctx=ctx, param=param)
    folder = os.path.dirname(os.path.abspath(value))
    if os.path.isdir(value):
        raise click.BadParameter(f"expected a file name, got the directory '{value}'",
                                 ctx=ctx, param=param)
    if not os.path.isdir(folder):
        raise click.BadParameter(f"expected a file in an existing folder, got '{value}' "
                                 f"(no folder '{folder}')", ctx=ctx, param=param)
    return value


def output_options(command):
    """--format, --precision, --svg, --html: how results are shown and saved."""
    decorators = [
        click.option("--format", "fmt", type=click.Choice(FORMATS, case_sensitive=False),
                     default=None,
                     help="rich (colour, the default on a terminal), plain (the default when "
                          "piped or NO_COLOR is set), json (every matrix, full precision), "
                          "markdown or latex (tables to paste into notes)."),
        click.option("--precision", type=int, default=DEFAULT_PRECISION, show_default=True,
                     callback=_check_precision, metavar="P",
                     help=f"Decimals shown (0-{MAX_PRECISION}); the computation always uses "
                          "full precision."),
        click.option("--svg", "svg_path", type=str, multiple=True,
                     callback=output_path_check("svg"), metavar="FILE.svg",
                     help="Also save the screen's rendering as an SVG picture (with --format "
                          "json, markdown or latex too: the picture is the rich rendering)."),
        click.option("--html", "html_path", type=str, multiple=True,
                     callback=output_path_check("html"), metavar="FILE.html",
                     help="Also save the screen's rendering as an HTML page (as --svg)."),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def no_color_requested(environ=None) -> bool:
    environ = os.environ if environ is None else environ
    return bool(environ.get("NO_COLOR")) or environ.get("TERM") == "dumb"


def terminal_width(stream=None, environ=None) -> int:
    """The columns to lay output out in: ``COLUMNS`` when it is a whole number (also when
    piped, so ``COLUMNS=120 tutor ... | less`` is 120 wide), else the width of the terminal
    ``stream`` is, else DEFAULT_WIDTH (80); kept within MIN_WIDTH..MAX_WIDTH."""
    environ = os.environ if environ is None else environ
    stream = sys.stdout if stream is None else stream
    width = None
    columns = str(environ.get("COLUMNS") or "").strip()
    if columns.isdigit() and int(columns) > 0:
        width = int(columns)
    elif hasattr(stream, "isatty") and stream.isatty():
        try:
            width = os.get_terminal_size(stream.fileno()).columns or None
        except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
            width = None
    return min(MAX_WIDTH, max(MIN_WIDTH, width or DEFAULT_WIDTH))


def resolve_format(fmt: str | None, stream=None, environ=None) -> str:
    """The format to use: the one asked for, else rich on a terminal and plain otherwise."""
    if fmt:
        return fmt.lower()
    stream = sys.stdout if stream is None else stream
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    return "rich" if is_tty and not no_color_requested(environ) else "plain"


class TrimmedLines:
    """A text stream that drops the spaces at the end of each line it passes on (Rich pads
    wrapped plain text out to the width), for plain output: what is piped or saved has no
    trailing spaces. A line still open at ``flush`` (an input prompt) is written as it is."""

    def __init__(self, stream):
        self.stream = stream
        self.pending = ""

    def write(self, text: str) -> int:
        whole = self.pending + text
        done, newline, self.pending = whole.rpartition("\n")
        if newline:
            self.stream.write("\n".join(line.rstrip(" ") for line in done.split("\n")) + "\n")
        return len(text)

    def flush(self) -> None:
        if self.pending:
            self.stream.write(self.pending)
            self.pending = ""
        self.stream.flush()

    def isatty(self) -> bool:
        return hasattr(self.stream, "isatty") and self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self):
        return getattr(self.stream, "encoding", "utf-8")


NEXT_STEP = "Press Enter for the next step…"
MORE = "Press Enter for more of this step…"
DEFAULT_ROWS = 24          # a terminal's height when it cannot be read
MIN_PAGE_ROWS = 8          # never page shorter than this


class Output:
    """Where a command's result goes: a Rich console (rich/plain) or text (json/markdown/latex),
    plus the optional SVG/HTML copies. Build it once per command run, then ``show`` once."""

    def __init__(self, fmt: str | None, precision: int = DEFAULT_PRECISION, svg_path=None,
                 html_path=None, *, stream=None, width: int | None = None, environ=None):
        self.stream = sys.stdout if stream is None else stream
        self.format = resolve_format(fmt, self.stream, environ)
        self.precision = precision
        self.svg_path = svg_path
        self.html_path = html_path
        self.width = width or terminal_width(self.stream, environ)
        self.title = "tutor"                   # the HTML page's title
        self.svg_title = "tutor"               # the SVG window's: short, beside its buttons
        self.console = self._console()

    @property
    def is_text(self) -> bool:
        return self.format in TEXT_FORMATS

    @property
    def interactive(self) -> bool:
        return (sys.stdin.isatty() and hasattr(self.stream, "isatty") and self.stream.isatty()
                and not self.is_text)

    def _console(self):
        from rich.console import Console

        record = bool(self.svg_path or self.html_path)
        if self.is_text:                       # text goes to the stream; the console only records
            return Console(file=io.StringIO(), record=True, width=self.width,
                           color_system=None) if record else None
        if self.format == "rich":
            return Console(file=self.stream, record=record, width=self.width,
                           force_terminal=True if not self.stream.isatty() else None,
                           highlight=False, emoji=False)
        return Console(file=TrimmedLines(self.stream), record=record, width=self.width,
                       color_system=None, force_terminal=False, no_color=True,
                       highlight=False, emoji=False)

    def write_text(self, text: str, *, picture: bool = True) -> None:
        """A json/markdown/latex document, written exactly; with ``picture`` False the text is
        not recorded for --svg/--html (the caller prints the rich rendering there instead)."""
        if not text.endswith("\n"):
            text += "\n"
        try:
            self.stream.write(text)
            self.stream.flush()
        except OSError as exc:
            raise _cannot_write(exc) from None
        if self.console is not None and picture:
            from rich.text import Text
            self.console.print(Text(text.rstrip("\n")), soft_wrap=True)

    def write_chunks(self, chunks) -> None:
        """A document given in pieces (``tutor.render.text.json_chunks``), written as each
        comes, then a newline; not recorded for --svg/--html."""
        try:
            for chunk in chunks:
                self.stream.write(chunk)
            self.stream.write("\n")
            self.stream.flush()
        except OSError as exc:
            raise _cannot_write(exc) from None

    def print(self, renderable, **options) -> None:
        """Print on the console (Rich's ``print`` options); a failed write is a TutorError."""
        try:
            self.console.print(renderable, **options)
        except OSError as exc:
            raise _cannot_write(exc) from None

    def pause(self) -> None:
        """Wait for Enter, only when both ends are a terminal."""
        if self.interactive:
            self.wait(NEXT_STEP)

    def wait(self, prompt: str) -> None:
        """Show ``prompt`` (one line) and wait for Enter."""
        self.console.input(f"[dim]{prompt}[/dim]")

    @property
    def rows(self) -> int:
        """The terminal's height: ``LINES`` when set, else the console's (24 when unknown)."""
        lines = str(os.environ.get("LINES") or "").strip()
        if lines.isdigit() and int(lines) > 0:
            return max(MIN_PAGE_ROWS, int(lines))
        return max(MIN_PAGE_ROWS, self.console.size.height or DEFAULT_ROWS)

    def finish(self, doc=None, steps=None) -> None:
        """Write the SVG/HTML copies of what was printed; a document ``doc`` with lines views
        (attention as lines) is drawn instead with real SVG lines
        (:func:`tutor.render.lines.document_svg`)."""
        if self.console is None or not (self.svg_path or self.html_path):
            return
        from tutor.files import atomic_write_text               # tempfile: only when saving

        from tutor.render.export import export_html, export_svg

        svg = lambda: export_svg(self.console, self.svg_title)          # noqa: E731
        html = lambda: export_html(self.console, self.title)            # noqa: E731
        if doc is not None:
            from tutor.render import lines
            if lines.has_lines(doc):
                svg = lambda: lines.document_svg(doc, steps)            # noqa: E731
                html = lambda: lines.document_html(doc, steps, self.title)  # noqa: E731
        write_files([
            ("--svg", self.svg_path, lambda path: atomic_write_text(path, svg())),
            ("--html", self.html_path, lambda path: atomic_write_text(path, html()))])


def write_files(writes) -> None:
    """The one loop that writes what output options ask for: ``writes`` is a list of
    ``(option, path, write)``; each option given a path is checked (``usage.check_output``:
    a usage error for a folder or a missing folder) and ``write(path)`` called. An OSError
    becomes one line naming the option and the path: ``--svg out.svg: cannot write it (...)``."""
    from .usage import check_output

    for option, path, write in writes:
        if not path:
            continue
        check_output(option, path)
        try:
            write(path)
        except OSError as exc:
            raise TutorError(f"{option} {path}: cannot write it ({exc.strerror or exc})") from None


def _cannot_write(exc: OSError) -> TutorError:
    """Standard output that cannot be written (a full disk, /dev/full): exit code 1."""
    return TutorError(f"cannot write the output to standard output ({exc.strerror or exc})")


def _same_file(a: str, b: str) -> bool:
    """Whether two output paths name one file (a device such as /dev/null takes both)."""
    if os.path.exists(a) and not os.path.isfile(a):
        return False
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def make_output(fmt, precision, svg_path, html_path) -> Output:
    """The Output of the four output options; --svg and --html naming one file is a usage
    error (the second would silently replace the first)."""
    if svg_path and html_path and _same_file(svg_path, html_path):
        from .usage import quote, usage_error
        raise usage_error("--html", f"expected a file other than --svg's, got "
                                    f"{quote(html_path, 60)} for both")
    return Output(fmt, precision, svg_path, html_path)


def pass_output(command):
    """Replace the four output parameters by one ``output`` argument built by make_output."""
    @functools.wraps(command)
    def wrapper(*args, fmt=None, precision=DEFAULT_PRECISION, svg_path=None, html_path=None,
                **kwargs):
        return command(*args, output=make_output(fmt, precision, svg_path, html_path), **kwargs)
    return wrapper


def step_option(command):
    """--step N: show one step only."""
    return click.option("--step", "step", type=int, default=None, metavar="N",
                        help="Show only step N.")(command)


def pause_option(command):
    """--pause: wait for Enter between steps (only when both ends are a terminal)."""
    return click.option("--pause", is_flag=True,
                        help="Wait for Enter between steps (ignored when not on a terminal).")(command)


def show_document(output: Output, doc, *, step: int | None = None, pause: bool = False) -> None:
    """Print a walkthrough document in the chosen format, then save the SVG/HTML copies.

    ``step`` (1-based) shows one step; a step outside the document is a usage error of --step.
    """
    from .usage import usage_error

    output.title = f"tutor {doc.command} · {doc.title}"
    output.svg_title = f"tutor {doc.command}"
    steps = doc.steps
    if step is not None:
        if not 1 <= step <= len(doc.steps):
            raise usage_error("--step", f"expected a step from 1 to {len(doc.steps)}, got {step}")
        steps = [doc.steps[step - 1]]
    if output.is_text:                         # the document; --svg/--html draw the rich one
        from tutor.render import text as emit

        if output.format == "json":
            output.write_chunks(emit.json_chunks(doc, steps))
        elif output.format == "markdown":
            output.write_text(emit.to_markdown(doc, output.precision, steps), picture=False)
        else:
            output.write_text(emit.to_latex(doc, output.precision, steps), picture=False)
        if output.console is not None:
            from tutor.render.console import document_renderables
            for renderable in document_renderables(doc, output.precision, output.console.width,
                                                   steps):
                output.console.print(renderable)
    else:
        from tutor.render.console import iter_document_renderables
        renderables = iter_document_renderables(doc, output.precision, output.console.width,
                                                steps)
        if pause and output.interactive:
            show_paged(output, renderables)
        else:
            for renderable in renderables:                     # each printed as it is made
                output.print(renderable)
    output.finish(doc, steps)


def show_paged(output: Output, renderables) -> None:
    """--pause on a terminal: the heading and the first step, then each step after Enter; a
    step taller than what is left of the terminal is shown a page at a time (Enter for more),
    so that no line scrolls away unread (the lessons' pager, :class:`tutor.render.pager.Pager`)."""
    from tutor.render.pager import Pager

    def ask(prompt: str) -> str:
        output.wait(prompt)
        return ""

    pager = Pager(output.console, output.rows, ask, more=MORE)
    for i, renderable in enumerate(renderables):
        if i >= 2:                                          # after the heading and step 1
            pager.prompt(NEXT_STEP)
        pager.print(renderable)
