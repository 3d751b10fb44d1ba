"""`tutor explore`: the full-screen explorer (the ``explore`` extra, Textual). Thin: check
the options, build the explorer's state, run the app. Textual is imported only here, when
the command runs."""

from __future__ import annotations

import sys

import click

from tutor.limits import MAX_DIM, MAX_HEADS, MAX_PRECISION, MAX_TOKENS
from tutor.resources import EXPLORE_EXTRA_HINT as EXTRA

from .common import seed_option, tutor_command
from .usage import TEXT, check_limit, usage_error
from .values import parse_sentence

EPILOG = f"""\b
Keys: 1-9 or , . steps (9: the whole block: residual add, layer norm,
feed-forward) · arrows and tab move · enter edits a cell (X, Wq, Wk, Wv,
Wo) · + - nudge it by 0.1 · e the sentence · h heads · s scaling · c causal
· p positional encoding · r random weights · ? help · q quit.
With --model: up/down layers · left/right heads · e the input · b the
layer's whole block, with the next-token bar: t T temperature, k K top-k,
p P top-p, 0 all off.

\b
Limits: at most {MAX_TOKENS} words, --dim at most {MAX_DIM}, --heads at most {MAX_HEADS} and a
divisor of --dim.

\b
Needs the explore extra: {EXTRA}

\b
Examples:
  tutor explore "the cat sat"                 the worked example, live
  tutor explore "the cat sat" --causal        a decoder's masked attention
  tutor explore "the cat sat on the mat" --heads 2 --random
  tutor explore --model reverse 31415         a trained toy model's heads
  tutor explore --model minilm "the bank of the river"
"""


def load_app_class():
    """The Textual app class; without Textual, a one-line error naming the extra."""
    try:
        import textual  # noqa: F401
    except ImportError:
        raise click.ClickException(f"tutor explore needs Textual: {EXTRA}") from None
    from tutor.explore.app import ExploreApp

    return ExploreApp


def need_terminal(stdin=None, stdout=None) -> None:
    """The explorer draws full-screen and reads keys: without a terminal on both standard
    input and output (``echo q | tutor explore``, ``tutor explore > file``) it would write
    escape codes into a pipe and wait for keys that never come, so it is a usage error."""
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    missing = [name for name, stream in (("input", stdin), ("output", stdout))
               if not (hasattr(stream, "isatty") and stream.isatty())]
    if missing:
        raise click.UsageError(f"tutor explore is full-screen and needs a terminal; standard "
                               f"{' and '.join(missing)} "
                               f"{'is not one' if len(missing) == 1 else 'are not terminals'} "
                               f"(use tutor attention for printed output)")


@tutor_command(EPILOG)
@click.argument("sentence", type=TEXT, required=False)
@click.option("--dim", type=int, default=None, metavar="N",
              help="d_model, the width of each word's embedding (Wq, Wk, Wv are N×N). "
                   "[default: 4]")
@click.option("--heads", type=int, default=None, metavar="H",
              help="Number of heads; must divide --dim. [default: 1]")
@click.option("--no-scale", is_flag=True, help="Start without the ÷√dk.")
@click.option("--causal", is_flag=True, help="Start with the causal mask.")
@click.option("--posenc", is_flag=True, help="Start with sinusoidal positional encodings.")
@click.option("--random", "random_weights", is_flag=True,
              help="Start with random weights (from --seed) instead of the identity.")
@click.option("--precision", type=int, default=2, show_default=True, metavar="N",
              help="Decimals shown.")
@click.option("--model", "model_name", default=None, metavar="NAME",
              help="A trained model instead: a shipped toy model (reverse, copy, sort; "
                   "SENTENCE is digits) or a real one (minilm, a Hugging Face folder or cache "
                   "name). Move between its layers and heads.")
@seed_option
def explore(sentence, dim, heads, no_scale, causal, posenc, random_weights, precision,
            model_name, seed):
    """Explore self-attention on SENTENCE full-screen: edit the sentence, any cell of X, Wq,
    Wk, Wv, the heads, scaling, the causal mask and positional encoding, and watch every
    step change at once."""
    if not 0 <= precision <= MAX_PRECISION:
        raise usage_error("--precision", f"expected 0 to {MAX_PRECISION}, got {precision}")
    if model_name is not None:
        from .pretrained_options import refuse_with_model

        refuse_with_model({"--dim": dim, "--heads": heads, "--no-scale": no_scale,
                           "--causal": causal, "--posenc": posenc, "--random": random_weights})
        return explore_model(model_name, sentence, precision)
    dim = 4 if dim is None else dim
    heads = 1 if heads is None else heads
    app_class = load_app_class()
    from tutor.errors import SettingError
    from tutor.explore.state import ExploreState

    sentence = "the cat sat" if sentence is None else sentence
    parse_sentence("SENTENCE", sentence)
    check_limit("--dim", dim, MAX_DIM, "a width")
    check_limit("--heads", heads, MAX_HEADS, "a number of heads")
    if dim % heads:
        raise usage_error("--heads", f"expected a number that divides --dim {dim}, got {heads}")
    try:
        state = ExploreState(sentence, d_model=dim, heads=heads, scaled=not no_scale,
                             causal=causal, posenc=posenc, precision=precision, seed=seed)
    except SettingError as exc:
        raise usage_error(f"--{exc.name}", str(exc)) from None
    if random_weights:
        state.random_weights(seed)
    need_terminal()
    app_class(state).run()


def explore_model(name: str, sentence: str | None, precision: int) -> None:
    """--model: the model screen. A shipped toy model is read by the training library, any
    other name is opened as ``tutor heads`` opens it (the models extra, one-line errors);
    input the model cannot read is a usage error naming SENTENCE."""
    load_app_class()
    from tutor.errors import SettingError
    from tutor.explore.model_app import ModelApp
    from tutor.explore.models import ModelState

    from .pretrained_options import open_model

    model = open_model(name, "explore --model", toy=True)              # toy, file or HF model
    try:
        state = ModelState(model, sentence, precision=precision)
    except SettingError as exc:
        raise usage_error("SENTENCE", str(exc).split(": ", 1)[1]) from None
    need_terminal()
    ModelApp(state).run()
