"""`tutor transformer`: encoder and decoder together on a source and a target sentence (random
model), or on your own vectors and a real model's weights."""

from __future__ import annotations

import click

from tutor.limits import MAX_DIM

from .common import calculator_options, tutor_command
from .stack_options import (build_model, match_dtype, save_results, stack_options,
                            width_from_vectors)
from .output import show_document
from .progress import working
from .usage import TEXT, check_limit, usage_error
from .sentence_options import word_input_options
from .values import parse_sentence, read_vectors

EPILOG = """\b
With sentences the target gets a causal mask; with --tgt-vectors add --causal
for one. With --weights FILE.npz (PyTorch nn.Transformer state-dict names) and
--src-vectors/--tgt-vectors FILE.npy ([seq, d_model] or [batch, seq, d_model],
what nn.Transformer(batch_first=True) takes), the numbers equal PyTorch's.
Give --heads as the model was made (a state dict does not record it).
Batched inputs show item 1 (--format json has its every step); --output
holds every item. Matrices larger than 32 rows or 64 columns are drawn by
their corner (the title says which part); --format json has them whole.

\b
Limits: at most 32 words per sentence; --dim 1-64, --layers 1-6, --ff 1-256,
--heads 1-16; vectors: batch 4, 64 positions, d_model 512; --weights:
d_model 512, 6 layers per stack, 384 MiB.

\b
Examples:
  tutor transformer --src "the cat sat" --tgt "le chat"
  tutor transformer --src "the cat sat" --tgt "le chat" --detail full
  tutor transformer --weights model.npz --heads 2 --src-vectors src.npy \\
      --tgt-vectors tgt.npy --causal --output out.npy
"""


@tutor_command(EPILOG)
@click.option("--src", type=TEXT, default=None, metavar="TEXT", help="The source sentence (encoder).")
@click.option("--tgt", type=TEXT, default=None, metavar="TEXT", help="The target so far (decoder).")
@click.option("--src-vectors", type=click.Path(dir_okay=False), default=None, metavar="FILE.npy",
              help="Already-embedded source instead of --src.")
@click.option("--tgt-vectors", type=click.Path(dir_okay=False), default=None, metavar="FILE.npy",
              help="Already-embedded target instead of --tgt.")
@click.option("--causal", is_flag=True, help="Causal target mask for --tgt-vectors.")
@word_input_options()
@stack_options
@calculator_options()
def transformer(src, tgt, src_vectors, tgt_vectors, causal, embeddings, embed, weights, heads, layers, dim, ff,
                norm_first, activation, eps, save_weights, output_path, detail, step, seed,
                output):
    """Show encoder and decoder together: masked self-attention, encoder–decoder attention,
    feed-forward, the output vectors and the next-token distribution."""

    from tutor.render.stack import transformer_document
    from tutor.walkthroughs.stack import transform

    from .word_vector_options import embeddings_name, glove_width, uses_glove, word_vector_table

    sentences = src is not None or tgt is not None
    vectors = src_vectors is not None or tgt_vectors is not None
    if sentences and vectors:
        raise usage_error("--src-vectors" if src_vectors else "--tgt-vectors",
                          "expected sentences (--src, --tgt) or vectors, got both")
    if sentences and (src is None or tgt is None):
        raise usage_error("--tgt" if tgt is None else "--src", "expected both --src and --tgt")
    if vectors and (src_vectors is None or tgt_vectors is None):
        raise usage_error("--tgt-vectors" if tgt_vectors is None else "--src-vectors",
                          "expected both --src-vectors and --tgt-vectors")
    if not sentences and not vectors:
        raise usage_error("--src", "expected --src and --tgt (or --src-vectors and "
                                   "--tgt-vectors), got neither")
    if causal and sentences:
        raise usage_error("--causal", "expected --tgt-vectors with it (sentences are always "
                                      "causal)")
    if (embeddings is not None or embed) and not sentences:
        raise usage_error("--embeddings" if embeddings is not None else "--embed",
                          "expected --src and --tgt with it (vectors are already embedded)")
    src_tokens = parse_sentence("--src", src, glove=uses_glove(embeddings)) if sentences else None
    tgt_tokens = parse_sentence("--tgt", tgt, glove=uses_glove(embeddings)) if sentences else None
    dim = width_from_vectors(weights, dim, "--src-vectors", src_vectors)
    dim = glove_width(embeddings, weights, dim)
    with working("transformer: loading the weights" if weights else
                 "transformer: building the model") as status:
        model = build_model(weights, heads, layers, dim, ff, norm_first, activation, eps, seed)
        d_model = model.config.d_model
        c = model.config
        layers_text = f"{c.num_encoder_layers}+{c.num_decoder_layers} layers"
        if sentences:
            check_limit("--dim", d_model, MAX_DIM, "a width")               # a word's vector
            table = word_vector_table([src_tokens, tgt_tokens], d_model, embeddings, embed)
            status.update(f"transformer: {layers_text} on {len(src_tokens)}+"
                          f"{len(tgt_tokens)} words")
            recording = transform(model, src_tokens=src_tokens, tgt_tokens=tgt_tokens,
                                  word_vectors=table)
        else:
            src_x = read_vectors("--src-vectors", src_vectors, d_model)   # [(B,) S, d_model]
            tgt_x = read_vectors("--tgt-vectors", tgt_vectors, d_model)   # [(B,) T, d_model]
            if tgt_x.dtype != src_x.dtype:
                raise usage_error("--tgt-vectors", f"expected {src_x.dtype} numbers like "
                                                   f"--src-vectors, got {tgt_x.dtype}")
            model = match_dtype(model, weights, "--src-vectors", src_x)
            if src_x.ndim != tgt_x.ndim or (src_x.ndim == 3 and src_x.shape[0] != tgt_x.shape[0]):
                raise usage_error("--tgt-vectors", f"expected the same batch as --src-vectors "
                                                   f"{list(src_x.shape)}, got {list(tgt_x.shape)}")
            shape = "×".join(str(n) for n in src_x.shape[:-1])
            status.update(f"transformer: {layers_text} on {shape} source and "
                          f"{tgt_x.shape[-2]} target vectors of d_model {d_model}")
            recording = transform(model, src_vectors=src_x, tgt_vectors=tgt_x, causal=causal)
        status.update("transformer: writing the results")
        save_results(model, save_weights, output_path, recording.output)
    causal, vocab = recording.info["causal"], recording.info["vocab"]
    c = model.config
    settings = {"d_model": c.d_model, "heads": c.nhead, "encoder_layers": c.num_encoder_layers,
                "decoder_layers": c.num_decoder_layers, "dim_feedforward": c.dim_feedforward,
                "norm_first": c.norm_first, "activation": c.activation,
                "eps": c.layer_norm_eps, "causal": bool(causal), "vocabulary": vocab,
                "weights": "file" if weights else f"random (seed {seed})",
                "embeddings": embeddings_name(embeddings, embed)}
    doc = transformer_document(recording, precision=output.precision, detail=detail,
                               settings=settings)
    with working(f"transformer: writing the {output.format} document", when=output.is_text):
        show_document(output, doc, step=step)

