"""`tutor attention`: the six steps of self-attention on a sentence, with your own vectors
and weights. Thin: parse the inputs, run the walkthrough, render what it recorded, show it."""

from __future__ import annotations

import click

from tutor.limits import MAX_DIM, MAX_HEADS, MAX_MODEL_TOKENS, MAX_TOKENS

from .common import calculator_options, tutor_command
from .matrix_specs import MATRIX, MatrixSpec
from .output import Output, show_document
from .pretrained_options import JSON_NUMBERING, check_index, model_option, refuse_with_model
from .usage import check_limit, shape_text, typed, usage_error
from .values import parse_sentence, rng_for
from .sentence_options import word_input_options

IDENTITY = MatrixSpec("identity", "identity")

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
  tutor attention "3 1 4" --model reverse --layer 2 --block decoder

\b
With --model the six steps run on one head of a real model: X is the hidden
states entering --layer, labelled by the model's own tokens; Wq, Wk, Wv are
that head's slices of the layer's weights, with their biases (Q = X·Wq + bq).
A toy model trained by tutor train reads 1 to 8 digits; --block picks its
encoder's self-attention or its decoder's masked self-attention.

\b
{JSON_NUMBERING}
So settings.layer and settings.head are --layer and --head
as given (from 1).
"""


def _model_attention(sentence, model_name, layer, head, block, step, pause, output):
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
                                     f"(reverse, copy, sort or a FILE.npz), got {model.name}")
    read_input(model, "SENTENCE", sentence)
    block = block or model.blocks[0]
    layer0 = check_index("--layer", 1 if layer is None else layer, model.n_layer(block), "layer")
    head0 = check_index("--head", 1 if head is None else head, model.n_head, "head")
    recording = model.head(sentence, layer0, head0, block)
    doc = model_head_document(recording, precision=output.precision)
    show_document(output, doc, step=step, pause=pause)


def _weight(spec: MatrixSpec | None, option: str, rows: int, cols: int | None, seed: int,
            what: str):
    """A weight matrix [rows, cols]; a given matrix must have ``rows`` rows (and ``cols``)."""
    spec = spec or IDENTITY
    if spec.array is not None:
        r, c = spec.array.shape
        if r != rows:
            raise usage_error(option, f"expected {rows} rows ({what}), got a "
                                      f"{shape_text((r, c))} matrix")
        return spec.array
    return spec.resolve(rows, cols, rng_for(seed, option))


def _width(option: str, spec: MatrixSpec | None, dk: int | None, dk_option: str):
    """The columns a given matrix fixes, checked against --dk; None for identity/random."""
    if spec is None or spec.array is None:
        return None
    cols = spec.array.shape[1]
    if dk is not None and cols != dk:
        raise usage_error(option, f"expected {dk} columns ({dk_option} {dk}), got a "
                                  f"{shape_text(spec.array.shape)} matrix")
    return cols


def head_inputs(sentence, dim, dk, embeddings, embed, wq, wk, wv, seed):
    """The inputs of one attention head from the command line, as `tutor attention` and
    `tutor backward` take them: (tokens, X [n, d_model], where each word's vector came from,
    Wq [d_model, d_k], Wk [d_model, d_k], Wv [d_model, d_v]). d_k is --dk, else the width of
    --wq or --wk, else d_model; d_v is --wv's width, else d_k. Usage errors name the option."""
    from .word_vector_options import embedding_matrix, uses_glove

    tokens = parse_sentence("SENTENCE", sentence, glove=uses_glove(embeddings))
    if dim is not None:
        check_limit("--dim", dim, MAX_DIM, "a width")
    if dk is not None:
        check_limit("--dk", dk, MAX_DIM, "a width")
    x, sources = embedding_matrix(tokens, dim=dim, embeddings=embeddings, embed=embed,
                                  rng=rng_for(seed, "--embeddings"))   # [n, d_model]
    d_model = x.shape[1]
    width_q = _width("--wq", wq, dk, "--dk")
    width_k = _width("--wk", wk, dk if dk is not None else width_q,
                     "--dk" if dk is not None else "like --wq:")
    d_k = dk or width_q or width_k or d_model
    d_v = _width("--wv", wv, None, "") or d_k
    columns = f"the embeddings have {d_model} columns"
    w_q = _weight(wq, "--wq", d_model, d_k, seed, columns)            # [d_model, d_k]
    w_k = _weight(wk, "--wk", d_model, d_k, seed, columns)            # [d_model, d_k]
    w_v = _weight(wv, "--wv", d_model, d_v, seed, columns)            # [d_model, d_v]
    return tokens, x, sources, w_q, w_k, w_v


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


@tutor_command(EPILOG)
@click.argument("sentence")
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
@calculator_options(pause=True)
def attention(sentence, dim, embeddings, embed, causal, posenc, wq, wk, wv, wo, dk, heads,
              no_scale, model_name, layer, head, block, step, pause, seed, output: Output):
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
        _model_attention(sentence, model_name, layer, head, block, step, pause, output)
        return
    for option, value in (("--layer", layer), ("--head", head), ("--block", block)):
        if value is not None:
            raise usage_error(option, "expected --model with it (a layer of a model)")
    check_limit("--heads", heads, MAX_HEADS, "a number of heads")
    if wo is not None and heads == 1:
        raise usage_error("--wo", "expected --heads 2 or more (Wo joins the heads), got --heads 1")
    tokens, x, sources, w_q, w_k, w_v = head_inputs(sentence, dim, dk, embeddings, embed,
                                                    wq, wk, wv, seed)
    n, d_model = x.shape
    d_k, d_v = w_q.shape[1], w_v.shape[1]
    if heads > 1:
        for width, what in ((d_k, "the query/key width"), (d_v, "the value width")):
            if width % heads:
                raise usage_error("--heads", f"expected a number that divides {what} "
                                             f"{width}, got {heads}")
        w_o = _weight(wo, "--wo", d_v, d_model, seed, f"the {heads} heads give {d_v} columns")

    kinds = {"w_q": (wq or IDENTITY).describe(), "w_k": (wk or IDENTITY).describe(),
             "w_v": (wv or IDENTITY).describe(), "w_o": (wo or IDENTITY).describe()}
    recording = self_attention(tokens, x, w_q, w_k, w_v, w_o if heads > 1 else None,
                               heads=heads, causal=causal, scaled=not no_scale,
                               posenc=posenc.lower(), sources=sources, weight_kinds=kinds)
    doc = attention_document(recording.trace, recording.tokens, precision=output.precision,
                             **recording.info)
    show_document(output, doc, step=step, pause=pause)
