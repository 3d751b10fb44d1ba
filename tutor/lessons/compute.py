"""The computations a lesson may run: a registry.

A lesson names a computation and its arguments (``compute = "attention"``,
``args = { sentence = "the cat sat" }``). Each computation here checks its TOML arguments
(an argument left out takes the default in the function's signature), calls the same
walkthrough (:mod:`tutor.walkthroughs`) a command calls, and returns a :class:`Result`: what
was recorded, labels for its axes (read by answer references, :mod:`.references`), and the
document a renderer (:mod:`tutor.render`) made of it, the command's own where the topic has
a command. It never runs the engine itself and builds no screen. ``show = [...]`` in the
lesson picks steps of that document. Recordings shown instead of a live run come from
:mod:`.recorded`.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

import numpy as np

from tutor.errors import TutorError
from tutor.limits import (MAX_DK, MAX_DK_VALUES, MAX_ELEMENTS, MAX_KEYS, MAX_LESSON_DIM,
                          MAX_LESSON_POSITIONS, MAX_LESSON_WORDS, MAX_SAMPLES, MIN_KEYS,
                          MIN_SAMPLES, SEED_LIMIT)
from tutor.trace import Trace

from . import recorded
from .references import ComputeError

__all__ = ["REGISTRY", "SIGNATURES", "ComputeError", "Result", "computation",
           "run_computation", "run_lesson_computation"]


@dataclass
class Result:
    """What a computation gives: the trace, the labels of its main token axis and of the
    axes of its entries (trace-name pattern -> labels per axis, None for an axis without
    its own), and the document the learner sees."""

    name: str
    trace: Trace
    tokens: list[str]
    axes: dict[str, tuple]
    document: object                       # a tutor.render.document.Document

    def show_names(self) -> list[str]:
        """The names ``show = [...]`` may use: step keys, and the matrix keys of a step that
        only shows matrices (one of them may be shown alone)."""
        names = []
        for step in self.document.steps:
            keys = [step.key] + ([m.key for part in step.parts for m in part.matrices]
                                 if not step.formula else [])
            names += [key for key in keys if key and key not in names]
        return names


REGISTRY: dict[str, Callable[..., Result]] = {}
SIGNATURES: dict[str, dict[str, object]] = {}     # name -> {argument: its default}


def computation(name: str):
    """Register a lesson computation under ``name``; its arguments and their defaults are
    those of the function's signature (every argument needs a default)."""
    def register(function):
        parameters = inspect.signature(function).parameters.values()
        REGISTRY[name] = function
        SIGNATURES[name] = {p.name: p.default for p in parameters}
        assert inspect.Parameter.empty not in SIGNATURES[name].values(), name
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
    return REGISTRY[name](**{**defaults, **args})


def run_lesson_computation(step, sentence: str | None = None) -> Result:
    """Run a compute step; ``sentence`` replaces ``args.sentence`` (the learner's own)."""
    args = dict(step.args)
    if sentence is not None:
        args["sentence"] = sentence
    return run_computation(step.compute, args)


# --- checking arguments ---------------------------------------------------------------------

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


def _walk(function, *args, **kwargs):
    """Call a walkthrough; its TutorError (a word outside the shipped vectors, a sentence
    too long for the model) becomes a ComputeError."""
    try:
        return function(*args, **kwargs)
    except TutorError as exc:
        raise ComputeError(str(exc)) from None


def dims(n: int) -> list[str]:
    return [f"d{i + 1}" for i in range(n)]


# --- the calculators' topics ----------------------------------------------------------------

@computation("attention")
def attention(sentence="the cat sat", dim=4, heads=1, causal=False, scale=True, posenc="none",
              weights="identity", seed=0, embeddings="course") -> Result:
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
        x, sources = _walk(glove_embeddings, tokens)                    # [n, 50]
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
    return Result("attention", recording.trace, labels, axes, doc)


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


