"""Options shared by every calculator command and the one place that decides how output looks.

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

FORMATS = ("rich", "plain", "json", "markdown", "latex")
TEXT_FORMATS = ("json", "markdown", "latex")
DEFAULT_PRECISION = 2
MAX_PRECISION = 10


def _check_precision(ctx, param, value):
    if value is not None and not 0 <= value <= MAX_PRECISION:
        raise click.BadParameter(f"expected a number of decimals from 0 to {MAX_PRECISION}, "
                                 f"got {value}", ctx=ctx, param=param)
    return value


def _check_path(ctx, param, value):
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


def _check_seed(ctx, param, value):
    if value is not None and not 0 <= value < 2**32:
        raise click.BadParameter(f"expected a whole number from 0 to {2**32 - 1}, got {value}",
                                 ctx=ctx, param=param)
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
        click.option("--svg", "svg_path", type=str, default=None,
                     callback=_check_path, metavar="FILE",
                     help="Also save what was printed as an SVG picture."),
        click.option("--html", "html_path", type=str, default=None,
                     callback=_check_path, metavar="FILE",
                     help="Also save what was printed as an HTML page."),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def seed_option(command):
    """--seed: one seed for everything random in the command."""
    return click.option("--seed", type=int, default=0, callback=_check_seed,
                        show_default=True, metavar="N",
                        help="Seed for every 'random' matrix (same seed, same numbers).")(command)


def no_color_requested(environ=None) -> bool:
    environ = os.environ if environ is None else environ
    return bool(environ.get("NO_COLOR")) or environ.get("TERM") == "dumb"


def resolve_format(fmt: str | None, stream=None, environ=None) -> str:
    """The format to use: the one asked for, else rich on a terminal and plain otherwise."""
    if fmt:
        return fmt.lower()
    stream = sys.stdout if stream is None else stream
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    return "rich" if is_tty and not no_color_requested(environ) else "plain"


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
        self.width = width
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
            return Console(file=io.StringIO(), record=True, width=self.width or 100,
                           color_system=None) if record else None
        if self.format == "rich":
            return Console(file=self.stream, record=record, width=self.width,
                           force_terminal=True if not self.stream.isatty() else None,
                           highlight=False, emoji=False)
        return Console(file=self.stream, record=record, width=self.width or 80,
                       color_system=None, force_terminal=False, no_color=True,
                       highlight=False, emoji=False)

    def write_text(self, text: str) -> None:
        """A json/markdown/latex document, written exactly."""
        if not text.endswith("\n"):
            text += "\n"
        self.stream.write(text)
        self.stream.flush()
        if self.console is not None:
            from rich.text import Text
            self.console.print(Text(text.rstrip("\n")), soft_wrap=True)

    def print(self, renderable) -> None:
        self.console.print(renderable)

    def pause(self) -> None:
        """Wait for Enter, only when both ends are a terminal."""
        if self.interactive:
            self.console.input("[dim]Press Enter for the next step…[/dim]")

    def finish(self) -> None:
        """Write the SVG/HTML copies of what was printed."""
        if self.console is None:
            return
        from tutor.files import atomic_write_text

        from .inputs import check_output

        exports = [("--svg", self.svg_path, lambda: self.console.export_svg(title="tutor", clear=False)),
                   ("--html", self.html_path, lambda: self.console.export_html(clear=False))]
        for option, path, export in exports:
            if not path:
                continue
            check_output(option, path)
            try:
                atomic_write_text(path, export())
            except OSError as exc:
                raise TutorError(f"{option} {path}: cannot write it ({exc.strerror or exc})") from None


def make_output(fmt, precision, svg_path, html_path) -> Output:
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
    from tutor.cli.inputs import usage_error

    steps = doc.steps
    if step is not None:
        if not 1 <= step <= len(doc.steps):
            raise usage_error("--step", f"expected a step from 1 to {len(doc.steps)}, got {step}")
        steps = [doc.steps[step - 1]]
    if output.format == "json":
        from tutor.render.text import to_json
        output.write_text(to_json(doc, steps))
    elif output.format == "markdown":
        from tutor.render.text import to_markdown
        output.write_text(to_markdown(doc, output.precision, steps))
    elif output.format == "latex":
        from tutor.render.text import to_latex
        output.write_text(to_latex(doc, output.precision, steps))
    else:
        from tutor.render.console import document_renderables
        renderables = document_renderables(doc, output.precision, output.console.width, steps)
        for i, renderable in enumerate(renderables):
            if pause and i >= 2:                # after the heading and the first step
                output.pause()
            output.print(renderable)
    output.finish()


# --- the encoder/decoder stack: a random model or a real one -------------------------------

MAX_LAYERS = 6
MAX_WEIGHTS_BYTES = 2 * 2 ** 30   # the arrays of a --weights file, before any is read
MAX_FF = 256


def stack_options(command):
    """--weights, --heads, --layers, --dim, --ff, --norm-first, --activation, --eps,
    --save-weights, --output, --detail: shared by `tutor encode` and `tutor transformer`."""
    decorators = [
        click.option("--weights", type=str, default=None, metavar="FILE",
                     help="A real model: an .npz of PyTorch nn.Transformer state-dict names; "
                          "widths and layer counts are read from the shapes."),
        click.option("--heads", type=int, default=None, metavar="H",
                     help="Attention heads, must divide d_model. [default: 2; required with "
                          "--weights, whose file does not say]"),
        click.option("--layers", type=int, default=None, metavar="N",
                     help=f"Layers per stack, 1-{MAX_LAYERS}. [default: 1; random model only]"),
        click.option("--dim", type=int, default=None, metavar="D",
                     help="d_model. [default: 4; random model only]"),
        click.option("--ff", type=int, default=None, metavar="F",
                     help=f"Feed-forward width, 1-{MAX_FF}. [default: 2×d_model; random model only]"),
        click.option("--norm-first", is_flag=True, help="Pre-norm: x + sublayer(norm(x))."),
        click.option("--activation", type=click.Choice(["relu", "gelu"]), default="relu",
                     show_default=True, help="Feed-forward activation."),
        click.option("--eps", type=float, default=1e-5, show_default=True, metavar="E",
                     help="Layer-norm epsilon (> 0)."),
        click.option("--save-weights", type=str, default=None,
                     callback=_check_path, metavar="FILE", help="Save the model as .npz."),
        click.option("--output", "output_path", type=str, default=None,
                     callback=_check_path, metavar="FILE.npy",
                     help="Write the final output array as .npy."),
        click.option("--detail", type=click.Choice(["summary", "full"]), default="summary",
                     show_default=True, help="summary: attention and each layer's output; "
                                             "full: every add & norm and feed-forward too."),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def build_model(weights, heads, layers, dim, ff, norm_first, activation, eps, seed):
    """The Transformer to run: loaded from --weights, or random from --seed. Limits are checked
    before anything is allocated; a file of the wrong shape names the parameter (exit 1)."""
    from tutor.errors import TutorError
    from tutor.nn.model import Transformer
    from tutor.weightfiles import load_weights

    from .inputs import (MAX_DIM, MAX_HEADS, MAX_MODEL_DIM, check_finite, check_limit, note_input,
                         quote, usage_error)

    if heads is None and weights is None:
        heads = 2
    if heads is not None:
        check_limit("--heads", heads, MAX_HEADS, "a number of heads")
    check_finite("--eps", eps, positive=True)
    if weights is not None:
        for option, value in (("--layers", layers), ("--dim", dim), ("--ff", ff)):
            if value is not None:
                raise usage_error(option, "expected no size with --weights (they are read from "
                                          f"the file), got {option} {value}")
        if not os.path.isfile(weights):
            raise usage_error("--weights", f"expected an existing .npz file, got {quote(weights, 60)}")
        if heads is None:                                              # as nn.Transformer's nhead
            raise usage_error("--heads", "expected the number of heads the --weights model "
                                         "was made with (a state dict does not record it), "
                                         "got none")
        note_input(weights)
        try:
            state = load_weights(weights, max_bytes=MAX_WEIGHTS_BYTES)
        except TutorError as exc:                                      # name the option too
            raise TutorError(f"--weights {exc}") from None
        key = "encoder.layers.0.self_attn.in_proj_weight"
        if key in state and state[key].ndim == 2:
            d_model = state[key].shape[1]
            if d_model > MAX_MODEL_DIM:
                raise usage_error("--weights", f"expected d_model at most {MAX_MODEL_DIM}, got "
                                               f"{d_model} in {weights}")
            if d_model % heads:
                raise usage_error("--heads", f"expected a number that divides d_model {d_model} "
                                             f"(from --weights), got {heads}")
        try:
            return Transformer.from_state_dict(state, heads, norm_first=norm_first,
                                               activation=activation, layer_norm_eps=eps)
        except TutorError as exc:                                      # name the file too
            raise TutorError(f"--weights {weights}: {exc}") from None
    layers = 1 if layers is None else layers
    dim = 4 if dim is None else dim
    check_limit("--layers", layers, MAX_LAYERS, "a number of layers")
    check_limit("--dim", dim, MAX_DIM, "a width")
    ff = 2 * dim if ff is None else ff
    check_limit("--ff", ff, MAX_FF, "a width")
    if dim % heads:
        raise usage_error("--heads", f"expected a number that divides --dim {dim}, got {heads}")
    return Transformer.random(dim, heads, layers, layers, ff, seed=seed, norm_first=norm_first,
                              activation=activation, layer_norm_eps=eps)


def width_from_vectors(weights, dim, option: str, path):
    """--dim for a random model that is given only vectors: their width, so that it need not
    be repeated. With --weights or --dim the vectors are checked against those instead."""
    from .inputs import MAX_DIM, read_vectors, usage_error

    if weights is not None or dim is not None or path is None:
        return dim
    width = read_vectors(option, path).shape[-1]
    if width > MAX_DIM:
        raise usage_error(option, f"expected at most {MAX_DIM} columns for a random model "
                                  f"(give --weights for a wider one), got {width}")
    return width


def match_dtype(model, weights, option: str, vectors):
    """The model in the dtype of the user's vectors: a random model is built in float64 and
    follows them; a model from --weights keeps its dtype, and vectors of another dtype are a
    usage error (as in PyTorch, nothing is converted silently)."""
    from .inputs import usage_error

    if vectors.dtype == model.dtype:
        return model
    if weights is None:
        return model.astype(vectors.dtype)
    raise usage_error(option, f"expected {model.dtype} numbers like --weights, got "
                              f"{vectors.dtype}; save both in one dtype")


def save_results(model, save_weights, output_path, result) -> None:
    """--save-weights and --output: write the model and the final array."""
    import numpy as np

    from tutor.files import atomic_write

    from .inputs import check_output

    writes = [("--save-weights", save_weights, model.save),
              ("--output", output_path, lambda path: atomic_write(path, lambda f: np.save(f, result)))]
    for option, path, write in writes:
        if not path:
            continue
        check_output(option, path)
        try:
            write(path)
        except OSError as exc:
            raise TutorError(f"{option} {path}: cannot write it ({exc.strerror or exc})") from None
