"""`tutor scaling`: why attention divides the scores by √dk, measured on random vectors."""

from __future__ import annotations

import click

from tutor.limits import (MAX_DK, MAX_DK_VALUES, MAX_ELEMENTS, MAX_KEYS, MAX_SAMPLES, MIN_KEYS,
                          MIN_SAMPLES)

from .common import calculator_options, tutor_command
from .output import show_document
from .usage import check_limit, usage_error
from .matrix_specs import SpecError, split_entries
from .values import rng_for

EPILOG = f"""\b
DK values follow --dk (--dk 4 64 512), or come as one list (--dk 4,64,512)
or as arguments (tutor scaling 4 64 512). Default: 4 64 512.
Limits: at most {MAX_DK_VALUES} values of dk from 1 to {MAX_DK}; --samples up to {MAX_SAMPLES};
--keys from 2 to {MAX_KEYS}; --samples × --keys × the largest dk at most {MAX_ELEMENTS:,}.

\b
Examples:
  tutor scaling                          dk = 4, 64, 512
  tutor scaling --dk 1 16 256 4096 --samples 500
  tutor scaling --keys 2 --seed 7        two keys per query
  tutor scaling --format json
"""


def _dk_values(dk_options, dk_args) -> list[int]:
    try:
        texts = [part for text in (*dk_options, *dk_args) for part in split_entries(text)]
    except SpecError as exc:
        raise usage_error("--dk", str(exc)) from None
    if not texts:
        return [4, 64, 512]
    values = []
    for text in texts:
        try:
            value = int(text)
        except ValueError:
            raise usage_error("--dk", f"expected whole numbers, got {text!r}") from None
        check_limit("--dk", value, MAX_DK, "a width")
        values.append(value)
    if len(values) > MAX_DK_VALUES:
        raise usage_error("--dk", f"expected at most {MAX_DK_VALUES} values, got {len(values)}")
    return sorted(set(values))


@tutor_command(EPILOG)
@click.argument("dk_args", nargs=-1, metavar="[DK]...")
@click.option("--dk", "dk_options", multiple=True, metavar="DK",
              help="Widths of q and k to compare (repeatable, or a list).")
@click.option("--samples", type=int, default=2000, show_default=True, metavar="N",
              help="Random queries drawn for each dk.")
@click.option("--keys", type=int, default=8, show_default=True, metavar="K",
              help="Keys each query is compared with (the softmax's width).")
@calculator_options()
def scaling(dk_args, dk_options, samples, keys, seed, step, output):
    """Show why attention divides by √dk: with random q and k of unit variance, the spread of
    q·k grows like √dk; unscaled, the softmax saturates and its gradient vanishes; scaled, it
    stays balanced."""
    from tutor.render.scaling import scaling_document
    from tutor.walkthroughs.softmax import scaling as scaling_walkthrough

    dks = _dk_values(dk_options, dk_args)
    check_limit("--samples", samples, MAX_SAMPLES, "a number of samples", low=MIN_SAMPLES)
    check_limit("--keys", keys, MAX_KEYS, "a number of keys", low=MIN_KEYS)
    if samples * keys * max(dks) > MAX_ELEMENTS:
        raise usage_error("--samples", f"expected --samples × --keys × the largest dk to be at "
                                       f"most {MAX_ELEMENTS:,}, got {samples} × {keys} × "
                                       f"{max(dks)} = {samples * keys * max(dks):,}")
    recording = scaling_walkthrough(dks, rng_for(seed, "scaling"), samples, keys)
    doc = scaling_document(recording.trace, precision=output.precision, samples=samples, keys=keys, seed=seed)
    show_document(output, doc, step=step)