@computation("softmax")
def softmax_rows(logits=[[6.0, 4.0]], rows=None, cols=None) -> Result:  # noqa: B006 (read only)
    """softmax of each row of ``logits``, recorded step by step (shift, exp, sum); ``rows``,
    ``cols`` label them (default "row 1", ... and "x1", ...). Steps ``logits``, ``softmax``."""
    from tutor.render.softmax import softmax_rows_document
    from tutor.walkthroughs.softmax import softmax_rows as softmax_walkthrough

    array = _matrix(logits, "logits")
    n_rows, n_cols = array.shape
    rows = _labels(rows, n_rows, "rows") or [f"row {i + 1}" for i in range(n_rows)]
    cols = _labels(cols, n_cols, "cols") or [f"x{i + 1}" for i in range(n_cols)]
    recording = softmax_walkthrough(array)
    doc = softmax_rows_document(recording, rows=rows, cols=cols)
    return Result("softmax", recording.trace, [], {"*": (rows, cols)}, doc)


@computation("dot-growth")
def dot_growth(dims=[4, 64, 512], samples=2000, keys=8, seed=0) -> Result:  # noqa: B006
    """Why attention scales: the engine's statistics of q·k for random N(0, 1) queries and
    keys at several widths dk, and of the softmax over them with and without ÷√dk, as
    ``tutor scaling`` measures them, in one table (step ``table``; rows dk4, ..., columns
    dk, √dk, sd, top, top ÷√, grad, grad ÷√)."""
    from tutor.render.scaling import TABLE_COLUMNS, scaling_table_document, table_rows
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
    axes = {"table": (table_rows(recording), TABLE_COLUMNS)}
    return Result("dot-growth", recording.trace, [], axes, scaling_table_document(recording))


@computation("posenc")
def posenc(positions=4, dim=4, learned=False, seed=0) -> Result:
    """The sinusoidal table (and, with ``learned``, an untrained learned table). Steps
    ``angles``, ``pe``, ``learned``."""
    from tutor.render.posenc import positional_tables_document
    from tutor.walkthroughs.posenc import positional_table, sinusoidal_beside_learned

    positions = _int(positions, "positions", 1, MAX_LESSON_POSITIONS)
    dim = _int(dim, "dim", 1, MAX_LESSON_DIM)
    if _bool(learned, "learned"):
        recording = sinusoidal_beside_learned(positions, dim, np.random.default_rng(_seed(seed)))
    else:
        recording = positional_table(positions, dim)
    rows = [f"pos {i}" for i in range(positions)]
    axes = {"*angles": (rows, dims(dim)), "*.pe": (rows, dims(dim)),
            "sinusoidal.frequencies": (dims(dim),)}
    return Result("posenc", recording.trace, [], axes, positional_tables_document(recording))


def _random_model(dim, heads, seed):
    from tutor.nn.model import Transformer

    return Transformer.random(d_model=dim, nhead=heads, num_encoder_layers=1,
                              num_decoder_layers=1, dim_feedforward=2 * dim, seed=_seed(seed))


@computation("add-norm")
def add_norm(sentence="the cat sat", dim=4, seed=0) -> Result:
    """One encoder layer of the engine on the sentence (one head, random weights), plus
    layer norm and batch norm of its first residual sum for comparison. Steps ``residual``,
    ``layer-norm``, ``batch-norm``, ``layer``."""
    from tutor.render.document import unique_labels
    from tutor.render.norm import encoder_layer_norms_document
    from tutor.walkthroughs.stack import norms_in_encoder_layer

    tokens = _tokens(sentence)
    dim = _int(dim, "dim", 2, MAX_LESSON_DIM)
    recording = norms_in_encoder_layer(_random_model(dim, 1, seed), tokens)
    labels, d = unique_labels(tokens), dims(dim)
    axes = {"bn.mean": (["value"], d), "bn.var": (["value"], d),
            "*mean": (labels, ["value"]), "*var": (labels, ["value"]), "*": (labels, d)}
    doc = encoder_layer_norms_document(recording, seed=seed)
    return Result("add-norm", recording.trace, labels, axes, doc)


