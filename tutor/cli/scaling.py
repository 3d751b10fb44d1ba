"""`tutor scaling`: why attention divides the scores by √dk, measured on random vectors."""

from __future__ import annotations

import click

from tutor.limits import (MAX_DK, MAX_DK_VALUES, MAX_ELEMENTS, MAX_KEYS, MAX_SAMPLES, MIN_KEYS,
                          MIN_SAMPLES)

from .common import calculator_options, tutor_command
from .output import show_document
from .usage import check_limit, quote, usage_error
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

\b
--train measures it instead: the same encoder-decoder learns to reverse
digits with and without ÷√dk, for each dk (default 4 16 64; each must divide
--dim, and the heads are --dim / dk), from the same weights and batches; the
loss curves side by side, then what was measured. About a minute:
  tutor scaling --train
  tutor scaling --train --dk 64 --steps 500 --gain 4
  tutor scaling --train --format json > curves.json
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
            raise usage_error("--dk", f"expected whole numbers, got {quote(text)}") from None
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
@click.option("--train", is_flag=True,
              help="Train a small model with and without ÷√dk instead, and compare.")
@click.option("--steps", type=int, default=None, metavar="N",
              help="With --train: training steps of each run. [default: 300]")
@click.option("--dim", type=int, default=None, metavar="D",
              help="With --train: d_model of the model. [default: 64]")
@click.option("--gain", type=float, default=None, metavar="G",
              help="With --train: factor on the initial query and key weights. [default: 1]")
@calculator_options()
@click.pass_context
def scaling(ctx, dk_args, dk_options, samples, keys, train, steps, dim, gain, seed, step, output):
    """Show why attention divides by √dk: with random q and k of unit variance, the spread of
    q·k grows like √dk; unscaled, the softmax saturates and its gradient vanishes; scaled, it
    stays balanced. With --train, measure it by training."""
    from click.core import ParameterSource

    from tutor.render.scaling import scaling_document
    from tutor.walkthroughs.softmax import scaling as scaling_walkthrough

    given = {name for name in ("samples", "keys", "steps", "dim", "gain")
             if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}
    wrong = sorted(given & ({"samples", "keys"} if train else {"steps", "dim", "gain"}))
    if wrong:
        raise usage_error(f"--{wrong[0]}", "expected it without --train" if train else
                          "expected it with --train (it sets the training run)")
    if train:
        from .scaling_training import DEFAULT_DIM, DEFAULT_DKS, DEFAULT_STEPS, train_scaling

        dks = _dk_values(dk_options, dk_args) if dk_options or dk_args else list(DEFAULT_DKS)
        train_scaling(dks, dim=DEFAULT_DIM if dim is None else dim,
                      steps=DEFAULT_STEPS if steps is None else steps,
                      gain=1.0 if gain is None else gain, seed=seed, step=step, output=output)
        return
    dks = _dk_values(dk_options, dk_args)
    check_limit("--samples", samples, MAX_SAMPLES, "a number of samples", low=MIN_SAMPLES)
    check_limit("--keys", keys, MAX_KEYS, "a number of keys", low=MIN_KEYS)
    if samples * keys * max(dks) > MAX_ELEMENTS:
        raise usage_error("--samples", f"expected --samples × --keys × the largest dk to be at "
                                       f"most {MAX_ELEMENTS:,}, got {samples} × {keys} × "
                                       f"{max(dks)} = {samples * keys * max(dks):,}")
    recording = scaling_walkthrough(dks, rng_for(seed, "scaling"), samples, keys)
    doc = scaling_document(recording, precision=output.precision, seed=seed)
    show_document(output, doc, step=step)
