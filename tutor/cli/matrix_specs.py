"""Matrix inputs of the commands (the SPEC forms and ``WORD=v1,...``), as Click types.

A SPEC names a matrix in one of these forms:

* ``identity`` -- ones on the diagonal (a rectangular one when the shape is not square);
* ``random``   -- entries drawn uniformly from -1.0, -0.9, ..., 1.0, from ``--seed``;
* an inline matrix, rows split by ``;`` and numbers by ``,`` (or spaces): ``"1,0;0,1"``;
* a path to a ``.npy`` file (read with ``allow_pickle=False``), a ``.json`` file holding
  nested lists, or a ``.csv`` file of numbers.

Parsing checks what can be checked without knowing where the matrix goes (numbers only,
rectangular, finite, 2-D, within the size limits); the command checks that shapes fit.
Every problem becomes a ``click.BadParameter`` naming the option, what was expected and
what was given, so it prints as one line and exits with code 2.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from tutor.errors import number_text
from tutor.limits import MAX_ABS, MAX_DIM, MAX_FILE_BYTES

from .usage import note_input, quote, shape_text

if TYPE_CHECKING:                                  # annotations only: --help imports no NumPy
    import numpy as np

SPEC_FORMS = ("identity, random, an inline matrix such as \"1,0;0,1\", "
              "or a .npy, .json or .csv file")
FILE_SUFFIXES = (".npy", ".json", ".csv")


class SpecError(ValueError):
    """A SPEC that cannot be read; the message says what was expected and what was given."""


def _number(token: str, where: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise SpecError(f"expected numbers, got {quote(token)} {where}") from None
    return value


def _check_array(array: np.ndarray, source: str, max_cols: int = MAX_DIM) -> np.ndarray:
    """Numbers only, 2-D (a 1-D list is one row), finite, not empty, within MAX_DIM rows and
    ``max_cols`` columns."""
    import numpy as np

    if array.dtype == np.bool_ or not (np.issubdtype(array.dtype, np.integer)
                                       or np.issubdtype(array.dtype, np.floating)):
        raise SpecError(f"expected real numbers, got {source} of type {array.dtype}")
    if array.ndim == 1:
        array = array[None, :]                                          # [n] -> [1, n]
    if array.ndim != 2:
        raise SpecError(f"expected a 2-D matrix, got {source} of shape {shape_text(array.shape)}")
    if array.size == 0:
        raise SpecError(f"expected at least one number, got {source} of shape "
                        f"{shape_text(array.shape)}")
    rows, cols = array.shape
    if rows > MAX_DIM or cols > max_cols:
        raise SpecError(f"expected at most {MAX_DIM} rows and {max_cols} columns, got "
                        f"{source} of shape {shape_text(array.shape)}")
    array = array.astype(np.float64)
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        r, c = bad[0]
        raise SpecError(f"expected finite numbers, got {array[r, c]} in row {r + 1}, "
                        f"column {c + 1}")
    big = np.argwhere(np.abs(array) > MAX_ABS)
    if len(big):
        r, c = big[0]
        raise SpecError(f"expected numbers from {-MAX_ABS:,.0f} to {MAX_ABS:,.0f}, got "
                        f"{number_text(array[r, c])} in row {r + 1}, column {c + 1}")
    return array


def _rows_to_array(rows: list[list[float]], source: str, max_cols: int = MAX_DIM) -> np.ndarray:
    if not rows:
        raise SpecError(f"expected at least one number, got {source}")
    width = len(rows[0])
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != width:
            raise SpecError(f"expected every row to have {width} numbers like row 1, "
                            f"got {len(row)} in row {i}")
    import numpy as np

    return _check_array(np.array(rows, dtype=np.float64), source, max_cols)


def split_entries(text: str, where: str = "") -> list[str]:
    """``"1, 2 3"`` -> ["1", "2", "3"]: entries split by commas and/or spaces. An empty entry
    (``"1,,2"``, ``"1,2,"``, ``",1"``) is a SpecError naming its place, never dropped: a typo
    must not quietly change how many numbers there are."""
    tokens: list[str] = []
    pieces = str(text).split(",")
    for i, piece in enumerate(pieces):
        words = piece.split()
        if not words and len(pieces) > 1:
            place = ("at the start" if i == 0 else "at the end" if i == len(pieces) - 1
                     else f"after entry {len(tokens)}")
            raise SpecError(f"expected a number between every two commas, got an empty entry "
                            f"{place}{' ' + where if where else ''} of {quote(text)}")
        tokens += words
    return tokens


def parse_inline(text: str, max_cols: int = MAX_DIM) -> np.ndarray:
    """``"1,0;0,1"`` -> [[1, 0], [0, 1]]; numbers split by commas or spaces, rows by ``;``
    (one trailing ``;`` is forgiven); an empty entry or row is an error; at most MAX_DIM rows
    and ``max_cols`` columns."""
    rows = []
    body = text.strip()
    if body.endswith(";"):
        body = body[:-1]
    for i, row_text in enumerate(body.split(";"), start=1):
        tokens = split_entries(row_text, f"in row {i}")
        if not tokens:
            raise SpecError(f"expected numbers in every row, got an empty row {i}")
        rows.append([_number(tok, f"in row {i}") for tok in tokens])
    return _rows_to_array(rows, "an inline matrix", max_cols)


def _json_rows(data, name: str) -> list[list[float]]:
    import json

    if not isinstance(data, list):
        raise SpecError(f"expected a list of rows in {name}, got a JSON {type(data).__name__}")
    if data and not isinstance(data[0], list):
        data = [data]                                                   # one row
    rows = []
    for i, row in enumerate(data, start=1):
        if not isinstance(row, list):
            raise SpecError(f"expected a list of rows in {name}, got "
                            f"{type(row).__name__} {quote(json.dumps(row))} as row {i}")
        values = []
        for value in row:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SpecError(f"expected numbers, got {quote(json.dumps(value))} "
                                f"in row {i} of {name}")
            values.append(float(value))
        rows.append(values)
    return rows


def read_matrix_file(path: str) -> np.ndarray:
    """A matrix from a .npy, .json or .csv file."""
    name = quote(path, 60)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in FILE_SUFFIXES:
        raise SpecError(f"expected a .npy, .json or .csv file, got {name}")
    if not os.path.exists(path):
        raise SpecError(f"expected {SPEC_FORMS}, got {name}, which does not exist")
    if os.path.isdir(path):
        raise SpecError(f"expected a file, got the directory {name}")
    import io

    from tutor.errors import FileReadError, TutorError
    from tutor.files import read_bytes

    try:
        data = read_bytes(path, MAX_FILE_BYTES, "a matrix file")       # a regular file only
    except FileReadError as exc:
        reason = str(exc)[len(path) + 2:] if str(exc).startswith(f"{path}: ") else str(exc)
        raise SpecError(f"expected a regular file of at most {MAX_FILE_BYTES} bytes, got "
                        f"{name} ({reason})") from None
    except OSError as exc:
        raise SpecError(f"expected a readable file, got {name} "
                        f"({exc.strerror or type(exc).__name__})") from None
    note_input(path)
    if suffix == ".npy":
        from tutor.weightfiles import read_npy_data, read_npy_header

        if not data.startswith(b"\x93NUMPY"):                          # before numpy guesses at it
            raise SpecError(f"expected a .npy file, got {name}, which is not one "
                            f"(it lacks the .npy header)")
        stream = io.BytesIO(data)
        try:                                     # the header's shape must fit the file's size
            shape, fortran, dtype, nbytes = read_npy_header(stream, name, len(data))
            array = read_npy_data(stream, shape, fortran, dtype, nbytes, name)
        except TutorError as exc:
            raise SpecError(f"expected a .npy file of numbers, got {exc}") from None
        return _check_array(array, name)
    import csv                      # json and csv load only when a file is read
    import json

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"expected a UTF-8 text file, got {name}, which is not UTF-8 text "
                        f"(byte {exc.start:,})") from None
    if suffix == ".json":
        try:
            data = json.loads(text)
        except RecursionError:
            raise SpecError(f"expected JSON nested lists, got {name} nested too "
                            f"deeply to read") from None
        except json.JSONDecodeError as exc:
            raise SpecError(f"expected JSON nested lists, got {name} which is not "
                            f"valid JSON (line {exc.lineno}: {exc.msg})") from None
        except ValueError as exc:                                     # e.g. a 5,000-digit number
            from tutor.files import value_error_reason

            raise SpecError(f"expected JSON nested lists, got {name} which is not "
                            f"valid JSON ({value_error_reason(exc)})") from None
        from tutor.files import nesting_depth
        from tutor.limits import MAX_NESTING

        if nesting_depth(data) > MAX_NESTING:
            raise SpecError(f"expected JSON nested lists, got {name} nested too "
                            f"deeply to read") from None
        return _rows_to_array(_json_rows(data, name), name)
    rows = []
    for i, record in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        cells = [cell.strip() for cell in record]
        if not any(cells):
            continue
        rows.append([_number(cell, f"in line {i} of {name}") for cell in cells])
    return _rows_to_array(rows, name)


@dataclass(frozen=True)
class MatrixSpec:
    """A parsed SPEC: ``identity``, ``random``, or a concrete matrix (``array``)."""

    kind: str                      # "identity" | "random" | "array"
    text: str
    array: np.ndarray | None = None

    @property
    def shape(self):
        return None if self.array is None else self.array.shape

    def resolve(self, rows: int, cols: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """The matrix itself; ``identity`` and ``random`` take the shape given here."""
        import numpy as np

        if self.kind == "identity":
            return np.eye(rows, cols)                                   # [rows, cols]
        if self.kind == "random":
            from tutor.walkthroughs.inputs import random_tenths

            if rng is None:
                rng = np.random.default_rng(0)
            return random_tenths(rng, rows, cols)                       # [rows, cols]
        return self.array

    def source(self):
        """What :func:`tutor.walkthroughs.inputs.attention_inputs` takes: "identity",
        "random", or the matrix given, described as :meth:`describe` says."""
        if self.kind in ("identity", "random"):
            return self.kind
        from tutor.walkthroughs.inputs import Given

        return Given(self.array, self.describe())

    def describe(self) -> str:
        if self.kind in ("identity", "random"):
            return self.kind
        return "a file" if self.text.lower().endswith(FILE_SUFFIXES) else "inline"


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_spec(text: str) -> MatrixSpec:
    """A SPEC string -> MatrixSpec; raises SpecError with what was expected and given."""
    stripped = text.strip()
    lowered = stripped.lower()
    if lowered in ("identity", "random"):
        return MatrixSpec(lowered, stripped)
    if not stripped:
        raise SpecError(f"expected {SPEC_FORMS}, got an empty value")
    if lowered.endswith(FILE_SUFFIXES) or os.path.isfile(stripped):
        return MatrixSpec("array", stripped, read_matrix_file(stripped))
    if os.path.isdir(stripped):                 # not numbers in a row: a folder
        raise SpecError(f"expected {SPEC_FORMS}, got the directory {quote(stripped)}")
    looks_numeric = (any(ch.isdigit() for ch in stripped) or "," in stripped or ";" in stripped
                     or _is_float(stripped))
    if not looks_numeric:
        raise SpecError(f"expected {SPEC_FORMS}, got {quote(stripped)}")
    return MatrixSpec("array", stripped, parse_inline(stripped))


class MatrixSpecType(click.ParamType):
    """A Click type for SPEC options; errors name the option (Click adds its name)."""

    name = "SPEC"

    def convert(self, value, param, ctx):
        if isinstance(value, MatrixSpec):
            return value
        try:
            return parse_spec(str(value))
        except SpecError as exc:
            self.fail(str(exc), param, ctx)


MATRIX = MatrixSpecType()

GLOVE = "glove"


class EmbeddingsType(MatrixSpecType):
    """``--embeddings``: a SPEC, or ``glove`` for the shipped GloVe 6B 50-d word vectors."""

    name = "SPEC|glove"

    def convert(self, value, param, ctx):
        if isinstance(value, str) and value.strip().lower() == GLOVE:
            return MatrixSpec(GLOVE, GLOVE)
        return super().convert(value, param, ctx)


EMBEDDINGS = EmbeddingsType()
EMBEDDINGS_HELP = ("The word vectors X: 'glove' (real GloVe vectors, d_model 50), or a SPEC "
                   "for the whole X (one row per word).")


class WordVectorType(click.ParamType):
    """``WORD=v1,v2,...`` -> (word, vector)."""

    name = "WORD=v1,v2,..."

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        word, sep, numbers = str(value).partition("=")
        word = word.strip()
        if not sep or not word or not numbers.strip():
            self.fail(f"expected WORD=v1,v2,... such as cat=0,1,0,1, got {quote(value)}",
                      param, ctx)
        try:
            array = parse_inline(numbers)
        except SpecError as exc:
            self.fail(f"{exc} for {quote(word)}", param, ctx)
        if array.shape[0] != 1:
            self.fail(f"expected one row of numbers for {quote(word)}, got "
                      f"{array.shape[0]} rows", param, ctx)
        return word, array[0]


WORD_VECTOR = WordVectorType()