@computation("transformer")
def transformer(source="the cat sat", target="<s> le chat", dim=4, heads=2, seed=0) -> Result:
    """One encoder-decoder pass of the engine (one layer each, random weights), the decoder
    masked with the causal mask, shown as ``tutor transformer`` shows it (its steps, e.g.
    ``encoder.layers.0.self_attn``, ``memory``, ``decoder.layers.0.self_attn``,
    ``decoder.layers.0.multihead_attn``, ``output``, ``next``)."""
    from tutor.render.document import unique_labels
    from tutor.render.stack import transformer_document
    from tutor.walkthroughs.stack import transform

    src, tgt = _tokens(source, "source"), _tokens(target, "target")
    dim = _int(dim, "dim", 2, MAX_LESSON_DIM)
    heads = _int(heads, "heads", 1, dim)
    if dim % heads:
        raise ComputeError(f"expected heads to divide dim {dim}, got {heads}")
    recording = transform(_random_model(dim, heads, seed), src_tokens=src, tgt_tokens=tgt)
    info = recording.info
    settings = {"d_model": dim, "heads": heads, "weights": f"random (seed {seed})"}
    doc = transformer_document(recording.trace, info["src_labels"], info["tgt_labels"],
                               precision=2, n_enc=1, n_dec=1, norm_first=False,
                               detail="summary", sentence=True, causal=info["causal"],
                               vocab=info["vocab"], settings=settings)
    s, t = unique_labels(src), unique_labels(tgt)
    h = [f"head{i + 1}" for i in range(heads)]
    enc, dec = "encoder.layers.0.", "decoder.layers.0."
    axes = {enc + "self_attn.weights": (h, s, s), dec + "self_attn.weights": (h, t, t),
            dec + "multihead_attn.weights": (h, t, s), "encoder.*": (s, dims(dim)),
            "decoder.*": (t, dims(dim))}
    return Result("transformer", recording.trace, t, axes, doc)


@computation("feed-forward")
def feed_forward(sentence="the cat sat", dim=4, d_ff=8, activation="gelu", seed=0) -> Result:
    """The position-wise feed-forward network on the sentence's word vectors, random weights
    in tenths (W1 [d_ff, dim], b1, W2 [dim, d_ff], b2), with relu beside another
    activation. Steps ``input``, ``hidden``, ``activated``, ``output``."""
    from tutor.nn.functional import ACTIVATIONS
    from tutor.render.document import unique_labels
    from tutor.render.feed_forward import feed_forward_document, hidden_labels
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
    labels, h = unique_labels(tokens), hidden_labels(d_ff)
    axes = {"x": (labels, dims(dim)), "ff.out": (labels, dims(dim)),
            "ff.hidden": (labels, h), "ff.activated": (labels, h), "relu": (labels, h)}
    doc = feed_forward_document(recording, seed=seed)
    return Result("feed-forward", recording.trace, labels, axes, doc)


@computation("backward")
def backward_steps(sentence="the cat sat", dim=4, weights="identity", scale=True, lr=0.05,
                   seed=0) -> Result:
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
    return Result("backward", recording.trace, labels, axes, doc)


# --- the shipped word vectors ---------------------------------------------------------------

@computation("glove-similarity")
def glove_similarity(words="cat dog car truck") -> Result:
    """How alike the GloVe vectors of ``words`` are: cos(a, b) for every pair, as a heatmap,
    with the lengths |a| beside it. Step ``cosine``."""
    from tutor.render.glove import similarity_document, similarity_labels
    from tutor.walkthroughs.glove import similarity_table

    tokens = _tokens(words, "words")
    if len({t.lower() for t in tokens}) != len(tokens):
        raise ComputeError(f"expected different words, got {words!r}")
    recording = _walk(similarity_table, tokens)
    labels = similarity_labels(recording)
    axes = {"cos.cosine": (labels, labels), "cos.dot": (labels, labels),
            "cos.norm_a": (labels, ["length"]), "x": (labels, None)}
    return Result("glove-similarity", recording.trace, labels, axes,
                  similarity_document(recording))


