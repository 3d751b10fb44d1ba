"""The ``tutor`` command: a Click group whose subcommands load on first use, so that
``tutor --help`` imports neither NumPy nor Rich. Errors are mapped to exit codes in one place,
:func:`main`."""

from __future__ import annotations

import errno
import importlib
import os
import sys

import click

from tutor import __version__

from .help import TutorGroup, help_width

# name -> (module, attribute, one-line help shown by `tutor --help` without importing the module)
COMMANDS: dict[str, tuple[str, str, str]] = {}

# `tutor --help` lists the commands in these sections, in this order: the 2017 design's
# calculators, today's parts that replaced them, then the course, real models and tools.
SECTIONS = {"2017": "The 2017 Transformer", "today": "Today's LLMs (what changed since 2017)",
            "more": "The course, real models and tools"}
SECTION_OF: dict[str, str] = {}


def register(name: str, module: str, attr: str, short_help: str, section: str = "more") -> None:
    """Make ``tutor NAME`` run ``module.attr`` (imported on first use), listed under
    ``section`` (a key of SECTIONS) by ``tutor --help``."""
    if section not in SECTIONS:
        raise ValueError(f"section must be one of {sorted(SECTIONS)}, got {section!r}")
    COMMANDS[name] = (module, attr, short_help)
    SECTION_OF[name] = section


