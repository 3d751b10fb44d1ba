"""The computations a lesson may run, and references into their results.

A lesson names a computation and its arguments (``compute = "attention"``,
``args = { sentence = "the cat sat" }``). This module is a registry: each computation checks
its TOML arguments, calls the same walkthrough (:mod:`tutor.walkthroughs`) a command calls,
and returns what it recorded with labels for its axes and the views to show; it never runs
the engine itself. A question's answer is a
reference ``"<step id>:<trace name>[row, col]"`` into such a result, where each index is a
0-based integer (negative counts from the end) or a label: a token (``the``), a dimension
(``d1``), or a label the computation gives that axis.
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from tutor.errors import TutorError
from tutor.limits import (MAX_DK, MAX_DK_VALUES, MAX_ELEMENTS, MAX_KEYS, MAX_LESSON_DIM,
                          MAX_LESSON_POSITIONS, MAX_LESSON_WORDS, MAX_SAMPLES, MIN_KEYS,
                          MIN_SAMPLES, SEED_LIMIT)
from tutor.trace import Trace


class ComputeError(TutorError):
    """A computation that cannot run with the arguments given, or a reference that does not
    resolve."""


@dataclass
class LessonView:
    """A matrix to show from the trace, with its labels."""

    name: str
    key: str                               # trace name
    rows: list[str] | None = None          # None: 1, 2, ...
    cols: list[str] | None = None          # None: d1, d2, ...
    heat: bool = False
    caption: str = ""
    group: str = ""                        # views of one group share a panel
    row_scaled: bool = False               # attention weights: shaded within each row


@dataclass
class Result:
    """What a computation gives: the trace, axis labels, and the document the learner sees:
    a walkthrough's own (attention), or one made from ``views``, a step per group."""

    name: str
    trace: Trace
    tokens: list[str]                      # labels of the main token axis
    axes: dict[str, tuple] = field(default_factory=dict)   # trace-name pattern -> labels per axis
    views: list[LessonView] = field(default_factory=list)
    document: object = None                # a tutor.render.document.Document
    facts: list[str] = field(default_factory=list)        # one-line notes shown with it

    def __post_init__(self):
        if self.document is None:
            self.document = views_document(self.name, self.trace, self.views, self.facts)

    def show_names(self) -> list[str]:
        """The names ``show = [...]`` may use: step keys, and the matrix keys of a step that
        only shows matrices (one of them may be shown alone)."""
        names = []
        for step in self.document.steps:
            keys = [step.key] + ([m.key for part in step.parts for m in part.matrices]
                                 if not step.formula else [])
            names += [key for key in keys if key and key not in names]
        return names


def _row_scaled_caption(view: LessonView) -> str:
    """A view's caption; for attention weights (``row_scaled``) it also says the shades are
    scaled within each row."""
    if not view.row_scaled:
        return view.caption
    from tutor.render.document import ROW_SCALED_NOTE

    return "; ".join(filter(None, [view.caption, ROW_SCALED_NOTE]))


def views_document(name: str, trace, views: list[LessonView], facts: list[str]):
    """A document of the views: one step per group (titled and keyed by it, no formula),
    holding its matrices; the facts are its notes."""
    from tutor.render.builder import DocumentBuilder
    from tutor.render.document import Part

    builder = DocumentBuilder(trace)
    groups: dict[str, list[LessonView]] = {}
    for view in views:
        groups.setdefault(view.group or view.key, []).append(view)
    for group, members in groups.items():
        matrices = [builder.first_matrix(v.name, v.key, v.rows, v.cols, heat=v.heat,
                                         row_scaled=v.row_scaled,
                                         caption=_row_scaled_caption(v)) for v in members]
        builder.step(group, "", "", Part("", matrices), key=group)
    return builder.document(name, name, [], {}, notes=list(facts))


REGISTRY: dict[str, Callable[..., Result]] = {}
SIGNATURES: dict[str, dict[str, object]] = {}     # name -> {arg: default}