@computation("glove-nearest")
def glove_nearest(word="frog", k=8) -> Result:
    """The ``k`` words of the shipped 20,000 whose GloVe vectors are nearest ``word``'s.
    Step ``nearest``."""
    from tutor.render.glove import nearest_document, nearest_labels
    from tutor.walkthroughs.glove import nearest_words

    tokens = _tokens(word, "word")
    if len(tokens) != 1:
        raise ComputeError(f"expected one word, got {word!r}")
    k = _int(k, "k", 1, 20)
    recording = _walk(nearest_words, tokens[0], k)
    axes = {"cosine": (nearest_labels(recording), ["cos"])}
    return Result("glove-nearest", recording.trace, recording.info["neighbours"], axes,
                  nearest_document(recording))


# --- a real model: live when installed, else the shipped recording -------------------------

def _sentence(value, what: str) -> str:
    from tutor.limits import MAX_MODEL_TOKENS

    if not isinstance(value, str) or not value.split():
        raise ComputeError(f"expected {what} as a sentence, got {value!r}")
    if len(value.split()) > MAX_MODEL_TOKENS - 2:                      # [CLS] and [SEP] too
        raise ComputeError(f"expected at most {MAX_MODEL_TOKENS - 2} words in {what}, got "
                           f"{len(value.split())}")
    return value


@computation("model-head")
def model_head_steps(sentence="the bank of the river", layer=1, head=3) -> Result:
    """The six steps on one head of all-MiniLM-L6-v2 (``tutor attention --model minilm``),
    or, without the model, the recorded queries, keys, values, scores, weights and output
    (steps ``projections``, ``scores``, ``scaled``, ``softmax``, ``output``)."""
    from tutor.render.document import unique_labels
    from tutor.render.pretrained import model_head_document, recorded_head_document
    from tutor.walkthroughs.pretrained import model_head

    sentence = _sentence(sentence, "the sentence")
    layer, head = _int(layer, "layer", 1, 6), _int(head, "head", 1, 12)
    model = recorded.open_minilm()
    if model is not None:
        recording = _walk(model_head, model, sentence, layer - 1, head - 1)
        doc = model_head_document(recording.trace, recording.tokens, precision=2,
                                  info=recording.info)
    else:
        recording = recorded.load_recording("model-head", {"sentence": sentence, "layer": layer,
                                                           "head": head}, "pretrained.model_head")
        doc = recorded.mark_recorded(recorded_head_document(
            recording, sentence=sentence, layer=layer, head=head),
            recorded.minilm_note(recording.info["model"]))
    labels = unique_labels(recording.tokens)
    square = (labels, labels)
    axes = {"scores": square, "scaled": square, "weights": square}
    return Result("model-head", recording.trace, labels, axes, doc)


@computation("model-heads")
def model_heads_grid(sentence="the bank of the river") -> Result:
    """Every head of all-MiniLM-L6-v2 as a small heatmap labelled with its pattern (``tutor
    heads``): live, or the recording without the model. Steps ``layer1`` ... ``layer6``."""
    from tutor.pretrained.analysis import head_patterns
    from tutor.render.document import unique_labels
    from tutor.render.pretrained import heads_document
    from tutor.walkthroughs.pretrained import model_heads

    sentence = _sentence(sentence, "the sentence")
    model = recorded.open_minilm()
    if model is not None:
        recording = _walk(model_heads, model, sentence)
        doc = heads_document(recording.trace, recording.tokens, precision=2, info=recording.info)
    else:
        recording = recorded.load_recording("model-heads", {"sentence": sentence},
                                            "pretrained.model_heads")
        info = {**recording.info, "patterns": head_patterns(recording.trace["attentions"],
                                                           recording.tokens)}
        doc = recorded.mark_recorded(heads_document(recording.trace, recording.tokens,
                                                    precision=2, info=info),
                                     recorded.minilm_note(info["model"]))
    labels = unique_labels(recording.tokens)
    n_layer, n_head = np.asarray(recording.trace["attentions"]).shape[:2]
    axes = {"attentions": ([f"layer{i + 1}" for i in range(n_layer)],
                           [f"head{h + 1}" for h in range(n_head)], labels, labels)}
    return Result("model-heads", recording.trace, labels, axes, doc)


