"""The shared usage-error helpers of the commands: one-line errors that name the option,
what was expected and what was given (exit code 2), and the bookkeeping that keeps a command
from writing over a file it read. Imports no NumPy."""

from __future__ import annotations

import os

import click

from tutor.errors import ECHO_LIMIT, number_text, printable, quote  # noqa: F401  (re-exported: the commands
#                                                           escape and echo with them)


def shape_text(shape) -> str:
    """(3, 4) -> '3×4'; () -> '() (a single number, no axes)'."""
    if len(shape) == 0:
        return "() (a single number, no axes)"
    return "×".join(str(n) for n in shape)


def undecodable(text: str) -> bool:
    """Whether ``text`` came from bytes that are not UTF-8 (Python keeps each such byte of a
    command line as a lone surrogate)."""
    return any(0xD800 <= ord(char) <= 0xDFFF for char in str(text))


def utf8_argument(text: str) -> str:
    """A command-line argument as the UTF-8 text its bytes spell. Under the C locale without
    UTF-8 mode (``LC_ALL=C PYTHONUTF8=0``) Python decodes the command line as ASCII, keeping
    every other byte as a lone surrogate, so ``café`` arrives as 'caf\\udcc3\\udca9': its
    bytes are decoded again as UTF-8 before they are judged. Bytes that are not UTF-8 stay
    lone surrogates (:func:`undecodable`)."""
    if not undecodable(text):
        return text
    try:
        return os.fsencode(text).decode("utf-8", "surrogateescape")
    except UnicodeError:                       # not bytes from the command line
        return text


class Text(click.ParamType):
    """A sentence or a word typed on the command line: UTF-8 text without control
    characters. Every command that takes a sentence declares it with this type, so that bytes
    that are not UTF-8 (``$'\\xff\\xfe bad'``) or an escape sequence (``$'\\x1b[2J'``) are a
    one-line usage error naming the argument, in every command alike, before anything is
    computed or printed."""

    name = "text"

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        value = utf8_argument(value)
        if undecodable(value):
            self.fail(f"expected text in UTF-8, got {quote(value)}, which holds bytes that "
                      f"are not UTF-8", param, ctx)
        if printable(value) != value:
            self.fail(f"expected text without control characters, got {quote(value)}",
                      param, ctx)
        return value


TEXT = Text()


def note_input(path: str) -> None:
    """Remember a file this command reads, so that no output of it can overwrite the file."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.find_root().meta.setdefault("tutor.inputs", set()).add(os.path.realpath(path))


def check_output(option: str, path: str) -> None:
    """An output path must not be one of the files the command read."""
    ctx = click.get_current_context(silent=True)
    read = set() if ctx is None else ctx.find_root().meta.get("tutor.inputs", set())
    if os.path.realpath(path) in read:
        raise usage_error(option, f"expected a file other than the command's inputs, got "
                                  f"{quote(path, 60)}, which it reads")


def usage_error(option: str, message: str) -> click.BadParameter:
    """A usage error about ``option`` (exit code 2): 'Invalid value for '--wq': ...'."""
    return click.BadParameter(message, ctx=click.get_current_context(silent=True),
                              param_hint=f"'{option}'")


def unusable_file(option: str, path, reason) -> click.BadParameter:
    """A file the user named (--model, --weights, ...) that cannot be used: the usage error
    'Invalid value for '--model': <file>: <reason>' (exit code 2), whatever part of reading
    it failed. ``reason``: text or an exception; one that already starts with the file (or a
    file inside the folder) is not prefixed again."""
    path, text = os.fspath(path), str(reason)
    if not (text.startswith(path + ":") or text.startswith(path + os.sep)):
        text = f"{path}: {text}"
    return usage_error(option, text)


def check_limit(option: str, value: int, limit: int, what: str, low: int = 1) -> None:
    """``value`` must be in [low, limit]."""
    if value < low or value > limit:
        raise usage_error(option, f"expected {what} from {low} to {limit}, got {value}")


def typed(name: str) -> bool:
    """Whether the parameter ``name`` was given on the command line (not its default): the
    check behind 'an option that has no effect in this mode is a usage error'."""
    from click.core import ParameterSource

    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.get_parameter_source(name) not in (None,
                                                                       ParameterSource.DEFAULT)
