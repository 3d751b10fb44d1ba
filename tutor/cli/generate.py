"""`tutor generate`: how a Transformer writes, one token at a time."""

from __future__ import annotations

from dataclasses import dataclass

import click

from tutor.errors import number_text

from tutor.limits import MAX_BEAM_SIZE, MAX_NEW_TOKENS, MAX_TOKENS, MIN_TEMPERATURE, SEED_LIMIT

from .common import calculator_options, tutor_command
from .output import show_document
from .pretrained_options import JSON_NUMBERING
from .usage import TEXT, quote, typed, usage_error

DEFAULT_NEW_TOKENS = 10    # a decoder-only model's default --max-new-tokens

EPILOG = f"""\b
SOURCE is what the model reads: digits for the shipped toy models
("3 1 4 1 5" or "31415"; reverse, copy, sort, or a FILE.npz written by
tutor train), a written date for --model dates ("7 December 2026", one
token per character; a date it did not learn, like "31 February 2026", gets
the model's guess and a note saying so), a prompt for a GPT-2 style model
folder given with --model PATH.

\b
Examples:
  tutor generate "3 1 4 1 5"                       greedy, the reverse model
  tutor generate "3 1 4 1 5" --temperature 0.5 --seed 1
  tutor generate "3 1 4 1 5" --top-p 0.5           nucleus sampling
  tutor generate "3 1 4 1 5" --beam 4 --length-penalty 0.6
  tutor generate "3 1 4 1 5" --explain-cache       what the cache keeps, saves
  tutor generate "3 1 4 1 5" --view lines          each step's attention as lines
  tutor generate "9 2 7" --model sort --format json
  tutor generate "the 7th of December 2026" --model dates
  tutor generate "3 1 4" --model reverse.npz       a model tutor train wrote
  tutor generate "The cat sat" --model tests/data/hf_tiny_gpt2
  tutor generate "The capital of France is" --model smollm2
  tutor generate "What is 2+2?" --model smollm2 --chat --max-new-tokens 12

\b
{JSON_NUMBERING}
So result.steps[0] has token_number 1 (the screen's "token 1") and
step_index 0 (its arrays are step.0.*); its attention row has layer 2
(the screen's "layer 2") and layer_index 1.

\b
Limits: --beam {MAX_BEAM_SIZE}, --max-new-tokens {MAX_NEW_TOKENS}, {MAX_TOKENS} source tokens.
"""


def _temperature(ctx, param, value):
    """As softmax --temperature (the same check): finite, at least MIN_TEMPERATURE."""
    from .values import check_finite

    if value is not None:
        check_finite("--temperature", value, positive=True, smallest=MIN_TEMPERATURE)
    return value


def _top_p(ctx, param, value):
    if value is not None and not 0 < value <= 1:
        raise click.BadParameter(f"expected a probability in (0, 1], got {number_text(value)}", ctx=ctx,
                                 param=param)
    return value


def _range(low, high, what):
    def check(ctx, param, value):
        if value is not None and not low <= value <= (high if high is not None else value):
            bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise click.BadParameter(f"expected {what} {bound}, got {value}", ctx=ctx, param=param)
        return value
    return check


def _toy_source(text: str, trained, name: str):
    """Digits of the toy vocabulary: ids [n] and their labels; one-line usage errors."""
    words = text.split()
    if len(words) == 1 and words[0].isdigit() and words[0].isascii():
        words = list(words[0])                                         # "31415" -> 3 1 4 1 5
    if not words:
        raise usage_error("SOURCE", "expected at least one token, got an empty source")
    if len(words) > MAX_TOKENS:
        raise usage_error("SOURCE", f"expected at most {MAX_TOKENS} tokens, got {len(words)}")
    vocab = list(trained.vocab)
    allowed = [t for t in vocab if not t.startswith("<")]              # the special tokens are not input
    unknown = list(dict.fromkeys(w for w in words if w not in allowed))
    if unknown:
        raise usage_error("SOURCE", f"{', '.join(quote(w, 20) for w in unknown)} "
                                    f"{'is' if len(unknown) == 1 else 'are'} not in the {name} "
                                    f"model's vocabulary: {' '.join(allowed)}")
    return [vocab.index(w) for w in words], words


def _date_source(text: str, trained, name: str):
    """A dates model's source: ids [n] (one per character), their labels, the ISO answer's
    characters (None when the text is no date the model learned) and the notes saying so
    (:func:`tutor.training.tasks.date_note`, checked with the calendar); one-line usage
    errors for text the model cannot read at all."""
    from tutor.errors import TutorError
    from tutor.training.tasks import date_answer, date_note

    try:
        ids = trained.encode(text)
    except TutorError as exc:
        raise usage_error("SOURCE", f"{exc} (the {name} model reads a written date, one "
                                    f"token per character)") from None
    labels = trained.source_tokens(text)
    note = date_note(text)
    if note is not None:
        return ids, labels, None, [f"note: {note}; the output is the model's guess, outside "
                                   f"what it learned"]
    return ids, labels, list(date_answer(text)), []