@computation("model-context")
def model_context_layers(sentence_a="she sat on the grassy bank of the river",
                         sentence_b="she paid the money into her bank account",
                         word="bank") -> Result:
    """A word's vector in two sentences compared after the embeddings and each layer of
    all-MiniLM-L6-v2 (``tutor context``), with a control word; live or recorded."""
    from tutor.render.pretrained import context_document
    from tutor.walkthroughs.pretrained import model_context

    sentence_a = _sentence(sentence_a, "sentence_a")
    sentence_b = _sentence(sentence_b, "sentence_b")
    if not isinstance(word, str) or len(word.split()) != 1:
        raise ComputeError(f"expected one word, got {word!r}")
    model = recorded.open_minilm()
    if model is not None:
        recording = _walk(model_context, model, sentence_a, sentence_b, word)
        doc = context_document(recording.trace, precision=2, info=recording.info)
    else:
        recording = recorded.load_recording(
            "model-context", {"sentence_a": sentence_a, "sentence_b": sentence_b,
                              "word": word}, "pretrained.model_context")
        doc = recorded.mark_recorded(context_document(recording.trace, precision=2,
                                                      info=recording.info),
                                     recorded.minilm_note(recording.info["model"]))
    stages = list(recording.info["stages"])
    axes = {"similarity": (stages,), "control_similarity": (stages,)}
    return Result("model-context", recording.trace, stages, axes, doc)


# --- learning and writing: the shipped toy models -------------------------------------------

def _digits(value, what: str = "digits") -> str:
    from tutor.training.tasks import MAX_LENGTH, MIN_LENGTH

    if not isinstance(value, str) or not value.isdigit() or \
            not MIN_LENGTH <= len(value) <= MAX_LENGTH:
        raise ComputeError(f"expected {what} as {MIN_LENGTH} to {MAX_LENGTH} digits such as "
                           f"\"2718\", got {value!r}")
    return value


def _shipped(name, digits):
    """The shipped toy model ``name`` and the task's example for ``digits``: (model, source
    ids [S], target ids [T + 1])."""
    from tutor.training import load_shipped_model
    from tutor.walkthroughs.learning import task_example

    shipped = _walk(load_shipped_model, name)
    return (shipped, *task_example(shipped, _digits(digits)))


@computation("teacher-forcing")
def teacher_forcing_pass(model="reverse", digits="2718", trained=True, seed=0) -> Result:
    """One teacher-forced pass of a shipped toy model (or the untrained model training
    starts from) on one example: the probability of each right next token, the loss, and the
    last decoder layer's cross-attention (head 1). Steps ``loss``, ``cross``."""
    from tutor.render.learning import (last_cross_attention, position_labels,
                                       teacher_forcing_document)
    from tutor.walkthroughs.learning import teacher_forcing, untrained_like

    shipped, src, tgt = _shipped(model, digits)                        # [S], [T + 1]
    trained = _bool(trained, "trained")
    net = shipped.model if trained else untrained_like(shipped, _seed(seed))
    recording = teacher_forcing(net, src, tgt, token_text=lambda i: shipped.vocab[int(i)])
    info = recording.info
    steps = position_labels(recording)
    heads = [f"head{h + 1}" for h in range(net.config.nhead)]
    axes = {"correct_prob": (steps, ["p(right)"]), "probs": (steps, list(shipped.vocab)),
            last_cross_attention(recording): (heads, list(info["reads"]),
                                              list(info["source"]))}
    doc = teacher_forcing_document(recording, model_name=model, trained=trained)
    return Result("teacher-forcing", recording.trace, steps, axes, doc)