class LazyGroup(TutorGroup):
    """A group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        for section, heading in SECTIONS.items():
            rows = [(name, help_) for name, (_, _, help_) in COMMANDS.items()
                    if SECTION_OF.get(name, "more") == section]
            if rows:
                with formatter.section(heading):
                    formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"],
                                               "max_content_width": 80})
@click.version_option(version=__version__, prog_name="tutor")    # also from a source tree
def cli():
    """Learn, check and compute how a Transformer works.

    \b
    Examples:
      tutor attention "the cat sat"     the six steps of self-attention
      tutor attention --help            options: your own vectors and weights

    Set TUTOR_DEBUG=1 to see a traceback instead of a one-line error.
    """


def main(argv=None) -> None:
    """Run the CLI; the one place where exceptions become exit codes.

    Usage errors exit 2 (Click's), the library's own errors exit 1 with ``Error: ...``,
    Ctrl-C exits 130, and a closed stdout (``tutor ... | head -1``) ends quietly. Every error
    line goes through :func:`_error`: control characters escaped, and a standard error that
    cannot be written (``2>/dev/full``) changes no exit code. A standard output whose encoding
    cannot show tutor's symbols (``PYTHONIOENCODING=latin-1``, ``LC_ALL=C``) gets ASCII
    stand-ins (:func:`tutor.cli.encoding.ascii_fallback`).
    """
    from tutor.errors import TutorError

    from .encoding import ascii_fallback

    ascii_fallback()
    _usable_stdin()
    try:
        code = cli.main(args=argv, prog_name="tutor", standalone_mode=False,
                        terminal_width=help_width())
        sys.stdout.flush()                     # a full disk shows here, not at interpreter exit
        if isinstance(code, int) and code:                             # ctx.exit(n) returns n here
            sys.exit(code)
    except click.exceptions.Abort:
        _error("Aborted.", 130, prefix="")
    except KeyboardInterrupt:
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as exc:                  # plain `tutor`: the help
        click.echo(exc.ctx.get_help())
        sys.exit(0)
    except click.ClickException as exc:                                # one line, usage errors too
        _error(exc.format_message(), exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        _silence_stdout()
        sys.exit(1)
    except TutorError as exc:
        if os.environ.get("TUTOR_DEBUG"):
            raise
        _error(str(exc), 1)
    except OSError as exc:
        if exc.errno not in _WRITE_ERRORS or os.environ.get("TUTOR_DEBUG"):
            _internal_error(exc)
        _silence_stdout()                      # an output that cannot be written: exit 1
        _error(f"cannot write the output to standard output ({exc.strerror or exc})", 1)
    except Exception as exc:  # a bug: say so in one line unless debugging
        _internal_error(exc)


def _usable_stdin() -> None:
    """Standard input as every command may use it. A closed one (``tutor lesson <&-``: Python
    sets ``sys.stdin`` to None) becomes ``/dev/null``, so it is treated as ``< /dev/null`` is:
    no terminal, no input. An input whose bytes its encoding cannot decode (``é`` under
    ``PYTHONIOENCODING=ascii``) keeps them as escapes (surrogateescape) instead of raising
    UnicodeDecodeError: the code reading an answer judges and echoes them
    (:func:`tutor.cli.usage.quote`). An encoding in which a newline is not the byte 0x0a
    (``PYTHONIOENCODING=utf-16``) is read as UTF-8: no terminal or pipe of lines types it."""
    if sys.stdin is None or getattr(sys.stdin, "closed", False):
        try:
            sys.stdin = open(os.devnull, encoding="utf-8")
        except OSError:
            return
    try:
        encoding = sys.stdin.encoding or "utf-8"
        if "\n".encode(encoding, "replace") != b"\n":          # UTF-16/32: not how a terminal
            encoding = "utf-8"                                 # or a pipe of lines is typed
        sys.stdin.reconfigure(encoding=encoding, errors="surrogateescape")
    except (AttributeError, ValueError, OSError, LookupError):
        pass


def _error(message: str, code: int, *, prefix: str = "Error: "):
    """Print one error line on standard error and exit with ``code``. Control characters in
    the message (from a file's name, say) are escaped, so no error can move the cursor or
    clear the terminal; a standard error that cannot be written is let go (the exit code
    still tells)."""
    from .usage import printable

    text = "\n".join(printable(line) for line in f"{prefix}{message}".split("\n"))
    try:
        click.echo(text, err=True)
        sys.stderr.flush()
    except (OSError, ValueError):
        _silence(sys.stderr)
    sys.exit(code)


# a write that failed for want of room or of a device (a full disk, /dev/full): the user's
# output, not a bug
_WRITE_ERRORS = {errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EDQUOT}


def _internal_error(exc: BaseException):
    """A bug: one line and exit code 3, unless TUTOR_DEBUG asks for the traceback."""
    if os.environ.get("TUTOR_DEBUG"):
        raise exc
    _error(f"internal error ({type(exc).__name__}: {exc}); rerun with TUTOR_DEBUG=1 and "
           f"report it", 3)


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at devnull so Python's exit flush stays quiet."""
    _silence(sys.stdout)


def _silence(stream) -> None:
    """Point ``stream``'s file descriptor at devnull, so that Python's flush at exit of what
    could not be written stays quiet (and changes no exit code)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError, AttributeError):
        pass


register("attention", "tutor.cli.attention", "attention",
         "The six steps of self-attention on your sentence, vectors and weights.", "2017")
register("posenc", "tutor.cli.posenc", "posenc",
         "Positional encodings: the sinusoidal table, learned tables, why order needs them.", "2017")
register("lesson", "tutor.cli.lesson", "lesson",
         "The course: lessons with live computations and questions (resume, list, reset).")
register("softmax", "tutor.cli.softmax", "softmax",
         "Softmax step by step: shift, exp, sum, divide; with a scale and a temperature.", "2017")
register("layernorm", "tutor.cli.layernorm", "layernorm",
         "Layer norm step by step; batch norm beside it; add & norm.", "2017")
register("multihead", "tutor.cli.multihead", "multihead",
         "Multi-head attention: split into heads, each head, concatenate, project.", "2017")
register("encode", "tutor.cli.encode", "encode",
         "The encoder stack layer by layer; a real model with --weights.", "2017")
register("transformer", "tutor.cli.transformer", "transformer",
         "Encoder and decoder together, to the next-token distribution; --weights for a real model.", "2017")
register("scaling", "tutor.cli.scaling", "scaling",
         "Why attention divides by √dk: q·k spread, softmax saturation, gradients.", "2017")
register("backward", "tutor.cli.backward", "backward",
         "Backpropagation through one attention head: every gradient, then one descent step.", "2017")
register("heads", "tutor.cli.heads", "heads",
         "Every attention head of a real model (MiniLM) as a small heatmap, labelled by pattern.")
register("context", "tutor.cli.context", "context",
         "A word's vector in two sentences, layer by layer: contextual embeddings measured.")
register("models", "tutor.cli.models", "models",
         "The real models tutor can find offline, and where (packages, HF cache, folders).")
register("train", "tutor.cli.train", "train",
         "Train a small encoder-decoder to reverse, copy or sort digits (NumPy backprop).")
register("generate", "tutor.cli.generate", "generate",
         "How a model writes one token at a time: greedy, sampling, beam search, the cache.")
register("explore", "tutor.cli.explore", "explore",
         "A full-screen explorer: edit inputs and weights, watch every step change.")
register("rmsnorm", "tutor.cli.rmsnorm", "rmsnorm",
         "RMSNorm step by step, beside layer norm: what dropping the mean changes.", "today")
register("rope", "tutor.cli.rope", "rope",
         "Rotary position embedding: pairs turned by pos·θ; scores depend on m − n.", "today")
register("gqa", "tutor.cli.gqa", "gqa",
         "Grouped-query attention: shared key/value heads, the cache per token.", "today")
register("ffn", "tutor.cli.ffn", "ffn",
         "Feed-forward blocks: SwiGLU's gate beside ReLU and GELU; parameter counts.", "today")
register("quantize", "tutor.cli.quantize", "quantize",
         "Block quantization (Q8_0, Q4_1): scale, codes, error; bits per weight.", "today")
register("flash", "tutor.cli.flash", "flash",
         "Online softmax (FlashAttention's core): keys in blocks, running max and sum.", "today")
register("bpe", "tutor.cli.bpe", "bpe",
         "Byte-level BPE: a model's tokenizer merge by merge, ending in its ids.", "today")
register("decoder-only", "tutor.cli.decoder_only", "decoder_only",
         "Decoder-only models: the causal mask as the only mask, the tied output head.",
         "today")