def computation(name: str, **defaults):
    def register(function):
        REGISTRY[name] = function
        SIGNATURES[name] = defaults
        return function
    return register


def run_computation(name: str, args: dict) -> Result:
    """Run computation ``name`` with ``args`` (unknown names and arguments are errors)."""
    if name not in REGISTRY:
        raise ComputeError(f"unknown computation {name!r}; expected one of "
                           f"{', '.join(sorted(REGISTRY))}")
    defaults = SIGNATURES[name]
    extra = set(args) - set(defaults)
    if extra:
        raise ComputeError(f"computation {name!r} takes {', '.join(sorted(defaults))}; "
                           f"got unknown argument {', '.join(sorted(extra))}")
    values = {**defaults, **args}
    return REGISTRY[name](**values)


# --- helpers -------------------------------------------------------------------------------

def _tokens(sentence, what="sentence") -> list[str]:
    from tutor.walkthroughs.word_vectors import tokenize

    if not isinstance(sentence, str):
        raise ComputeError(f"expected the {what} as text, got {sentence!r}")
    tokens = tokenize(sentence)
    if not tokens:
        raise ComputeError(f"expected at least one word in the {what}, got none")
    if len(tokens) > MAX_LESSON_WORDS:
        raise ComputeError(f"expected at most {MAX_LESSON_WORDS} words in the {what}, got "
                           f"{len(tokens)}")
    return tokens


