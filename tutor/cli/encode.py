"""`tutor encode`: the encoder stack layer by layer on a sentence (random model) or on your
own vectors and a real model's weights."""

from __future__ import annotations

import click

from tutor.limits import MAX_DIM

from .common import calculator_options, tutor_command
from .sentence_options import word_input_options
from .stack_options import (build_model, match_dtype, save_results, stack_options,
                            width_from_vectors)
from .output import show_document
from .progress import working
from .usage import TEXT, check_limit, usage_error
from .values import parse_sentence, read_vectors

EPILOG = """\b
With --weights FILE.npz (PyTorch nn.Transformer state-dict names, e.g.
numpy.savez(path, **{k: v.numpy() for k, v in model.state_dict().items()}))
and --src-vectors FILE.npy ([seq, d_model] or [batch, seq, d_model], what
nn.Transformer takes), the numbers equal PyTorch's encoder (with its final
norm).
Give --heads as the model was made (a state dict does not record it).
Batched inputs show item 1 (--format json has its every step); --output
holds every item. Matrices larger than 32 rows or 64 columns are drawn by
their corner (the title says which part); --format json has them whole.

\b
Limits: at most 32 words; --dim 1-64, --layers 1-6, --ff 1-256, --heads 1-16;
vectors: batch 4, 64 positions, d_model 512; --weights: d_model 512,
6 layers per stack, 384 MiB.

\b
Examples:
  tutor encode "the cat sat"
  tutor encode "the cat sat" --layers 2 --heads 2 --dim 8 --detail full
  tutor encode "the cat sat" --norm-first --activation gelu
  tutor encode --weights model.npz --heads 2 --src-vectors src.npy \\
               --output memory.npy
  tutor encode "the cat sat" --save-weights model.npz
  tutor encode "the cat sat on the mat" --embeddings glove
"""


@tutor_command(EPILOG)
@click.argument("sentence", type=TEXT, required=False)
@click.option("--src-vectors", type=click.Path(dir_okay=False), default=None, metavar="FILE.npy",
              help="Already-embedded inputs instead of SENTENCE.")
@word_input_options()
@stack_options
@calculator_options()
def encode(sentence, src_vectors, embeddings, embed, weights, heads, layers, dim, ff, norm_first, activation, eps,
           save_weights, output_path, detail, step, seed, output):
    """Show the encoder stack on SENTENCE: attention per head, add & norm, feed-forward."""
    from tutor.render.stack import encode_document
    from tutor.walkthroughs.stack import encode as encode_walkthrough

    from .word_vector_options import embeddings_name, glove_width, sentence_vectors, uses_glove

    if sentence is not None and src_vectors is not None:
        raise usage_error("--src-vectors", "expected either SENTENCE or --src-vectors, got both")
    if sentence is None and src_vectors is None:
        raise usage_error("SENTENCE", "expected a sentence or --src-vectors, got neither")
    tokens = parse_sentence("SENTENCE", sentence, glove=uses_glove(embeddings)) if sentence is not None else None
    if (embeddings is not None or embed) and tokens is None:
        raise usage_error("--embeddings" if embeddings is not None else "--embed",
                          "expected SENTENCE with it (--src-vectors are already embedded)")
    dim = width_from_vectors(weights, dim, "--src-vectors", src_vectors)
    dim = glove_width(embeddings, weights, dim)
    with working("encode: loading the weights" if weights else "encode: building the model") \
            as status:
        model = build_model(weights, heads, layers, dim, ff, norm_first, activation, eps, seed,
                            encoder_only=True)
        d_model = model.config.d_model
        if tokens:
            check_limit("--dim", d_model, MAX_DIM, "a width")               # a word's vector
            x = sentence_vectors(tokens, d_model, embeddings, embed, seed)  # [n, d_model] or None
            status.update(f"encode: {model.config.num_encoder_layers} layers on "
                          f"{len(tokens)} words")
            recording = encode_walkthrough(model, tokens=tokens, x=x)
        else:
            src = read_vectors("--src-vectors", src_vectors, d_model)       # [(B,) S, d_model]
            model = match_dtype(model, weights, "--src-vectors", src)
            status.update(f"encode: {model.config.num_encoder_layers} layers on "
                          f"{'×'.join(str(n) for n in src.shape[:-1])} vectors of "
                          f"d_model {d_model}")
            recording = encode_walkthrough(model, vectors=src)
        status.update("encode: writing the results")
        save_results(model, save_weights, output_path, recording.output)
    c = model.config
    settings = {"d_model": c.d_model, "heads": c.nhead, "layers": c.num_encoder_layers,
                "dim_feedforward": c.dim_feedforward, "norm_first": c.norm_first,
                "activation": c.activation, "eps": c.layer_norm_eps,
                "weights": "file" if weights else f"random (seed {seed})",
                "embeddings": embeddings_name(embeddings, embed)}
    doc = encode_document(recording.trace, recording.tokens, precision=output.precision,
                          n_layers=c.num_encoder_layers, norm_first=c.norm_first, detail=detail,
                          sentence=bool(tokens), settings=settings,
                          final_norm=getattr(model, "has_norm", True))
    with working(f"encode: writing the {output.format} document", when=output.is_text):
        show_document(output, doc, step=step)
