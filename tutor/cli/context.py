"""`tutor context`: one word's vector in two sentences, compared after the embedding stage
and after each layer of a real model (contextual embeddings, measured)."""

from __future__ import annotations

import click

from .common import calculator_options, tutor_command
from .output import show_document
from .pretrained_options import JSON_NUMBERING, MODEL_HELP
from .usage import TEXT, quote, usage_error

EPILOG = f"""\b
For each stage (the embedding stage, then each layer) the chart shows the
cosine similarity of WORD's vector in sentence A and in sentence B:
cos(a, b) = a·b / (|a| |b|), 1 = the same direction. A word the tokenizer cuts
into pieces is the mean of its pieces. The control word (--control, or the
first other word the two sentences share) keeps its meaning in both, so it
shows how much of the change is the word's meaning and how much is context in
general. Where WORD (or the control word) is in a sentence more than once, its
first occurrence is compared, and the screen says so. --format json gives
"stages", "similarity" and "control_similarity".

\b
{JSON_NUMBERING}
So similarity[0] is the stage named "embeddings" and
similarity[3] the one named "layer 3", as on screen.

\b
Examples:
  tutor context "she sat on the grassy bank of the river" \\
      "she paid the money into her bank account" --word bank
  tutor context "the play was on" "we play the game" --word play --control the
  tutor context "..." "..." --word bank --format json
"""


_SAME_SENTENCE = ("expected a sentence other than SENTENCE_A (the same sentence gives "
                  "similarity 1 at every stage, so nothing is compared), got {}")


@tutor_command(EPILOG)
@click.argument("sentence_a", type=TEXT)
@click.argument("sentence_b", type=TEXT)
@click.option("--word", type=TEXT, required=True, metavar="WORD",
              help="The word to follow; it must be in both sentences.")
@click.option("--control", type=TEXT, default=None, metavar="WORD",
              help="A word in both sentences whose meaning does not change. "
                   "[default: the first other word they share]")
@click.option("--model", "model_name", default="minilm", show_default=True,
              metavar="NAME|FOLDER", help=MODEL_HELP)
@calculator_options(seed=False)
def context(sentence_a, sentence_b, word, control, model_name, step, output):
    """Compare WORD's vector in SENTENCE_A and SENTENCE_B, layer by layer."""
    import re

    from tutor.render.pretrained import context_document
    from tutor.walkthroughs.pretrained import model_context

    from .pretrained_options import check_tokens, open_model

    for option, text in (("SENTENCE_A", sentence_a), ("SENTENCE_B", sentence_b)):
        if not text.strip():
            raise usage_error(option, "expected at least one word, got an empty sentence")
    for option, value in (("--word", word), ("--control", control)):
        if value is None:
            continue
        if not re.fullmatch(r"\w+", value.strip()):
            raise usage_error(option, f"expected one word (letters or digits), got {quote(value)}")
        for name, text in (("SENTENCE_A", sentence_a), ("SENTENCE_B", sentence_b)):
            if not re.search(rf"(?<!\w){re.escape(value.strip())}(?!\w)", text, re.IGNORECASE):
                raise usage_error(option, f"expected a word of both sentences, got "
                                          f"{quote(value)}, which is not in {name} {quote(text)}")
    if control is not None and control.strip().lower() == word.strip().lower():
        raise usage_error("--control", f"expected a word other than --word, got {quote(control)}")
    if " ".join(sentence_a.split()) == " ".join(sentence_b.split()):
        raise usage_error("SENTENCE_B", _SAME_SENTENCE.format(quote(sentence_b)))
    if control is None:                        # the default control word, or say to give one
        from tutor.errors import TutorError
        from tutor.pretrained.analysis import default_control

        try:
            control = default_control(sentence_a, sentence_b, word.strip())
        except TutorError:                 # not --control's fault: it was not given
            raise usage_error("SENTENCE_B", f"expected a sentence that shares a word besides "
                                            f"{quote(word.strip())} with SENTENCE_A (the control "
                                            f"word, compared beside it), got {quote(sentence_b)},"
                                            f" which shares no other word with "
                                            f"{quote(sentence_a)}") from None
    model = open_model(model_name, "context")
    check_tokens(model, sentence_a, "SENTENCE_A")
    check_tokens(model, sentence_b, "SENTENCE_B")
    enc_a, enc_b = model.encoding(sentence_a), model.encoding(sentence_b)  # read just above
    if list(enc_a.tokens) == list(enc_b.tokens):
        raise usage_error("SENTENCE_B", _SAME_SENTENCE.format(quote(sentence_b))
                          + " (the model reads both as the same tokens)")
    recording = model_context(model.model, sentence_a, sentence_b, word.strip(),
                              None if control is None else control.strip(),
                              encodings=(enc_a, enc_b))
    doc = context_document(recording, precision=output.precision)
    show_document(output, doc, step=step)
