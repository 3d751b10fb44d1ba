"""Answer references: where a lesson's number question reads the engine's answer.

A question's answer is a reference ``"<step id>:<trace name>[i, j, ...]"`` into the result of
an earlier compute step of the lesson (:mod:`tutor.lessons.compute`), for example
``"attn:weights[the, sat]"``. Each index is a 0-based integer (negative counts from the end)
or a label of that axis: a label the computation gives the axis (``head1``, ``dk512``,
``'8'``), else a token of the computation (``the``; a repeated word as ``the#2``), else a
dimension ``d1`` (1-based). A leading batch axis of one is dropped. A question's text may hold
``{step.token[i]}``, filled with the i-th token label of that computation.

A result is a :class:`tutor.lessons.compute.Result`: its ``trace`` (name -> array),
``tokens`` (the main axis's labels), ``recording`` (whose axis labels follow from the shapes
declared in :mod:`tutor.walkthroughs.names`) and ``axes`` (labels a computation gives one
entry itself: trace-name pattern -> labels per axis).
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass

import numpy as np

from tutor.errors import TutorError


class ComputeError(TutorError):
    """A computation that cannot run with the arguments given, or a reference that does not
    resolve."""


REFERENCE = re.compile(r"^\s*([a-z0-9][a-z0-9-]*)\s*:\s*([A-Za-z0-9_.]+)\s*(?:\[([^\]]*)\])?\s*$")
PLACEHOLDER = re.compile(r"\{([a-z0-9][a-z0-9-]*)\.token\[(-?\d+)\]\}")


@dataclass
class Reference:
    """A parsed reference: ``step:name[indices]``."""

    step: str             # the compute step's id
    name: str             # the trace name
    indices: list[str]    # as written

    def __str__(self) -> str:
        index = f"[{', '.join(self.indices)}]" if self.indices else ""
        return f"{self.step}:{self.name}{index}"


def parse_reference(text: str) -> Reference:
    """The :class:`Reference` ``text`` spells; ComputeError when it is not one."""
    match = REFERENCE.match(text)
    if not match:
        raise ComputeError(f"expected a reference such as \"attn:weights[the, sat]\", got {text!r}")
    step, name, index = match.groups()
    indices = [] if index is None else [part.strip() for part in index.split(",")]
    if any(not part for part in indices):
        raise ComputeError(f"expected indices separated by commas in {text!r}")
    return Reference(step, name, indices)


def axis_labels(result, name: str, shape: tuple) -> tuple:
    """The labels of each axis of trace entry ``name`` read as an array of ``shape`` (a
    leading batch of one dropped): those of the first pattern of ``result.axes`` that
    matches the name and has as many axes, else the recording's (from the declared shape);
    None for an axis without labels or with another number of them than its size."""
    found = next((labels for pattern, labels in result.axes.items()
                  if fnmatch.fnmatchcase(name, pattern) and len(labels) == len(shape)), None)
    if found is None:
        found = result.recording.axis_labels(name, len(shape))
    return tuple(labels if labels is not None and len(labels) == size else None
                 for labels, size in zip(found, shape))


def _index(token: str, labels, size: int, tokens: list[str], ref: Reference, axis: int) -> int:
    if re.fullmatch(r"-?\d+", token):
        i = int(token)
        if not -size <= i < size:
            raise ComputeError(f"{ref}: index {i} is outside axis {axis + 1} of size {size}")
        return i % size
    candidates = [labels] if labels is not None else []
    if labels is None and len(tokens) == size:
        candidates.append(tokens)
    for names in candidates:
        lowered = [str(n).lower() for n in names]
        if token.lower() in lowered:
            return lowered.index(token.lower())
    match = re.fullmatch(r"d(\d+)", token)
    if match and labels is None and 1 <= int(match.group(1)) <= size:
        return int(match.group(1)) - 1
    known = ", ".join(str(n) for n in (labels or tokens or [])[:size]) or "0-based integers"
    raise ComputeError(f"{ref}: {token!r} is not a label of axis {axis + 1} (expected {known})")


def locate(result, ref: Reference) -> tuple[np.ndarray, tuple[int, ...]]:
    """The array a reference reads (a leading batch of one dropped) and its 0-based index."""
    if ref.name not in result.trace:
        names = ", ".join(sorted(result.trace))
        raise ComputeError(f"{ref}: {ref.name!r} is not in the results of {ref.step!r} "
                           f"(it has {names})")
    array = np.asarray(result.trace[ref.name])
    while array.ndim > len(ref.indices) and array.shape[0] == 1:
        array = array[0]                                                # drop a batch of one
    if array.ndim != len(ref.indices):
        raise ComputeError(f"{ref}: {ref.name!r} has shape {array.shape}; expected "
                           f"{array.ndim} indices, got {len(ref.indices)}")
    labels = axis_labels(result, ref.name, array.shape)
    index = tuple(_index(tok, labels[axis], array.shape[axis], result.tokens, ref, axis)
                  for axis, tok in enumerate(ref.indices))
    return array, index


def resolve(result, ref: Reference) -> float:
    """The number a reference points at, from the computation's trace (ComputeError when it
    is not finite)."""
    array, index = locate(result, ref)
    value = float(array[index])
    if not math.isfinite(value):
        raise ComputeError(f"{ref}: the value is {value}, not a finite number")
    return value


def fill(text: str, results: dict) -> str:
    """Replace ``{step.token[i]}`` by the i-th token label of that computation."""
    def replace(match):
        step, i = match.group(1), int(match.group(2))
        if step not in results:
            raise ComputeError(f"{match.group(0)}: no computation {step!r} before this step")
        tokens = results[step].tokens
        if not -len(tokens) <= i < len(tokens):
            raise ComputeError(f"{match.group(0)}: {step!r} has {len(tokens)} tokens")
        return tokens[i]
    return PLACEHOLDER.sub(replace, text)


def expected(step, results: dict) -> float:
    """The engine's answer to a number question: its ``answer`` reference resolved in the
    results of the lesson's computations so far ({step id: result})."""
    ref = parse_reference(step.answer)
    if ref.step not in results:
        raise ComputeError(f"{ref}: no computation {ref.step!r} before this question")
    return resolve(results[ref.step], ref)
