"""The input options every command that takes a sentence shares, declared once:
--embeddings (a SPEC or ``glove``), --embed, and where the command has them --causal and
--posenc. Their values become X in :mod:`tutor.cli.word_vector_options`."""

from __future__ import annotations

import click

from .matrix_specs import EMBEDDINGS, EMBEDDINGS_HELP, WORD_VECTOR


def word_input_options(*, dim: bool = False, causal: bool = False, posenc: bool = False):
    """--embeddings and --embed (and --dim, --causal, --posenc when asked): the input options
    of every command that takes a sentence, with one help text. ``dim`` is the --dim (d_model)
    of today's sentence calculators (ffn, flash, gqa, decoder-only), whose X
    :func:`tutor.cli.modern_inputs.sentence_matrix` makes."""
    def decorate(command):
        options = [
            click.option("--dim", type=int, default=None, metavar="D",
                         help="d_model, the width of each word's vector. [default: 4]"),
        ] if dim else []
        options += [
            click.option("--embeddings", type=EMBEDDINGS, default=None, metavar="glove|SPEC",
                         help=EMBEDDINGS_HELP),
            click.option("--embed", type=WORD_VECTOR, multiple=True,
                         help="One word's embedding, e.g. cat=0,1,0,1 (repeatable); with "
                              "--embeddings glove, a vector for a word GloVe lacks."),
        ]
        if causal:
            options.append(click.option("--causal", is_flag=True,
                                        help="Mask later tokens, as a decoder does."))
        if posenc:
            options.append(click.option(
                "--posenc", type=click.Choice(["none", "sinusoidal"], case_sensitive=False),
                default="none", show_default=True, help="Add positional encodings to X first."))
        for option in reversed(options):
            command = option(command)
        return command
    return decorate