def _cut_short(info: dict, new_tokens: int) -> list[str]:
    """The note on an output cut at --max-new-tokens before its end token (none otherwise)."""
    if not info.get("stopped_at_limit"):
        return []
    end = info["tokens"].get(info.get("eos_id"), "the end token")
    return [f"note: stopped at --max-new-tokens {new_tokens} before the end token {end}: the "
            f"output may be cut short"]


@dataclass
class _Inputs:
    """What a run reads, made by :func:`_toy_inputs` or :func:`_decoder_inputs`: the model,
    the source's ids [n] and labels, token_text (id → text), the begin/end ids, ids never
    output, the number of new tokens, the expected answer (toy models) and the notes on what
    cut or bends the run."""
    model: object
    ids: list
    labels: list
    token_text: object
    bos: int | None
    eos: int | None
    never: tuple
    new_tokens: int
    expected: list | None
    limits: list


def _toy_inputs(opened, source: str, max_new_tokens: int | None) -> _Inputs:
    """A shipped toy model's or a tutor train file's inputs: digits, or a written date for
    a dates model; a digit source longer than the training sequences gets a note."""
    import numpy as np

    from tutor.training import tasks

    trained = opened.trained
    if trained.task == "dates":
        ids, labels, expected, limits = _date_source(source, trained, opened.name)
    else:
        ids, labels = _toy_source(source, trained, opened.name)
        expected = [str(d) for d in tasks.answer(trained.task,
                                                 np.array([int(w) for w in labels]))]
        limits = []
        if len(labels) > tasks.MAX_LENGTH:
            limits.append(f"note: the source has {len(labels)} digits; the {opened.name} model "
                          f"was trained on {tasks.MIN_LENGTH} to {tasks.MAX_LENGTH}, so beyond "
                          f"{tasks.MAX_LENGTH} it is guessing")
    return _Inputs(trained.model, ids, labels, trained.vocab, trained.bos_id, trained.eos_id,
                   (trained.pad_id, trained.bos_id),    # special tokens, not the end: never output
                   max_new_tokens or tasks.answer_tokens(trained.task, len(ids)), expected, limits)


def _decoder_inputs(opened, source: str, chat: bool, max_new_tokens: int | None) -> _Inputs:
    """A decoder-only model's inputs: the prompt (wrapped in the family's chat template with
    --chat) as its tokenizer reads it, and as many new tokens as its positions leave room for."""
    from tutor.errors import TutorError

    model = opened.model
    limits = []
    if chat:                                                           # the family writes its template
        wrap = model.family.chat_prompt
        if wrap is None:
            raise usage_error("--chat", f"expected a model with a chat template, got "
                                        f"{opened.name}, a {model.family.name} model")
        try:
            source = wrap(model.tokenizer, source)
        except TutorError as exc:
            raise usage_error("--chat", str(exc).removeprefix("--chat: ")) from None
        limits.append("chat template (ChatML): " + source.replace("\n", "\\n"))
    try:
        ids, labels = model.tokenize(source)
    except TutorError as exc:              # a prompt longer than the model's positions
        raise usage_error("SOURCE", f"expected a prompt of at most "
                                    f"{model.config.max_positions} tokens ({exc})") from None
    room = model.config.max_positions - len(ids)
    new_tokens = max_new_tokens or min(DEFAULT_NEW_TOKENS, room)
    if max_new_tokens is None and 0 < room < DEFAULT_NEW_TOKENS:
        limits.append(f"writes at most {room} new token{'s' if room > 1 else ''}, not the default "
                      f"{DEFAULT_NEW_TOKENS}: {model.name} reads "
                      f"{model.config.max_positions} positions and the prompt has {len(ids)}")
    if new_tokens > room or room < 1:
        raise usage_error("--max-new-tokens", f"expected at most {max(room, 0)}: "
                                              f"{model.name} reads {model.config.max_positions}"
                                              f" positions and the prompt has {len(ids)}")
    eos = getattr(model.tokenizer, "eos_id", None) if chat else None  # chat: end of the turn
    return _Inputs(model, ids, labels, lambda i: model.tokenizer.id_to_token(i) or f"#{i}",
                   None, eos, (), new_tokens, None, limits)


def _library_error(exc):
    """A SettingError of the decoding library as a usage error naming the option."""
    option = {"beam_size": "--beam"}.get(exc.name, "--" + exc.name.replace("_", "-"))
    return usage_error(option, str(exc))


@tutor_command(EPILOG)
@click.argument("source", type=TEXT)
@click.option("--model", "model_name", default="reverse", show_default=True, metavar="NAME",
              help="A shipped toy model (reverse, copy, sort, dates), a FILE.npz written by tutor "
                   "train, or a decoder-only model: a GPT-2 or llama folder, a llama .gguf "
                   "file, smollm2.")
@click.option("--max-new-tokens", type=int, default=None, metavar="N",
              callback=_range(1, MAX_NEW_TOKENS, "a number of tokens"),
              help="Stop after N new tokens (default: the source's length + 1 for a toy model, 11 "
                   "for dates, "
                   f"{DEFAULT_NEW_TOKENS} for a decoder-only model, or fewer when the model's "
                   "positions run out: the screen says so).")
