"""`tutor heads`: every layer × head of a real model on a sentence, each as a small heatmap
labelled with the pattern it shows. Thin: open the model, run the walkthrough, render."""

from __future__ import annotations

import click

from tutor.limits import MAX_LINES_TOP, MAX_MODEL_TOKENS

from .common import calculator_options, tutor_command
from .output import show_document
from .pretrained_options import JSON_NUMBERING, MODEL_HELP, check_index
from .usage import TEXT, usage_error

DEFAULT_TOP = 3            # lines per query (tutor.render.document.DEFAULT_TOP_KEYS)
MAX_TOP = MAX_LINES_TOP


def check_lines_options(view: str, head: int | None, top: int, absolute: bool) -> None:
    """--head and --top go with --view lines, --absolute with the grid; --top within 1..MAX_TOP.
    A usage error naming the option otherwise."""
    if view != "lines" and head is not None:
        raise usage_error("--head", "expected --view lines with it (the grid shows every "
                                    "head; --layer L shows one layer's heads with numbers)")
    if view != "lines" and top != DEFAULT_TOP:
        raise usage_error("--top", "expected --view lines with it")
    if view == "lines" and absolute:
        raise usage_error("--absolute", "expected the grid view with it (a line's strength "
                                        "is already its weight)")
    if not 1 <= top <= MAX_TOP:
        raise usage_error("--top", f"expected a number of keys from 1 to {MAX_TOP}, got {top}")

EPILOG = f"""\b
Each head is labelled with the pattern it shows on this sentence. For each
query token i a pattern names one key: the previous token (i-1), the next
token (i+1), itself (i), the first token ([CLS]), the last token ([SEP]),
or one inner token every query looks at (shown in quotes). A head gets the
pattern whose key receives, on average over the queries, the largest share
of the attention if that share is at least 0.5; otherwise "broad". A query
with a single allowed key (a causal model's first token) is left out: the
mask, not the head, puts its weight there. The grid, its text and tutor
explore use the same names: previous token, next token, itself, first
token, last token, [CLS], [SEP], 'word', broad.

\b
With a toy model trained by tutor train (--model reverse, copy, sort, or a
FILE.npz it wrote) SENTENCE is 1 to 8 digits, and the blocks are the
encoder's self-attention, the decoder's masked self-attention and its
attention over the encoder (rows: the target so far, columns: the source).
With --model dates SENTENCE is a written date ("7 December 2026"), read one
token per character (␣ is a space): in the attention over the encoder the
month's digits read the month's word, the year's digits the year.
--format json gives "blocks", each with its "weights" [head][query][key].

\b
Rows are queries and columns keys, in the sentence's token order (labelled
on both axes up to 16 tokens). A real model's grid is shaded per row: ▁ is a
weight of 0 and █ the largest weight of its row, whatever its value (the
colour says the same), so a row spread thin still shows the key it prefers;
--absolute shades every cell from 0 to the largest weight of all heads
shown, so heads compare with each other; --layer L prints the numbers. A
toy model's grid is shaded from ▁ (0) to █ (1).
--format json gives "tokens" and "attention" as [layer][head][query][key],
the layout of Hugging Face's output_attentions, and "patterns".

\b
--view lines draws attention as lines: queries in the left column, keys in
the right, a line from each query to its --top strongest keys (3 by
default; the screen says "top 3 keys per query of 64"). A line's strength
is its weight: in the terminal thick (≥ 0.5), solid (≥ 0.25), every other
dot (≥ 0.1), every fourth dot (below), readable without colour; in --svg
and --html each line is an SVG line whose opacity is the weight. A layer's
heads are overlaid, each in its colour; --head H draws one.

\b
{JSON_NUMBERING}
So attention[0][4] is the screen's layer 1, head 5 (H5),
and settings.layer is --layer as given.

\b
Limits: at most {MAX_MODEL_TOKENS} tokens (the model's own, [CLS] and [SEP] included).

\b
Examples:
  tutor heads "the cat sat on the mat" --model minilm
  tutor heads "the cat sat on the mat" --model minilm --layer 3
  tutor heads "the cat sat on the mat" --format json > heads.json
  tutor heads "the cat sat on the mat" --svg heads.svg
  tutor heads "the cat sat on the mat" --absolute
  tutor heads "the cat sat on the mat" --view lines --layer 1 --head 3
  tutor heads "the cat sat on the mat" --view lines --layer 1 --svg f.svg
  tutor heads "the cat sat" --model path/to/hf-folder
  tutor heads "3 1 4 1 5" --model reverse          a toy model's three kinds
  tutor heads "7 December 2026" --model dates      a date, by character
"""


@tutor_command(EPILOG)
@click.argument("sentence", type=TEXT)
@click.option("--model", "model_name", default="minilm", show_default=True,
              metavar="NAME|FOLDER", help=MODEL_HELP + " Or a toy model trained by tutor "
              "train: reverse, copy, sort (SENTENCE is digits), dates (a written date), or a "
              "FILE.npz it wrote.")
@click.option("--layer", type=int, default=None, metavar="L",
              help="Show only layer L (from 1), larger, with the numbers.")
@click.option("--view", type=click.Choice(["grid", "lines"]), default="grid", show_default=True,
              help="grid: a heatmap per head; lines: queries left, keys right, a line from "
                   "each query to its strongest keys, heads overlaid by colour.")
@click.option("--head", type=int, default=None, metavar="H",
              help="With --view lines: draw head H (from 1) only. [default: every head]")
@click.option("--top", type=int, default=DEFAULT_TOP, show_default=True, metavar="K",
              help=f"With --view lines: the lines drawn per query, to its K strongest keys "
                   f"(1-{MAX_TOP}).")
@click.option("--absolute", is_flag=True,
              help="Shade the grid from 0 to the largest weight of all heads shown, so heads "
                   "compare with each other. [default: each row to its largest weight]")
@calculator_options(seed=False)
def heads(sentence, model_name, layer, view, head, top, absolute, step, output):
    """Show every attention head of a model on SENTENCE, labelled by its pattern."""
    from tutor.render.pretrained import heads_document, toy_heads_document

    from .pretrained_options import check_tokens, open_model

    if not sentence.strip():
        raise usage_error("SENTENCE", "expected at least one word, got an empty sentence")
    model = open_model(model_name, "heads", toy=True)
    check_tokens(model, sentence, least=1 if model.kind == "toy" else 2)
    layer0 = check_index("--layer", layer, model.n_layer(), "layer")
    check_lines_options(view, head, top, absolute)
    head0 = check_index("--head", head, model.n_head, "head")
    recording = model.heads(sentence)
    render = toy_heads_document if model.kind == "toy" else heads_document
    doc = render(recording, precision=output.precision, layer=layer0, view=view, head=head0,
                 absolute=absolute, top=top)
    show_document(output, doc, step=step)
