"""`tutor softmax`: each step of softmax on your numbers, with a scale and a temperature."""

from __future__ import annotations

import click

from tutor.limits import MAX_VECTOR, MIN_TEMPERATURE

from .common import calculator_options, tutor_command
from .output import show_document
from .usage import usage_error
from .values import check_finite, parse_numbers

EPILOG = f"""\b
NUMBERS are separate arguments (6 4) or one list ("6,4"); at most {MAX_VECTOR}.
Negative numbers work as they are: tutor softmax -1 2.

\b
Examples:
  tutor softmax 6 4                       softmax([6, 4]) = [0.8808, 0.1192]
  tutor softmax 6 4 --scale 0.5           ÷ √dk = 2, as attention does
  tutor softmax 6 4 --temperature 10      flatter
  tutor softmax "2,1,0.1" --format json
"""


@tutor_command(EPILOG, ignore_unknown_options=True)
@click.argument("numbers", nargs=-1, required=True)
@click.option("--scale", type=float, default=1.0, show_default=True, metavar="S",
              help="Multiply the numbers by S first (attention: S = 1/√dk).")
@click.option("--temperature", type=float, default=1.0, show_default=True, metavar="T",
              help="Divide by T > 0 first: T > 1 flattens, T < 1 sharpens.")
@calculator_options(seed=False)
def softmax(numbers, scale, temperature, step, output):
    """Show softmax on NUMBERS step by step: shift by the maximum, exp, sum, divide."""
    from tutor.render.softmax import softmax_document
    from tutor.walkthroughs.softmax import softmax_steps

    for text in numbers:
        if text.startswith("--"):
            raise usage_error(text.split("=")[0], "expected --scale, --temperature, --step or "
                                                  "an output option, got an unknown option")
    x = parse_numbers("NUMBERS", numbers)                                 # [n]
    check_finite("--scale", scale)
    check_finite("--temperature", temperature, positive=True, smallest=MIN_TEMPERATURE)
    recording = softmax_steps(x, scale=scale, temperature=temperature)
    doc = softmax_document(recording, precision=output.precision)
    show_document(output, doc, step=step)