@click.option("--temperature", type=float, default=None, callback=_temperature, metavar="T",
              help="Sample from softmax(logits / T): T < 1 sharpens, T > 1 flattens.")
@click.option("--top-k", type=int, default=None, callback=_range(1, None, "a number of tokens"),
              metavar="K", help="Sample among the K most likely tokens only.")
@click.option("--top-p", type=float, default=None, callback=_top_p, metavar="P",
              help="Sample among the smallest set of tokens whose probability reaches P.")
@click.option("--seed", type=int, default=None, callback=_range(0, SEED_LIMIT - 1, "a seed"),
              metavar="N", help="Seed of the sampling (default 0 when sampling): same seed, "
                                "same tokens.")
@click.option("--beam", type=int, default=None, callback=_range(1, MAX_BEAM_SIZE, "a beam width"),
              metavar="K", help="Beam search with K live beams (the 2017 paper used 4).")
@click.option("--length-penalty", type=float, default=0.6, show_default=True, metavar="A",
              callback=_range(0, 100, "a length penalty α"),
              help="Beam search: rank by log P / ((5 + |Y|) / 6)^A (the paper: 0.6).")
@click.option("--explain-cache", is_flag=True,
              help="Show what each decoder layer keeps and the work the cache saves (counted "
                   "and measured).")
@click.option("--chat", is_flag=True,
              help="Wrap the prompt in the model's chat template (ChatML: SmolLM2's), shown on "
                   "screen, and stop at its end-of-turn token.")
@click.option("--no-cache", is_flag=True,
              help="Recompute every position at every step (the same tokens, more work).")
@click.option("--view", type=click.Choice(["steps", "lines"]), default="steps",
              show_default=True,
              help="lines also draws every step's attention in the last layer as lines from "
                   "its newest position to the 3 keys it reads most, heads overlaid.")
@calculator_options(seed=False, pause=True)
def generate(source, model_name, max_new_tokens, temperature, top_k, top_p, seed, beam,
             length_penalty, explain_cache, chat, no_cache, view, step, pause, output):
    """Write the output for SOURCE one token at a time, showing each step."""
    from tutor.errors import SettingError

    from .pretrained_options import open_model
    from .progress import working
    from tutor.render.generation import generation_document
    from tutor.walkthroughs.generation import generate as run

    sampling = any(v is not None for v in (temperature, top_k, top_p))
    if beam is not None and sampling:
        raise usage_error("--beam", "expected either --beam or sampling options (--temperature, "
                                    "--top-k, --top-p), got both")
    if seed is not None and not sampling:
        raise usage_error("--seed", "expected --temperature, --top-k or --top-p with it "
                                    "(greedy decoding and beam search draw nothing)")
    if beam is None and typed("length_penalty"):
        raise usage_error("--length-penalty", "expected --beam with it (only beam search "
                                              "ranks finished beams by length)")
    if not source.strip():
        raise usage_error("SOURCE", "expected at least one token, got an empty source")
    opened = open_model(model_name, "generate", toy=True)              # the one way in
    if view == "lines" and beam is not None and opened.kind != "toy":
        raise usage_error("--view", "expected no --beam with --view lines on a decoder-only "
                                    "model (the beams reorder the tokens the lines lead to)")
    if not opened.writes:
        raise usage_error("--model", f"expected a decoder-only (GPT-2 style) model, got "
                                     f"{opened.name}, a {opened.model.family.name} "
                                     f"{opened.model.family.kind}")
    if chat and opened.kind == "toy":
        raise usage_error("--chat", f"expected a model with a chat template, got {opened.name}, "
                                    "a toy model")
    given = (_toy_inputs(opened, source, max_new_tokens) if opened.kind == "toy" else
             _decoder_inputs(opened, source, chat, max_new_tokens))
    new_tokens = given.new_tokens
    rule = f", beam {beam}" if beam is not None else ", sampling" if sampling else ""
    try:
        with working(f"generate: {opened.name}, {new_tokens} new token"
                     f"{'s' if new_tokens > 1 else ''}{rule}"):
            recording = run(given.model, given.ids, token_text=given.token_text,
                            max_new_tokens=new_tokens, bos_id=given.bos, eos_id=given.eos,
                            temperature=temperature, top_k=top_k, top_p=top_p,
                            seed=(0 if seed is None else seed) if sampling else None,
                            beam=beam, length_penalty=length_penalty, use_cache=not no_cache,
                            explain_cache=explain_cache, suppress_ids=given.never)
    except SettingError as exc:
        raise _library_error(exc) from None
    settings = {"model": opened.name, "max_new_tokens": new_tokens, **recording.info["rule"],
                "cache": not no_cache}
    doc = generation_document(recording.trace, recording.info, precision=output.precision,
                              model_name=opened.name, source_labels=given.labels,
                              expected=given.expected, settings=settings,
                              limits=given.limits + _cut_short(recording.info, new_tokens),
                              view=view)
    with working(f"generate: writing the {output.format} document",
                 when=output.is_text and not pause):
        show_document(output, doc, step=step, pause=pause)
