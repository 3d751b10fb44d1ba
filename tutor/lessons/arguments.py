"""Checking a lesson computation's TOML arguments.

A computation in :mod:`tutor.lessons.compute` annotates each argument with one of the
checks here (``dim: whole(1, MAX_LESSON_DIM) = 4``). A check is called with the value the
lesson gave (or the default) and the argument's name, and returns the value the computation
works with (a sentence as its tokens, logits as a float64 matrix) or raises a one-line
:class:`~tutor.lessons.references.ComputeError` naming the argument, what was expected and
what was given.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from tutor.limits import MAX_LESSON_WORDS, MAX_MODEL_TOKENS, SEED_LIMIT

from .references import ComputeError

Check = Callable[[object, str], object]

#: The lesson key that gives each input of the attention-input rule
#: (:func:`tutor.walkthroughs.inputs.attention_inputs`): one ``weights`` gives Wq, Wk, Wv, Wo.
INPUT_KEYS = {"wq": "weights", "wk": "weights", "wv": "weights", "wo": "weights",
              "heads": "heads", "dk": "dim", "x": "sentence"}


def input_error(exc) -> ComputeError:
    """An InputError of the attention-input rule naming the lesson's key: 'heads: ...'."""
    return ComputeError(f"{INPUT_KEYS.get(exc.field, exc.field)}: {exc.worded(INPUT_KEYS)}")


def whole(low: int, high: int) -> Check:
    """A whole number from ``low`` to ``high`` (true and false are not numbers)."""
    def check(value, name):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ComputeError(f"expected {name} as a whole number from {low} to {high}, got "
                               f"{value!r}")
        return value
    return check


def number(low: float, high: float, *, above: bool = False) -> Check:
    """A number from ``low`` (above it when ``above``) to ``high``, as a float."""
    def check(value, name):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not (low < value if above else low <= value) or not value <= high:
            bound = f"above {low:g} and at most {high:g}" if above else f"from {low:g} to {high:g}"
            raise ComputeError(f"expected {name} as a number {bound}, got {value!r}")
        return float(value)
    return check


def flag(value, name) -> bool:
    """true or false."""
    if not isinstance(value, bool):
        raise ComputeError(f"expected {name} as true or false, got {value!r}")
    return value


seed = whole(0, SEED_LIMIT - 1)


def one_of(*choices: str) -> Check:
    """One of the words ``choices``."""
    def check(value, name):
        if value not in choices:
            quoted = [f"'{c}'" for c in choices]
            listed = quoted[0] if len(quoted) == 1 else \
                f"{', '.join(quoted[:-1])} or {quoted[-1]}"
            raise ComputeError(f"expected {name} {listed}, got {value!r}")
        return value
    return check


def words(value, name) -> list[str]:
    """Text of course words (at most MAX_LESSON_WORDS), as its tokens."""
    from tutor.walkthroughs.word_vectors import tokenize

    if not isinstance(value, str):
        raise ComputeError(f"expected the {name} as text, got {value!r}")
    tokens = tokenize(value)
    if not tokens:
        raise ComputeError(f"expected at least one word in the {name}, got none")
    if len(tokens) > MAX_LESSON_WORDS:
        raise ComputeError(f"expected at most {MAX_LESSON_WORDS} words in the {name}, got "
                           f"{len(tokens)}")
    return tokens


def model_sentence(value, name) -> str:
    """A sentence for a real model (room left for [CLS] and [SEP]), as given."""
    if not isinstance(value, str) or not value.split():
        raise ComputeError(f"expected {name} as a sentence, got {value!r}")
    if len(value.split()) > MAX_MODEL_TOKENS - 2:
        raise ComputeError(f"expected at most {MAX_MODEL_TOKENS - 2} words in {name}, got "
                           f"{len(value.split())}")
    return value


def one_word(value, name) -> str:
    """A single word, as given."""
    if not isinstance(value, str) or len(value.split()) != 1:
        raise ComputeError(f"expected one word, got {value!r}")
    return value


def digits(value, name) -> str:
    """Digits a toy task reads, MIN_LENGTH to MAX_LENGTH of them."""
    from tutor.training.tasks import MAX_LENGTH, MIN_LENGTH

    if not isinstance(value, str) or not value.isdigit() or \
            not MIN_LENGTH <= len(value) <= MAX_LENGTH:
        raise ComputeError(f"expected {name} as {MIN_LENGTH} to {MAX_LENGTH} digits such as "
                           f"\"2718\", got {value!r}")
    return value


def written_date(value, name) -> str:
    """A date as a person writes it, for the dates model ("7 December 2026"): text of at
    most 32 characters (the model's limit, checked again when it reads it); "" for none."""
    if not isinstance(value, str) or len(value) > 32:
        raise ComputeError(f"expected {name} as a written date of at most 32 characters "
                           f"such as \"7 December 2026\", got {value!r}")
    return value


def matrix(value, name) -> np.ndarray:
    """Finite numbers in rows (one row may be given flat), as a float64 matrix [rows, cols]."""
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ComputeError(f"expected {name} as a list of numbers (or of rows), got {value!r}") \
            from None
    if array.ndim == 1:
        array = array[None, :]                                          # [n] -> [1, n]
    if array.ndim != 2 or array.size == 0 or not np.all(np.isfinite(array)):
        raise ComputeError(f"expected {name} as finite numbers in rows, got {value!r}")
    return array


def labels(value, name) -> list[str] | None:
    """A list of labels, or None (the computation checks how many)."""
    if value is not None and (not isinstance(value, list)
                              or not all(isinstance(v, str) for v in value)):
        raise ComputeError(f"expected {name} as a list of labels, got {value!r}")
    return value


def count_labels(value: list[str] | None, n: int, name: str) -> list[str] | None:
    """``value`` (from :func:`labels`) when it has ``n`` labels."""
    if value is not None and len(value) != n:
        raise ComputeError(f"expected {name} as a list of {n} labels, got {value!r}")
    return value


def text(value, name) -> str:
    """Any text (a name looked up later)."""
    if not isinstance(value, str):
        raise ComputeError(f"expected {name} as text, got {value!r}")
    return value


def widths(max_width: int) -> Check:
    """A non-empty list of whole numbers from 1 to ``max_width``."""
    def check(value, name):
        if not isinstance(value, (list, tuple)) or not value or not all(
                isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= max_width
                for d in value):
            raise ComputeError(f"expected {name} as a list of widths from 1 to {max_width}, got "
                               f"{value!r}")
        return value
    return check
