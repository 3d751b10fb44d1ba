"""The inputs of one attention head from the command line, as `tutor attention`, `tutor
multihead` and `tutor backward` take them: the options (--dim, the sentence's word inputs,
--wq, --wk, --wv) and their reading through the one rule the lessons and the explorer share,
:func:`tutor.walkthroughs.inputs.attention_inputs`. Its errors name the option here."""

from __future__ import annotations

import click

from tutor.limits import MAX_DIM

from .matrix_specs import MATRIX
from .sentence_options import word_input_options
from .usage import check_limit, usage_error
from .values import parse_sentence, rng_for

#: The option that gives each input of the shared rule (its errors' field names).
OPTIONS = {"x": "--embeddings", "wq": "--wq", "wk": "--wk", "wv": "--wv", "wo": "--wo",
           "dk": "--dk", "heads": "--heads", "target": "--target"}


def option_error(exc) -> click.BadParameter:
    """An InputError of the shared rule as a usage error naming the option (exit code 2)."""
    return usage_error(OPTIONS.get(exc.field, exc.field), exc.worded(OPTIONS))


def head_inputs(sentence, dim, dk, embeddings, embed, wq, wk, wv, seed, *, wo=None,
                heads: int = 1, default: str = "identity", square: bool = False):
    """The inputs of self-attention from the command line: the sentence's tokens, X
    [n, d_model] (--dim, --embeddings, --embed), Wq, Wk, Wv (and Wo), each SPEC left out
    being ``default``. Returns an :class:`~tutor.walkthroughs.inputs.AttentionInputs`: d_k
    is --dk, else the width of --wq or --wk, else d_model; d_v is --wv's width, else d_k;
    with ``square`` every weight is d_model×d_model. Usage errors name the option."""
    from tutor.walkthroughs.inputs import InputError, attention_inputs

    from .word_vector_options import embedding_matrix, uses_glove

    tokens = parse_sentence("SENTENCE", sentence, glove=uses_glove(embeddings))
    if dim is not None:
        check_limit("--dim", dim, MAX_DIM, "a width")
    if dk is not None:
        check_limit("--dk", dk, MAX_DIM, "a width")
    x, sources = embedding_matrix(tokens, dim=dim, embeddings=embeddings, embed=embed,
                                  rng=rng_for(seed, "--embeddings"))   # [n, d_model]
    weights = {name: default if spec is None else spec.source()
               for name, spec in (("wq", wq), ("wk", wk), ("wv", wv))}
    if wo is not None or square:
        weights["wo"] = default if wo is None else wo.source()
    try:
        return attention_inputs(tokens, x, sources, dk=dk, heads=heads, seed=seed,
                                square=square, **weights)
    except InputError as exc:
        raise option_error(exc) from None


def head_options(command):
    """--dim, the sentence input options (--embeddings, --embed, --causal, --posenc), --wq,
    --wk, --wv: what :func:`head_inputs` reads, shared by `tutor attention` and `tutor backward`."""
    decorators = [
        click.option("--dim", type=int, default=None, metavar="N",
                     help="Width of each word's embedding (d_model). [default: 4]"),
        word_input_options(causal=True, posenc=True),
        click.option("--wq", type=MATRIX, default=None,
                     help="Query weights Wq [d_model×dk]. [default: identity]"),
        click.option("--wk", type=MATRIX, default=None,
                     help="Key weights Wk [d_model×dk]. [default: identity]"),
        click.option("--wv", type=MATRIX, default=None,
                     help="Value weights Wv [d_model×dv]. [default: identity]"),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command
