"""Value inputs of the commands: sentences, inline vectors and numbers, already-embedded
vectors from a .npy file, finite numbers, and the random stream of each option. Every
problem is a usage error naming the option (exit code 2)."""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

from tutor.errors import number_text
from tutor.limits import MAX_ABS, MAX_BATCH, MAX_MODEL_DIM, MAX_SEQ, MAX_TOKENS, MAX_VECTOR

from .matrix_specs import SpecError, parse_inline, split_entries
from .usage import check_limit, note_input, quote, shape_text, usage_error

if TYPE_CHECKING:                                  # annotations only: --help imports no NumPy
    import numpy as np


def rng_for(seed: int, name: str) -> np.random.Generator:
    """An independent random stream per option, so that ``--wq random`` gives the same Wq
    whatever else is random: :func:`tutor.walkthroughs.inputs.random_stream`, the rule the
    lessons and the explorer share (seeded by [seed, the first 4 bytes of sha256(name)])."""
    from tutor.walkthroughs.inputs import random_stream

    return random_stream(seed, name)


def parse_sentence(option: str, text: str, limit: int = MAX_TOKENS, *,
                   glove: bool = False) -> list[str]:
    """The words of a sentence (with ``glove``, for GloVe vectors, its punctuation split off as
    GloVe has it: 'Cat, sat!' -> Cat , sat !); an empty one or one past ``limit`` words is a
    usage error."""
    from tutor.walkthroughs.word_vectors import tokenize

    tokens = tokenize(text, glove=glove)
    if not tokens:
        raise usage_error(option, "expected at least one word, got an empty sentence")
    check_limit(option, len(tokens), limit, "a number of words")
    return tokens


def parse_vector(option: str, text: str, length: int | None = None,
                 limit: int = MAX_VECTOR) -> np.ndarray:
    """``"1,2,3"`` (or ``"1 2 3"``) -> a finite vector [n]; ``length`` fixes n."""
    count = len(str(text).replace(",", " ").split())
    if ";" not in str(text) and count > limit:                         # before parsing them
        raise usage_error(option, f"expected at most {limit} numbers, got {count}")
    try:
        if ";" not in str(text):
            split_entries(text)                     # "1,2,," names the empty entry, not a row
        array = parse_inline(text, max_cols=limit) if str(text).strip() else None
    except SpecError as exc:
        raise usage_error(option, str(exc)) from None
    if array is None:
        raise usage_error(option, "expected numbers such as \"1,2,3\", got an empty value")
    if array.shape[0] != 1:
        raise usage_error(option, f"expected one row of numbers, got {array.shape[0]} rows")
    vector = array[0]
    if len(vector) > limit:
        raise usage_error(option, f"expected at most {limit} numbers, got {len(vector)}")
    if length is not None and len(vector) != length:
        raise usage_error(option, f"expected {length} numbers (one per entry of the input), "
                                  f"got {len(vector)}")
    return vector


def parse_numbers(option: str, values, limit: int = MAX_VECTOR) -> np.ndarray:
    """Numbers given as separate arguments (``6 4``) or one list (``"6,4"``) -> a vector; an
    empty argument is an error, like an empty entry of a list."""
    for i, value in enumerate(values, start=1):
        if len(values) > 1 and not str(value).strip():          # one empty value: parse_vector
            raise usage_error(option, f"expected a number in every argument, got an empty "
                                      f"argument {i} of {len(values)}")
    return parse_vector(option, " ".join(str(v) for v in values), limit=limit)


def _bound(value: float) -> str:
    """A bound as an error states it: 1,000,000, 1000, 1e-06, 0."""
    return f"{value:,.0f}" if value == int(value) and abs(value) >= 1000 else f"{value:g}"


def number_range(*, positive: bool = False, smallest: float = 0.0, minimum: float | None = None,
                 maximum: float = MAX_ABS) -> str:
    """The range :func:`check_finite` accepts, in words: 'from -1,000,000 to 1,000,000',
    'greater than 0 and at most 1,000,000', 'from 1e-06 to 1,000,000', 'from 0 to 1000'."""
    if positive and smallest > 0:
        return f"from {_bound(smallest)} to {_bound(maximum)}"
    if positive:
        return f"greater than 0 and at most {_bound(maximum)}"
    low = -MAX_ABS if minimum is None else minimum
    return f"from {_bound(low)} to {_bound(maximum)}"