@computation("generate")
def generate_steps(model="reverse", digits="2718", rule="greedy", temperature=1.0, top_k=0,
                   seed=0, beam=3, explain_cache=False) -> Result:
    """A shipped toy model writing its answer token by token, as ``tutor generate`` runs it:
    ``rule`` "greedy", "sampling" (``temperature``, ``top_k`` (0: all), ``seed``) or "beam"
    (``beam`` hypotheses); ``explain_cache`` adds what the key/value cache keeps. Steps:
    ``memory``, ``step.0`` ... (one per token written), ``output``, ``cache.keeps``,
    ``cache``."""
    from tutor.render.generation import generation_document
    from tutor.walkthroughs.generation import generate

    shipped, src, tgt = _shipped(model, digits)                        # [S], [T + 1]
    if rule not in ("greedy", "sampling", "beam"):
        raise ComputeError(f"expected rule 'greedy', 'sampling' or 'beam', got {rule!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or \
            not 0.05 <= temperature <= 100:
        raise ComputeError(f"expected temperature as a number from 0.05 to 100, got "
                           f"{temperature!r}")
    top_k = _int(top_k, "top_k", 0, len(shipped.vocab))
    beam = _int(beam, "beam", 1, 8)
    explain_cache = _bool(explain_cache, "explain_cache")
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
    layers = [f"layer{i + 1}" for i in range(shipped.model.config.num_decoder_layers)]
    axes = {"step.*.probs": (vocab,), "step.*.sample_probs": (vocab,),
            "step.*.cross_attn.*.mean": ([f"'{d}'" for d in labels],),
            "step.*.cache.self_attn": (layers,), "step.*.cache.cross_attn": (layers,)}
    for name in recording.trace:
        if name.endswith(".candidates"):                               # each step's chart labels
            best = np.asarray(recording.trace[name])[0]                # [c] ids, best first
            axes[name[:-len("candidates")] + "candidate_probs"] = (
                [vocab[int(i)] for i in best],)
    written = [recording.info["tokens"][int(i)] for i in recording.output]
    return Result("generate", recording.trace, written, axes, doc)


@computation("scaling-training")
def scaling_training_recorded() -> Result:
    """The scaling-and-training experiment (``tutor scaling --train``) as
    ``scripts/record_scaling_training.py`` measured it: training takes too long for a lesson,
    so this shows the recording, marked as such. Steps ``curves`` and ``measured``."""
    from tutor.data.recorded import SCALING_FILE, recordings
    from tutor.render.training import scaling_training_document

    data = recordings(SCALING_FILE)
    recording = recorded.load_recording("scaling-training", data["runs"][0]["args"],
                                        "training.scaling_training", SCALING_FILE)
    info = recording.info
    info["ratios"] = {int(k): v for k, v in info["ratios"].items()}
    shown = {k: v for k, v in info.items() if k != "recorded"}
    note = (f"RECORDED: measured by scripts/record_scaling_training.py ({data['command']}; "
            f"{data['seconds']:g} s of training on the machine that made it). Run it yourself "
            f"with: tutor scaling --train")
    doc = recorded.mark_recorded(scaling_training_document(recording.trace, precision=2,
                                                          **shown), note)
    labels = list(info["labels"])
    axes = {"table": (labels, ["heads", "peak", "steps to 0.5", "final loss", "accuracy"]),
            "checkpoints": (labels, [f"step {m}" for m in info["marks"]])}
    return Result("scaling-training", recording.trace, labels, axes, doc)
