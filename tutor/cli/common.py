"""What every command shares: the Click settings each command would otherwise repeat
(:func:`tutor_command`), and the options of the calculators, the commands that show a
document (:func:`calculator_options`: --step, --pause, --seed and the output options,
passed on as one ``output``)."""

from __future__ import annotations

import click

from tutor.limits import SEED_LIMIT

from .help import TutorCommand, TutorGroup
from .output import output_options, pass_output, pause_option, step_option

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 80}


def tutor_command(epilog: str, *, group: bool = False, cls=None, **context):
    """``click.command`` (or ``click.group``, of class ``cls``) with tutor's help options,
    help width and ``epilog``; ``context`` adds Click context settings."""
    make = click.group if group else click.command
    options = {"cls": cls if cls is not None else (TutorGroup if group else TutorCommand)}

    def decorate(function):
        return make(epilog=epilog, context_settings={**CONTEXT_SETTINGS, **context},
                    **options)(function)
    return decorate


def _check_seed(ctx, param, value):
    if value is not None and not 0 <= value < SEED_LIMIT:
        raise click.BadParameter(f"expected a whole number from 0 to {SEED_LIMIT - 1}, got {value}",
                                 ctx=ctx, param=param)
    return value


def seed_option(command):
    """--seed: one seed for everything random in the command."""
    return click.option("--seed", type=int, default=0, callback=_check_seed,
                        show_default=True, metavar="N",
                        help="Seed for every 'random' matrix (same seed, same numbers).")(command)


def calculator_options(*, seed: bool = True, pause: bool = False):
    """--step, then --pause and --seed when asked, then --format, --precision, --svg, --html;
    the four output options reach the command as one ``output`` (an Output)."""
    def decorate(command):
        command = output_options(pass_output(command))
        if seed:
            command = seed_option(command)
        if pause:
            command = pause_option(command)
        return step_option(command)
    return decorate
