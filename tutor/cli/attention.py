"""`tutor attention`: the six steps of self-attention on a sentence, with your own vectors
and weights. Thin: parse the inputs, run the walkthrough, render what it recorded, show it."""

from __future__ import annotations

import click

from tutor.limits import MAX_DIM, MAX_HEADS, MAX_MODEL_TOKENS, MAX_TOKENS

from .attention_inputs import head_inputs, head_options
from .common import calculator_options, tutor_command
from .matrix_specs import MATRIX
from .output import Output, show_document
from .pretrained_options import JSON_NUMBERING, check_index, model_option, refuse_with_model
from .usage import TEXT, typed, usage_error

EPILOG = f"""\b
SPEC is one of:
  identity               ones on the diagonal
  random                 entries -1.0, -0.9, ..., 1.0 drawn from --seed
  "1,0,0,0;0,1,0,0;..."  an inline matrix, rows split by ';'
  FILE.npy|.json|.csv    a NumPy array, nested JSON lists, or numbers in CSV

\b
Every word gets an embedding: THE, CAT and SAT keep the worked example's
vectors when --dim is 4; any other word gets a fixed vector derived from the
word itself (the same on every run and machine). --embeddings glove gives
every word its real GloVe vector (50 numbers, looked up lower-case; --embed
gives a word GloVe lacks a vector of its own).

\b
Limits: at most {MAX_TOKENS} words, --dim and --dk at most {MAX_DIM}, --heads at most {MAX_HEADS};
with --model at most {MAX_MODEL_TOKENS} of the model's tokens.

\b
Examples:
  tutor attention "the cat sat"                 the worked example
  tutor attention "the cat sat" --step 3        only the scores
  tutor attention "the cat sat" --no-scale      what the scaling prevents
  tutor attention "the cat sat" --causal        a decoder's masked attention
  tutor attention "the cat sat" --heads 2       two heads, concat, Wo
  tutor attention "the cat sat" --wq random --seed 7
  tutor attention "a b" --embed a=1,0 --embed b=0,1
  tutor attention "the cat sat" --wq "1,0;0,1;1,0;0,1" --wk "1,0;0,1;1,0;0,1"
  tutor attention "the cat sat" --posenc sinusoidal
  tutor attention "the cat sat on the mat" --embeddings glove
  tutor attention "the cat sat" --format json > attention.json
  tutor attention "the cat sat" --svg attention.svg
  tutor attention "the cat sat on the mat" --model minilm --layer 3 --head 5
  tutor attention "the cat sat on the mat" --model minilm --view lines
  tutor attention "3 1 4" --model reverse --layer 2 --block decoder

\b
With --model the six steps run on one head of a real model: X is the hidden
states entering --layer, labelled by the model's own tokens; Wq, Wk, Wv are
that head's slices of the layer's weights, with their biases (Q = X·Wq + bq).
A toy model trained by tutor train reads 1 to 8 digits (dates: a date such
as "7 Dec 2026"); --block picks its encoder's self-attention or its decoder's masked self-attention. --view lines
adds the head's weights drawn as lines (queries left, keys right, a line to
each query's 3 strongest keys, as strong as the weight; see tutor heads).

\b
{JSON_NUMBERING}
So settings.layer and settings.head are --layer and --head
as given (from 1).
"""


def _model_attention(sentence, model_name, layer, head, block, step, pause, output,
                     view="steps"):
    """tutor attention --model: one head of a real model (or of a toy model trained by tutor
    train: its encoder's self-attention or its decoder's masked self-attention), as the six
    steps."""
    from tutor.render.pretrained import model_head_document

    from .pretrained_options import open_model, read_input

    if not sentence.strip():
        raise usage_error("SENTENCE", "expected at least one word, got an empty sentence")
    model = open_model(model_name, "attention --model", toy=True)
    if block is not None and block not in model.blocks:
        raise usage_error("--block", f"expected a toy model trained by tutor train with it "
                                     f"(reverse, copy, sort, dates or a FILE.npz), got {model.name}")
    read_input(model, "SENTENCE", sentence)
    block = block or model.blocks[0]
    layer0 = check_index("--layer", 1 if layer is None else layer, model.n_layer(block), "layer")
    head0 = check_index("--head", 1 if head is None else head, model.n_head, "head")
    recording = model.head(sentence, layer0, head0, block)
    doc = model_head_document(recording, precision=output.precision, view=view)
    show_document(output, doc, step=step, pause=pause)


