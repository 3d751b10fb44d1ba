"""The shared usage-error helpers of the commands: one-line errors that name the option,
what was expected and what was given (exit code 2), and the bookkeeping that keeps a command
from writing over a file it read. Imports no NumPy."""

from __future__ import annotations

import os

import click


def shape_text(shape) -> str:
    """(3, 4) -> '3×4'."""
    return "×".join(str(n) for n in shape)


def quote(text: str, limit: int = 40) -> str:
    """A user's text, quoted and shortened so that an error stays on one line."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"'{text}'"


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