def check_finite(option: str, value: float, *, positive: bool = False,
                 smallest: float = 0.0, minimum: float | None = None,
                 maximum: float = MAX_ABS) -> float:
    """A finite number within ±MAX_ABS: at most ``maximum``; greater than 0 (and at least
    ``smallest``) when ``positive``; at least ``minimum`` when given. NaN, inf and any number
    outside are usage errors that state the whole range accepted (:func:`number_range`), the
    same whichever side the number is off."""
    words = number_range(positive=positive, smallest=smallest, minimum=minimum,
                         maximum=maximum)
    if not math.isfinite(value):
        raise usage_error(option, f"expected a finite number {words}, got {value}")
    low = -MAX_ABS if minimum is None else minimum
    too_low = (value <= 0 or value < smallest) if positive else value < low
    if too_low or abs(value) > MAX_ABS or value > maximum:
        raise usage_error(option, f"expected a number {words}, got {number_text(value)}")
    return float(value)


def read_vectors(option: str, path: str, d_model: int | None = None) -> np.ndarray:
    """Already-embedded inputs from a .npy file: [seq, d_model] or [batch, seq, d_model],
    finite floats within MAX_BATCH, MAX_SEQ and MAX_MODEL_DIM (checked before anything else)."""
    name = quote(path, 60)
    if not str(path).lower().endswith(".npy"):
        raise usage_error(option, f"expected a .npy file of shape [seq, d_model] or "
                                  f"[batch, seq, d_model], got {name}")
    if not os.path.isfile(path):
        raise usage_error(option, f"expected an existing .npy file, got {name}")
    note_input(path)
    import numpy as np

    from tutor.errors import TutorError
    from tutor.weightfiles import read_npy_header

    try:
        with open(path, "rb") as handle:
            if handle.read(6) != b"\x93NUMPY":
                raise usage_error(option, f"expected a .npy file, got {name}, which is not one "
                                          f"(it lacks the .npy header)")
            handle.seek(0)
            try:                                 # the header's shape must fit the file's size
                read_npy_header(handle, name, os.fstat(handle.fileno()).st_size)
            except TutorError as exc:
                raise usage_error(option, f"expected a .npy file of numbers, got {exc}") from None
        array = np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError) as exc:
        raise usage_error(option, f"expected a .npy file of numbers, got {name} "
                                  f"({str(exc).splitlines()[0]})") from None
    if not np.issubdtype(array.dtype, np.floating) and not np.issubdtype(array.dtype, np.integer):
        raise usage_error(option, f"expected real numbers, got {name} of type {array.dtype}")
    if array.ndim not in (2, 3) or 0 in array.shape:
        raise usage_error(option, f"expected shape [seq, d_model] or [batch, seq, d_model], "
                                  f"got {name} of shape {shape_text(array.shape)}")
    batch = array.shape[0] if array.ndim == 3 else 1
    seq, width = array.shape[-2:]
    for what, value, limit in (("batch items", batch, MAX_BATCH), ("positions", seq, MAX_SEQ),
                               ("columns (d_model)", width, MAX_MODEL_DIM)):
        if value > limit:
            raise usage_error(option, f"expected at most {limit} {what}, got {name} of shape "
                                      f"{shape_text(array.shape)}")
    if d_model is not None and width != d_model:
        raise usage_error(option, f"expected d_model = {d_model} columns like the model "
                                  f"(--weights or --dim), got "
                                  f"{name} of shape {shape_text(array.shape)}")
    dtype = array.dtype if array.dtype in (np.float32, np.float64) else np.float64
    array = np.array(array, dtype=dtype)                              # float32 stays float32
    if not np.all(np.isfinite(array)):
        raise usage_error(option, f"expected finite numbers, got NaN or inf in {name}")
    if np.abs(array).max() > MAX_ABS:
        raise usage_error(option, f"expected numbers from {-MAX_ABS:,.0f} to {MAX_ABS:,.0f}, got "
                                  f"{number_text(np.abs(array).max())} in {name}")
    return array