def _int(value, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ComputeError(f"expected {what} as a whole number from {low} to {high}, got {value!r}")
    return value


def _bool(value, what: str) -> bool:
    if not isinstance(value, bool):
        raise ComputeError(f"expected {what} as true or false, got {value!r}")
    return value


def _seed(value) -> int:
    return _int(value, "seed", 0, SEED_LIMIT - 1)


def _weights(kind, rows: int, cols: int, rng):
    from tutor.walkthroughs.inputs import random_tenths

    if kind == "identity":
        return np.eye(rows, cols)                                       # [rows, cols]
    if kind == "random":
        return random_tenths(rng, rows, cols)                           # [rows, cols]
    raise ComputeError(f"expected a weight kind 'identity' or 'random', got {kind!r}")


# How a lesson names where a word's vector comes from (a learner has seen no notes).
LESSON_SOURCES = {"notes": "the course's example vector"}


def dims(n: int) -> list[str]:
    return [f"d{i + 1}" for i in range(n)]


# --- computations --------------------------------------------------------------------------

@computation("attention", sentence="the cat sat", dim=4, heads=1, causal=False, scale=True,
             posenc="none", weights="identity", seed=0)
def attention(sentence, dim, heads, causal, scale, posenc, weights, seed) -> Result:
    """Self-attention as ``tutor attention`` runs it: the six steps, recorded."""
    from tutor.render.attention import attention_document
    from tutor.render.document import unique_labels
    from tutor.walkthroughs.attention import self_attention
    from tutor.walkthroughs.inputs import word_embeddings

    tokens = _tokens(sentence)
    dim = _int(dim, "dim", 1, MAX_LESSON_DIM)
    heads = _int(heads, "heads", 1, dim)
    causal, scale = _bool(causal, "causal"), _bool(scale, "scale")
    if dim % heads:
        raise ComputeError(f"expected heads to divide dim {dim}, got {heads}")
    if posenc not in ("none", "sinusoidal"):
        raise ComputeError(f"expected posenc 'none' or 'sinusoidal', got {posenc!r}")
    rng = np.random.default_rng(_seed(seed))
    x, sources = word_embeddings(tokens, dim)                           # [n, d_model]
    sources = [LESSON_SOURCES.get(source, source) for source in sources]  # no "notes" here
    w_q, w_k, w_v = (_weights(weights, dim, dim, rng) for _ in range(3))  # [d_model, d_k]
    w_o = _weights(weights, dim, dim, rng) if heads > 1 else None     # [d_v, d_model]
    kinds = {k: weights for k in ("w_q", "w_k", "w_v", "w_o")}
    recording = self_attention(tokens, x, w_q, w_k, w_v, w_o, heads=heads, causal=causal,
                               scaled=scale, posenc=posenc, sources=sources, weight_kinds=kinds)
    doc = attention_document(recording.trace, tokens, **recording.info)
    labels = unique_labels(tokens)
    square = (labels, labels)
    axes = {"*scores": square, "*scaled": square, "*weights": square, "*masked": square,
            "*mask": square, "*.pe": (labels, None)}
    return Result("attention", recording.trace, labels, axes, document=doc)


@computation("softmax", logits=[[6.0, 4.0]], rows=None, cols=None)
def softmax_rows(logits, rows, cols) -> Result:
    """softmax of each row of ``logits``, recorded step by step (shift, exp, sum)."""
    from tutor.walkthroughs.softmax import softmax_rows as softmax_walkthrough

    array = _matrix(logits, "logits")
    n_rows, n_cols = array.shape
    rows = _labels(rows, n_rows, "rows") or [f"row {i + 1}" for i in range(n_rows)]
    cols = _labels(cols, n_cols, "cols") or [f"x{i + 1}" for i in range(n_cols)]
    recording = softmax_walkthrough(array)
    axes = {"*": (rows, cols)}
    views = [LessonView("logits", "logits", rows, cols, group="logits"),
             LessonView("softmax", "softmax.out", rows, cols, heat=True, caption="each row sums to 1",
                  group="softmax")]
    return Result("softmax", recording.trace, [], axes, views)


@computation("dot-growth", dims=[4, 64, 512], samples=2000, keys=8, seed=0)
def dot_growth(dims, samples, keys, seed) -> Result:
    """Why attention scales: the engine's statistics of q·k for random N(0, 1) queries and
    keys at several widths dk, and of the softmax over them with and without ÷√dk."""
    from tutor.walkthroughs.softmax import scaling

    if not isinstance(dims, list) or not dims or not all(
            isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= MAX_DK for d in dims):
        raise ComputeError(f"expected dims as a list of widths from 1 to {MAX_DK}, got {dims!r}")
    samples = _int(samples, "samples", MIN_SAMPLES, MAX_SAMPLES)
    keys = _int(keys, "keys", MIN_KEYS, MAX_KEYS)
    if len(dims) > MAX_DK_VALUES or samples * keys * max(dims) > MAX_ELEMENTS:
        raise ComputeError(f"expected at most {MAX_DK_VALUES} widths and samples × keys × the "
                           f"largest width at most {MAX_ELEMENTS:,}, got {len(dims)} widths "
                           f"and {samples * keys * max(dims):,}")
    recording = scaling(dims, np.random.default_rng(_seed(seed)), samples, keys)
    rows = [f"dk{d}" for d in dims]
    cols = ["dk", "√dk", "sd", "top", "top ÷√", "grad", "grad ÷√"]
    views = [LessonView("q·k and the softmax, by width", "table", rows, cols,
                  caption="sd: spread of q·k; top: mean largest weight; grad: mean size of "
                          "the softmax's gradient; ÷√: after dividing the scores by √dk")]
    facts = [f"{samples} random queries per width, each against {keys} random keys; every "
             "entry drawn from N(0, 1)."]
    return Result("dot-growth", recording.trace, [], {"table": (rows, cols)}, views, facts=facts)


@computation("posenc", positions=4, dim=4, learned=False, seed=0)
def posenc(positions, dim, learned, seed) -> Result:
    """The sinusoidal table (and, with ``learned``, an untrained learned table)."""
    from tutor.walkthroughs.posenc import positional_table, sinusoidal_beside_learned

    positions = _int(positions, "positions", 1, MAX_LESSON_POSITIONS)
    dim = _int(dim, "dim", 1, MAX_LESSON_DIM)
    learned = _bool(learned, "learned")
    if learned:
        recording = sinusoidal_beside_learned(positions, dim, np.random.default_rng(_seed(seed)))
    else:
        recording = positional_table(positions, dim)
    rows = [f"pos {i}" for i in range(positions)]
    views = [LessonView("angle pos/10000^(2i/d)", "sinusoidal.angles", rows, dims(dim),
                  group="angles"),
             LessonView("PE (sinusoidal)", "sinusoidal.pe", rows, dims(dim), group="pe")]
    if learned:
        views.append(LessonView("PE (learned, before training)", "learned.pe", rows, dims(dim),
                          group="learned"))
    axes = {"*angles": (rows, dims(dim)), "*.pe": (rows, dims(dim)),
            "sinusoidal.frequencies": (dims(dim),)}
    return Result("posenc", recording.trace, [], axes, views)


@computation("add-norm", sentence="the cat sat", dim=4, seed=0)
def add_norm(sentence, dim, seed) -> Result:
    """One encoder layer of the engine on the sentence (one head, random weights), plus
    layer norm and batch norm of its first residual sum for comparison."""
    from tutor.nn.model import Transformer
    from tutor.render.document import unique_labels
    from tutor.walkthroughs.stack import norms_in_encoder_layer

    tokens = _tokens(sentence)
    dim = _int(dim, "dim", 2, MAX_LESSON_DIM)
    model = Transformer.random(d_model=dim, nhead=1, num_encoder_layers=1, num_decoder_layers=1,
                               dim_feedforward=2 * dim, seed=_seed(seed))
    recording = norms_in_encoder_layer(model, tokens)
    layer = "encoder.layers.0."
    labels = unique_labels(tokens)
    d = dims(dim)
    axes = {"bn.mean": (["value"], d), "bn.var": (["value"], d),
            "*mean": (labels, ["value"]), "*var": (labels, ["value"]), "*": (labels, d)}
    views = [LessonView("x (sublayer input)", layer + "input", labels, d, group="residual"),
             LessonView("attention(x)", layer + "self_attn.out_proj", labels, d, group="residual"),
             LessonView("x + attention(x)", layer + "add1", labels, d, group="residual"),
             LessonView("layer norm: mean", "ln.mean", labels, ["mean"], group="layer-norm"),
             LessonView("variance", "ln.var", labels, ["var"], group="layer-norm"),
             LessonView("layer norm", "ln.out", labels, d, group="layer-norm"),
             LessonView("batch norm: mean", "bn.mean", ["mean"], d, group="batch-norm"),
             LessonView("batch norm", "bn.out", labels, d, group="batch-norm"),
             LessonView("after the feed-forward: add & norm", layer + "norm2.out", labels, d,
                  group="layer")]
    facts = [f"One encoder layer, d_model = {dim}, one head, random weights (seed {seed}); "
             "post-norm as in the 2017 paper: norm(x + sublayer(x))."]
    return Result("add-norm", recording.trace, labels, axes, views, facts=facts)


@computation("transformer", source="the cat sat", target="<s> le chat", dim=4, heads=2,
             seed=0)
def transformer(source, target, dim, heads, seed) -> Result:
    """One encoder-decoder pass of the engine (one layer each, random weights), the decoder
    masked with the causal mask, as ``tutor transformer`` runs it."""
    from tutor.nn.model import Transformer
    from tutor.render.document import unique_labels
    from tutor.walkthroughs.stack import transform

    src, tgt = _tokens(source, "source"), _tokens(target, "target")
    dim = _int(dim, "dim", 2, MAX_LESSON_DIM)
    heads = _int(heads, "heads", 1, dim)
    if dim % heads:
        raise ComputeError(f"expected heads to divide dim {dim}, got {heads}")
    model = Transformer.random(d_model=dim, nhead=heads, num_encoder_layers=1,
                               num_decoder_layers=1, dim_feedforward=2 * dim, seed=_seed(seed))
    recording = transform(model, src_tokens=src, tgt_tokens=tgt)
    s, t = unique_labels(src), unique_labels(tgt)
    h = [f"head{i + 1}" for i in range(heads)]
    enc, dec = "encoder.layers.0.", "decoder.layers.0."
    axes = {enc + "self_attn.weights": (h, s, s), dec + "self_attn.weights": (h, t, t),
            dec + "multihead_attn.weights": (h, t, s), "encoder.*": (s, dims(dim)),
            "decoder.*": (t, dims(dim))}
    views = [LessonView("encoder self-attention (head 1)", enc + "self_attn.weights", s, s, heat=True,
                  row_scaled=True, group="encoder"),
             LessonView("encoder output (memory)", "encoder.norm.out", s, dims(dim), group="encoder"),
             LessonView("masked self-attention (head 1)", dec + "self_attn.weights", t, t, heat=True,
                  caption="zero above the diagonal", row_scaled=True, group="masked"),
             LessonView("cross-attention (head 1)", dec + "multihead_attn.weights", t, s, heat=True,
                  caption="rows: target, columns: source", row_scaled=True, group="cross"),
             LessonView("decoder output", "decoder.norm.out", t, dims(dim), group="output")]
    facts = [f"d_model = {dim}, {heads} heads, one encoder and one decoder layer, random "
             f"weights (seed {seed}); source: {' '.join(src)}; target so far: {' '.join(tgt)}."]
    return Result("transformer", recording.trace, t, axes, views, facts=facts)


@computation("feed-forward", sentence="the cat sat", dim=4, d_ff=8, activation="gelu", seed=0)
def feed_forward(sentence, dim, d_ff, activation, seed) -> Result:
    """The position-wise feed-forward network on the sentence's word vectors, random weights
    in tenths (W1 [d_ff, dim], b1, W2 [dim, d_ff], b2), with relu beside another
    activation."""
    from tutor.nn.functional import ACTIVATIONS
    from tutor.render.document import unique_labels
    from tutor.walkthroughs.feed_forward import position_wise
    from tutor.walkthroughs.inputs import random_tenths, word_embeddings

    tokens = _tokens(sentence)
    dim = _int(dim, "dim", 1, MAX_LESSON_DIM)
    d_ff = _int(d_ff, "d_ff", 1, 4 * MAX_LESSON_DIM)
    if activation not in ACTIVATIONS:
        raise ComputeError(f"expected activation {', '.join(sorted(ACTIVATIONS))}, got "
                           f"{activation!r}")
    rng = np.random.default_rng(_seed(seed))
    x, _ = word_embeddings(tokens, dim)                                 # [n, d_model]
    w1, b1 = random_tenths(rng, d_ff, dim), random_tenths(rng, d_ff)    # [d_ff, d_model], [d_ff]
    w2, b2 = random_tenths(rng, dim, d_ff), random_tenths(rng, dim)     # [d_model, d_ff], [d_model]
    recording = position_wise(tokens, x, w1, b1, w2, b2, activation)
    labels = unique_labels(tokens)
    h = [f"h{i + 1}" for i in range(d_ff)]
    name = {"gelu": "GELU", "gelu_tanh": "GELU (tanh form)", "relu": "ReLU"}[activation]
    axes = {"x": (labels, dims(dim)), "ff.out": (labels, dims(dim)),
            "ff.hidden": (labels, h), "ff.activated": (labels, h), "relu": (labels, h)}
    views = [LessonView("x", "x", labels, dims(dim), group="input"),
             LessonView("hidden = x·W1ᵀ + b1", "ff.hidden", labels, h, group="hidden",
                        caption=f"{d_ff} hidden values per token: W1 widens {dim} to {d_ff}"),
             LessonView(f"{name}(hidden)", "ff.activated", labels, h, group="activated")]
    if activation != "relu":
        views.append(LessonView("ReLU(hidden), to compare", "relu", labels, h,
                                group="activated"))
    views.append(LessonView("FFN(x) = act(hidden)·W2ᵀ + b2", "ff.out", labels, dims(dim),
                            group="output", caption=f"W2 narrows {d_ff} back to {dim}"))
    facts = [f"d_model = {dim}, d_ff = {d_ff}, {name}, random weights in tenths (seed "
             f"{seed}); the same W1, b1, W2, b2 for every token."]
    return Result("feed-forward", recording.trace, labels, axes, views, facts=facts)


def _matrix(value, what: str) -> np.ndarray:
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ComputeError(f"expected {what} as a list of numbers (or of rows), got {value!r}") \
            from None
    if array.ndim == 1:
        array = array[None, :]                                          # [n] -> [1, n]
    if array.ndim != 2 or array.size == 0 or not np.all(np.isfinite(array)):
        raise ComputeError(f"expected {what} as finite numbers in rows, got {value!r}")
    return array


def _labels(value, n: int, what: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != n or not all(isinstance(v, str) for v in value):
        raise ComputeError(f"expected {what} as a list of {n} labels, got {value!r}")
    return value


# --- references ----------------------------------------------------------------------------

REFERENCE = re.compile(r"^\s*([a-z0-9][a-z0-9-]*)\s*:\s*([A-Za-z0-9_.]+)\s*(?:\[([^\]]*)\])?\s*$")


@dataclass
class Reference:
    step: str             # the compute step's id
    name: str             # the trace name
    indices: list[str]    # as written

    def __str__(self) -> str:
        index = f"[{', '.join(self.indices)}]" if self.indices else ""
        return f"{self.step}:{self.name}{index}"


def parse_reference(text: str) -> Reference:
    match = REFERENCE.match(text)
    if not match:
        raise ComputeError(f"expected a reference such as \"attn:weights[the, sat]\", got {text!r}")
    step, name, index = match.groups()
    indices = [] if index is None else [part.strip() for part in index.split(",")]
    if any(not part for part in indices):
        raise ComputeError(f"expected indices separated by commas in {text!r}")
    return Reference(step, name, indices)


def _axis_labels(result: Result, name: str, ndim: int) -> tuple:
    for pattern, labels in result.axes.items():
        if fnmatch.fnmatchcase(name, pattern) and len(labels) == ndim:
            return labels
    return (None,) * ndim


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


def locate(result: Result, ref: Reference) -> tuple[np.ndarray, tuple[int, ...]]:
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
    labels = _axis_labels(result, ref.name, array.ndim)
    index = tuple(_index(tok, labels[axis], array.shape[axis], result.tokens, ref, axis)
                  for axis, tok in enumerate(ref.indices))
    return array, index


def resolve(result: Result, ref: Reference) -> float:
    """The number a reference points at, from the computation's trace."""
    array, index = locate(result, ref)
    value = float(array[index])
    if not math.isfinite(value):
        raise ComputeError(f"{ref}: the value is {value}, not a finite number")
    return value


# --- a lesson's computations ---------------------------------------------------------------

PLACEHOLDER = re.compile(r"\{([a-z0-9][a-z0-9-]*)\.token\[(-?\d+)\]\}")


def run_lesson_computation(step, sentence: str | None = None) -> Result:
    """Run a compute step; ``sentence`` replaces ``args.sentence`` (the learner's own)."""
    args = dict(step.args)
    if sentence is not None:
        args["sentence"] = sentence
    return run_computation(step.compute, args)


def fill(text: str, results: dict[str, Result]) -> str:
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


def expected(step, results: dict[str, Result]) -> float:
    """The engine's answer to a number question."""
    ref = parse_reference(step.answer)
    if ref.step not in results:
        raise ComputeError(f"{ref}: no computation {ref.step!r} before this question")
    return resolve(results[ref.step], ref)