@tutor_command(EPILOG)
@click.argument("sentence", type=TEXT)
@head_options
@click.option("--wo", type=MATRIX, default=None,
              help="Output projection Wo [dv×d_model], with --heads. [default: identity]")
@click.option("--dk", type=int, default=None, metavar="N",
              help="Width of queries and keys (columns of Wq, Wk; also of Wv unless --wv "
                   "says otherwise). [default: d_model]")
@click.option("--heads", type=int, default=1, show_default=True, metavar="H",
              help="Number of heads; each takes dk/H columns of Wq, Wk, Wv.")
@click.option("--no-scale", is_flag=True, help="Skip the ÷√dk and compare the softmax rows.")
@model_option(help_text="A real pretrained model (minilm, a Hugging Face folder, a cached "
                        "name): the six steps on one of its heads, --layer and --head.")
@click.option("--layer", type=int, default=None, metavar="L",
              help="With --model: the layer, from 1. [default: 1]")
@click.option("--head", type=int, default=None, metavar="H",
              help="With --model: the head, from 1. [default: 1]")
@click.option("--block", type=click.Choice(["encoder", "decoder"]), default=None,
              help="With a toy --model (reverse, copy, sort, a tutor train FILE.npz): the "
                   "encoder's self-attention or the decoder's masked self-attention (tutor "
                   "heads shows its attention over the encoder too). [default: encoder]")
@click.option("--view", type=click.Choice(["steps", "lines"]), default="steps",
              show_default=True,
              help="With --model: lines also draws the head's weights as lines from each "
                   "query to its 3 strongest keys (in --svg/--html as real lines).")
@calculator_options(pause=True)
def attention(sentence, dim, embeddings, embed, causal, posenc, wq, wk, wv, wo, dk, heads,
              no_scale, model_name, layer, head, block, view, step, pause, seed,
              output: Output):
    """Show the six steps of self-attention on SENTENCE, every matrix labelled.

    With no options it is the worked example: THE=[1,0,1,0], CAT=[0,1,0,1],
    SAT=[1,1,1,1] and Wq = Wk = Wv = identity.
    """
    from tutor.render.attention import attention_document
    from tutor.walkthroughs.attention import self_attention

    if model_name is not None:
        refuse_with_model({"--dim": dim, "--embeddings": embeddings, "--embed": embed,
                           "--wq": wq, "--wk": wk, "--wv": wv, "--wo": wo, "--dk": dk,
                           "--heads": None if heads == 1 else heads, "--no-scale": no_scale,
                           "--causal": causal, "--posenc": posenc.lower(),
                           "--seed": seed if typed("seed") else None})
        _model_attention(sentence, model_name, layer, head, block, step, pause, output, view)
        return
    for option, value in (("--layer", layer), ("--head", head), ("--block", block),
                          ("--view", None if view == "steps" else view)):
        if value is not None:
            raise usage_error(option, "expected --model with it (a layer of a model)")
    inputs = head_inputs(sentence, dim, dk, embeddings, embed, wq, wk, wv, seed, wo=wo,
                         heads=heads)
    recording = self_attention(inputs.tokens, inputs.x, inputs.w_q, inputs.w_k, inputs.w_v,
                               inputs.w_o, heads=heads, causal=causal, scaled=not no_scale,
                               posenc=posenc.lower(), sources=inputs.sources,
                               weight_kinds=inputs.kinds)
    doc = attention_document(recording.trace, recording.tokens, precision=output.precision,
                             **recording.info)
    show_document(output, doc, step=step, pause=pause)
