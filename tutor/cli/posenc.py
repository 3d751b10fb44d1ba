"""`tutor posenc`: the sinusoidal (or a learned) positional-encoding table, embedding + PE for a
sentence, and why word order needs it. Parse, run the engine with a Trace, render."""

from __future__ import annotations

import click

from tutor.limits import MAX_DIM, MAX_POSITIONS

from .common import calculator_options, tutor_command
from .matrix_specs import MATRIX
from .output import show_document
from .usage import TEXT, check_limit, shape_text, usage_error
from .sentence_options import word_input_options
from .values import parse_sentence, rng_for

EPILOG = f"""\b
Limits: --dim from 1 to {MAX_DIM}, --positions from 1 to {MAX_POSITIONS}. Tables wider than
10 columns or longer than 16 rows are drawn as a heatmap (one glyph per cell);
--format json always has every number.

\b
Examples:
  tutor posenc --dim 4                      the table, with PE(1) worked out
  tutor posenc --dim 64 --positions 50      a heatmap
  tutor posenc --sentence "the cat"         embedding + PE = the input rows
  tutor posenc --sentence "the cat" --embed the=0.1,0.2,0.3,0.4 \\
               --embed cat=0.5,0.8,0.7,0.8
  tutor posenc --learned --seed 3           a learned (here: random) table
  tutor posenc --learned --table pe.npy     a learned table from a file
  tutor posenc --compare "lion kills tiger" "tiger kills lion"
"""


@tutor_command(EPILOG)
@click.option("--dim", type=int, default=None, metavar="D",
              help="Width d_model of each encoding. [default: 4]")
@click.option("--positions", type=int, default=None, metavar="N",
              help="Number of positions (rows). [default: 6, or the sentence's length]")
@click.option("--sentence", type=TEXT, default=None, metavar="TEXT",
              help="Also show embedding + PE for these words.")
@word_input_options()
@click.option("--learned", is_flag=True,
              help="A learned table instead: --table, or N(0,1) entries from --seed.")
@click.option("--table", type=MATRIX, default=None, metavar="SPEC",
              help="The learned table [positions×d_model]: inline, .npy, .json or .csv.")
@click.option("--compare", nargs=2, type=TEXT, default=None, metavar="A B",
              help="Two orderings of the same words: self-attention without and with PE.")
@calculator_options()
def posenc(dim, positions, sentence, embeddings, embed, learned, table, compare, step, seed, output):
    """Show positional encodings: each column's formula, one cell worked out, the table.

    PE(pos, 2i) = sin(pos / 10000^(2i/d)) and PE(pos, 2i+1) = cos(pos / 10000^(2i/d)).
    """
    from .word_vector_options import embedding_matrix, uses_glove

    if dim is not None:
        check_limit("--dim", dim, MAX_DIM, "a width")
    if positions is not None:
        check_limit("--positions", positions, MAX_POSITIONS, "a number of positions")
    if table is not None and not learned:
        raise usage_error("--table", "expected --learned with it (the table is a learned one)")
    if embed and not (sentence or compare):
        raise usage_error("--embed", "expected --sentence with it")
    if embeddings is not None and not (sentence or compare):
        raise usage_error("--embeddings", "expected --sentence or --compare with it")
    if compare:
        from tutor.render.posenc import compare_document
        from tutor.walkthroughs.attention import word_order
        for other in ("--sentence", "--learned", "--positions"):
            given = {"--sentence": sentence, "--learned": learned, "--positions": positions}
            if given[other]:
                raise usage_error("--compare", f"expected --compare on its own, got {other} too")
        sentences = [parse_sentence("--compare", text, glove=uses_glove(embeddings)) for text in compare]
        if sorted(t.lower() for t in sentences[0]) != sorted(t.lower() for t in sentences[1]):
            raise usage_error("--compare", f"expected two orderings of the same words, got "
                                           f"'{compare[0]}' and '{compare[1]}'")
        vectors = [embedding_matrix(tokens, dim=dim, embeddings=embeddings, embed=embed,
                                    rng=rng_for(seed, "--embeddings"))[0]
                   for tokens in sentences]                                 # [n, d_model] each
        recording = word_order(sentences, vectors)
        doc = compare_document(recording.trace, sentences, precision=output.precision,
                               same_without=recording.info["same_without"],
                               same_with=recording.info["same_with"])
        show_document(output, doc, step=step)
        return

    from tutor.render.posenc import posenc_document
    from tutor.walkthroughs.posenc import positional_table
    tokens = parse_sentence("--sentence", sentence, glove=uses_glove(embeddings)) if sentence is not None else None
    if tokens and positions is not None and positions < len(tokens):
        raise usage_error("--positions", f"expected at least {len(tokens)} (the sentence's "
                                         f"words), got {positions}")
    source = ""
    if learned and table is not None:
        if table.array is None:
            raise usage_error("--table", f"expected a matrix (inline or a file), got "
                                         f"'{table.text}'")
        rows, cols = table.array.shape
        if dim is not None and cols != dim:
            raise usage_error("--table", f"expected {dim} columns (--dim {dim}), got a "
                                         f"{shape_text((rows, cols))} matrix")
        dim = cols
        need = positions or (len(tokens) if tokens else rows)
        if rows < need:
            raise usage_error("--table", f"expected at least {need} rows (one per position), "
                                         f"got a {shape_text((rows, cols))} matrix")
        positions = need
        source = f"--table ({table.describe()})"
    x = None
    if tokens:
        x = embedding_matrix(tokens, dim=dim, embeddings=embeddings, embed=embed,
                             rng=rng_for(seed, "--embeddings"))[0]           # [n_tok, d]
        if learned and table is not None and x.shape[1] != dim:
            raise usage_error("--table", f"expected {x.shape[1]} columns (the words' width), "
                                         f"got a {shape_text(table.array.shape)} matrix")
    d = dim or (x.shape[1] if x is not None else 4)
    n = positions or (len(tokens) if tokens else 6)
    if learned and table is None:
        source = f"N(0, 1) draws from --seed {seed}, as a table looks before training"
    recording = positional_table(n, d, learned=learned,
                                 table=None if table is None else table.array,
                                 rng=rng_for(seed, "--learned"), x=x, tokens=tokens)
    doc = posenc_document(recording.trace, kind=recording.info["kind"], d=d, n=n,
                          precision=output.precision, tokens=tokens, source=source)
    show_document(output, doc, step=step)

