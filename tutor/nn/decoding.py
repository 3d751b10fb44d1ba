"""Decoding: how a Transformer writes its output one token at a time.

Two halves, kept apart so that any model can use the second:

1. **Stepping a model** (a :class:`Stepper`): given every token so far, return the logits of
   the next position. :class:`Seq2SeqStepper` does it for :class:`~tutor.nn.model.Seq2Seq`:
   the source is encoded once, and with the key/value cache (``DecoderCache``) each step
   computes only the newest position. A decoder-only model (GPT-2 style) plugs in by
   offering the same two methods, ``step(prefix, trace=...)`` and ``select(rows)``.
2. **Choosing the next token from logits**: :class:`Greedy` (argmax), :class:`Sampling`
   (temperature, top-k, top-p, drawn with a ``numpy.random.Generator``), and
   :func:`beam_search` (Vaswani et al. 2017, with the length penalty of Wu et al. 2016).

:func:`generate` and :func:`beam_search` join the halves and record every step, under the
names declared in ``tutor/walkthroughs/names.py`` (``DECODING``), with ``{t}`` the step (0 =
the step that writes the first new token); arrays keep the model's dtype.
:func:`decoder_step_macs` counts the work of a step with and without the cache, analytically;
:func:`cache_sizes` reads what a cache holds from the cache itself.

Pure NumPy; randomness comes in as a ``numpy.random.Generator``. Dimension names: ``batch``
(B), ``n_vocab`` (V), ``n_src`` (S), ``n_head`` (H), ``n_live`` (beams alive, at most K).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from ..errors import SettingError, ShapeError
from ..limits import MAX_BEAM_SIZE, MAX_NEW_TOKENS
from ..trace import NULL_TRACE, AttentionWeights
from .attention import KVCache
from .functional import linear, softmax
from .layers import DecoderCache
from .masks import causal_mask
from .params import TransformerConfig, check_token_ids

# MAX_BEAM_SIZE and MAX_NEW_TOKENS live in tutor/limits.py (re-exported here).
DEFAULT_CANDIDATES = 5          # next-token candidates recorded per step


# -- settings, checked once where they enter ------------------------------------------------
def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_int(name: str, value, low: int, high: int | None = None) -> int:
    if not _is_int(value) or value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise SettingError(name, f"{name} must be a whole number {bound}, got {value!r}")
    return int(value)


def _check_real(name: str, value) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                      np.floating)):
        raise SettingError(name, f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise SettingError(name, f"{name} must be a finite number, got {value!r}")
    return value


def check_max_new_tokens(max_new_tokens) -> int:
    """``max_new_tokens`` as an int in 0..MAX_NEW_TOKENS, else :class:`SettingError`."""
    return _check_int("max_new_tokens", max_new_tokens, 0, MAX_NEW_TOKENS)


# -- choosing the next token from logits (model-agnostic) ----------------------------------
def log_softmax(logits, *, trace=NULL_TRACE):
    """log softmax(x)_i = x_i - max x - log sum_j exp(x_j - max x), per row; keeps the dtype.
    Records ``out``."""
    logits = np.asarray(logits)
    row_max = np.max(logits, axis=-1, keepdims=True)                   # [..., 1]
    shifted = logits - row_max                                         # [..., V], <= 0
    out = shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))  # [..., V]
    trace.record("out", out)
    return out


def top_k_mask(logits, k: int):
    """True for the ``k`` largest entries of each row (exactly k; among equal values the
    lower token id goes first). [..., V] -> bool [..., V].

    Fan et al. 2018 ("Hierarchical Neural Story Generation"). Hugging Face's TopKLogitsWarper
    also keeps any token tied with the k-th; this keeps exactly k, as the definition says.
    """
    logits = np.asarray(logits)
    order = np.argsort(-logits, axis=-1, kind="stable")                # [..., V], best first
    keep = np.zeros(logits.shape, dtype=bool)                          # [..., V]
    np.put_along_axis(keep, order[..., :k], True, axis=-1)
    return keep


def top_p_mask(probs, p: float):
    """True for the smallest set of most likely tokens whose probability reaches ``p``
    ("nucleus", Holtzman et al. 2020): sorted by probability (ties: lower id first), a token
    is kept when the tokens before it sum to less than p. [..., V] -> bool [..., V].

    The most likely token is always kept, however small p is (Hugging Face's
    TopPLogitsWarper, min_tokens_to_keep=1); p = 1 keeps every token. The sums are compared
    in float64, so that a p below float32's range (1e-300) is not rounded to 0.
    """
    probs = np.asarray(probs)
    order = np.argsort(-probs, axis=-1, kind="stable")                 # [..., V], best first
    sorted_probs = np.take_along_axis(probs, order, axis=-1)           # [..., V]
    before = (np.cumsum(sorted_probs, axis=-1, dtype=np.float64)
              - sorted_probs)                                          # [..., V]: sum of those ahead
    keep_sorted = (before < float(p)) | (p >= 1)                       # [..., V], float64
    keep_sorted[..., 0] = True                                         # the most likely, always
    keep = np.zeros(probs.shape, dtype=bool)                           # [..., V]
    np.put_along_axis(keep, order, keep_sorted, axis=-1)
    return keep


def _record_candidates(probs, n_candidates: int, trace):
    if not trace.enabled:
        return
    n = min(n_candidates, probs.shape[-1])
    ids = np.argsort(-probs, axis=-1, kind="stable")[..., :n]          # [B, c], best first
    trace.record("candidates", ids)
    trace.record("candidate_probs", np.take_along_axis(probs, ids, axis=-1))  # [B, c]


def draw(probs, rng: np.random.Generator):
    """One token per row from the distribution ``probs`` [..., V] (rows sum to 1), by
    inverting the cumulative sum at u ~ U[0, 1) drawn from ``rng``; a token of probability 0
    is never drawn. Returns int64 [...]."""
    probs = np.asarray(probs)
    u = rng.random(probs.shape[:-1])                                   # [...], float64 in [0, 1)
    cdf = np.cumsum(probs, axis=-1)                                    # [..., V]
    target = u * cdf[..., -1]                                          # [...]
    ids = np.sum(cdf <= target[..., None], axis=-1)                    # [...]: first cdf > target
    last = probs.shape[-1] - 1 - np.argmax(probs[..., ::-1] > 0, axis=-1)  # [...]: last token p > 0
    return np.minimum(ids, last).astype(np.int64)


class ChoiceRule(Protocol):
    """How the next token is chosen from the logits [B, V]."""

    def choose(self, logits, *, n_candidates: int = DEFAULT_CANDIDATES, trace=NULL_TRACE):
        """Returns the chosen ids [B]; records ``probs``, ``candidates``, ``choice`` ..."""


@dataclass(frozen=True)
class Greedy:
    """Greedy decoding: the most likely token, argmax_i logits_i (the first on ties)."""

    def choose(self, logits, *, n_candidates: int = DEFAULT_CANDIDATES, trace=NULL_TRACE):
        """logits [B, V] -> ids [B]; records ``logits``, ``probs``, ``candidates``,
        ``candidate_probs`` and ``choice``."""
        logits = np.asarray(logits)
        choice = np.argmax(logits, axis=-1)                            # [B]
        if trace.enabled:
            probs = softmax(logits)                                    # [B, V]
            trace.record("logits", logits)
            trace.record("probs", probs)
            _record_candidates(probs, n_candidates, trace)
            trace.record("choice", choice)
        return choice


@dataclass
class Sampling:
    """Sampling from softmax(logits / temperature), restricted to the ``top_k`` most likely
    tokens and then to the smallest set whose probability reaches ``top_p``, renormalised.

    The order (temperature, then top-k, then top-p on the distribution top-k left) is Hugging
    Face's ``generate``. Temperature: Ackley et al. 1985 (T < 1 sharpens, T > 1 flattens);
    top-k: Fan et al. 2018; top-p: Holtzman et al. 2020. ``rng`` makes it reproducible: the
    same seed gives the same tokens. Raises :class:`SettingError` for temperature <= 0,
    top_k < 1 or top_p outside (0, 1].
    """

    rng: np.random.Generator
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None

    def __post_init__(self):
        if not isinstance(self.rng, np.random.Generator):
            raise SettingError("rng", f"rng must be a numpy.random.Generator, got {self.rng!r}")
        self.temperature = _check_real("temperature", self.temperature)
        if self.temperature <= 0:
            raise SettingError("temperature", f"temperature must be greater than 0, "
                                              f"got {self.temperature}")
        if self.top_k is not None:
            self.top_k = _check_int("top_k", self.top_k, 1)
        if self.top_p is not None:
            self.top_p = _check_real("top_p", self.top_p)
            if not 0 < self.top_p <= 1:
                raise SettingError("top_p", f"top_p must be in (0, 1], got {self.top_p}")

    def distribution(self, logits, *, trace=NULL_TRACE):
        """The distribution sampled from: [B, V] logits -> [B, V] probabilities, zero outside
        the kept tokens. Records ``scaled``, ``kept``, ``sample_probs``."""
        logits = np.asarray(logits)
        with np.errstate(over="ignore", divide="ignore"):
            scaled = logits / self.temperature                         # [B, V]
        if not np.all(np.isfinite(scaled[np.isfinite(logits)])):
            raise SettingError("temperature", f"temperature {self.temperature} is too small "
                                              f"for these logits: logits / T overflows")
        kept = scaled > -np.inf                                        # [B, V]: not suppressed
        if self.top_k is not None and self.top_k < scaled.shape[-1]:
            kept = kept & top_k_mask(scaled, self.top_k)               # [B, V]
        probs = softmax(np.where(kept, scaled, -np.inf))               # [B, V]
        if self.top_p is not None and self.top_p < 1:
            kept = kept & top_p_mask(probs, self.top_p)                # [B, V]
            probs = softmax(np.where(kept, scaled, -np.inf))           # [B, V]
        trace.record("scaled", scaled)
        trace.record("kept", kept)
        trace.record("sample_probs", probs)
        return probs

    def choose(self, logits, *, n_candidates: int = DEFAULT_CANDIDATES, trace=NULL_TRACE):
        """logits [B, V] -> ids [B] drawn from :meth:`distribution`; records ``logits``,
        ``probs`` (temperature 1, unfiltered), the distribution's names, ``candidates``,
        ``candidate_probs`` and ``choice``."""
        logits = np.asarray(logits)
        if trace.enabled:
            trace.record("logits", logits)
            trace.record("probs", softmax(logits))                     # [B, V]
        probs = self.distribution(logits, trace=trace)                 # [B, V]
        choice = draw(probs, self.rng)                                 # [B]
        _record_candidates(probs, n_candidates, trace)
        trace.record("choice", choice)
        return choice


def make_rule(*, temperature=None, top_k=None, top_p=None, seed=None) -> ChoiceRule:
    """Greedy when no sampling setting is given, else :class:`Sampling` with
    ``numpy.random.default_rng(seed)`` (seed None: fresh entropy, not reproducible)."""
    if temperature is None and top_k is None and top_p is None:
        return Greedy()
    if seed is not None:
        seed = _check_int("seed", seed, 0)
    return Sampling(np.random.default_rng(seed), 1.0 if temperature is None else temperature,
                    top_k, top_p)


# -- stepping a model --------------------------------------------------------------------------
class Stepper(Protocol):
    """A model as decoding sees it. ``step`` is called with prefixes that grow by one token
    per call (the first call may pass several, e.g. a prompt); a stepper that keeps a cache
    computes only the positions it has not seen. ``select`` keeps some rows of its state
    (beam search reorders and repeats the live beams with it). A stepper serves one decoding
    run: make a new one (the source is encoded again) for the next.

    A decoder-only model (GPT-2 style) plugs in with its own stepper: keep one growing
    ``KVCache`` per layer, embed ``prefix[:, cache.length:]`` at positions from
    ``cache.length``, return the last position's logits, record each layer's newest row with
    :func:`record_newest_attention` (``self_attn``) when ``trace.enabled``, and implement
    ``select`` with :func:`select_rows`. :class:`RecomputeStepper` over the same model is the
    reference it must match; :func:`generate` and :func:`beam_search` then work unchanged."""

    vocab_size: int

    def step(self, prefix, *, trace=NULL_TRACE):
        """prefix [B, n] int -> logits [B, V] of position n (the token after the prefix)."""

    def select(self, rows) -> None:
        """Keep the batch rows ``rows`` [B'] (in that order; repeats allowed) of the state."""


def record_newest_attention(weights, name: str, layer: int, *, trace=NULL_TRACE) -> None:
    """Record the newest query position's attention row of one layer, per head and averaged
    over the heads: weights [B, H, n_q, n_k] -> ``{name}.{layer}.heads`` [B, H, n_k] and
    ``{name}.{layer}.mean`` [B, n_k] (names ``cross_attn`` / ``self_attn``, see walkthroughs/names.py)."""
    heads = weights[:, :, -1, :]                                       # [B, H, n_k]
    trace.record(f"{name}.{layer}.heads", heads)
    trace.record(f"{name}.{layer}.mean", heads.mean(axis=1))           # [B, n_k]


def select_rows(cache: KVCache, rows) -> KVCache:
    """A new KVCache holding the batch rows ``rows`` [B'] of ``cache`` (copied; repeats
    allowed), for beam search: [B, H, n, d_head] -> [B', H, n, d_head]."""
    chosen = KVCache(static=cache.static)
    if cache.length:
        k, v = cache.get()                                             # [B, H, n, d_head]
        chosen.extend(k[rows], v[rows])                                # [B', H, n, d_head]
    return chosen


def select_decoder_cache(cache: DecoderCache, rows) -> DecoderCache:
    """A new DecoderCache holding the batch rows ``rows`` of every layer's two caches."""
    chosen = DecoderCache(len(cache.layers))
    chosen.layers = [(select_rows(own, rows), select_rows(cross, rows))
                     for own, cross in cache.layers]
    return chosen


class RecomputeStepper:
    """Any model given as a function of the whole prefix, without a cache:
    ``logits_fn(prefix [B, n]) -> logits [B, n, V]`` (every position; the last is used) or
    [B, V]. Each step recomputes everything: the reference that a cached stepper of the same
    model must match. Keeps no state, so ``select`` has nothing to do."""

    def __init__(self, logits_fn: Callable, vocab_size: int):
        self.logits_fn, self.vocab_size = logits_fn, vocab_size

    def step(self, prefix, *, trace=NULL_TRACE):
        logits = np.asarray(self.logits_fn(prefix))                    # [B, n, V] or [B, V]
        return logits[:, -1] if logits.ndim == 3 else logits           # [B, V]

    def select(self, rows) -> None:
        pass


@dataclass(frozen=True)
class LayerCacheSize:
    """What one decoder layer's cache holds: keys and values of the same shape each."""

    layer: int
    self_attn_shape: tuple[int, ...]        # keys (and values) [B, H, n_so_far, d_head]
    cross_attn_shape: tuple[int, ...]       # keys (and values) [B, H, S, d_head]

    @property
    def self_attn_numbers(self) -> int:
        return 2 * math.prod(self.self_attn_shape)

    @property
    def cross_attn_numbers(self) -> int:
        return 2 * math.prod(self.cross_attn_shape)


def cache_sizes(cache: DecoderCache) -> list[LayerCacheSize]:
    """What each decoder layer keeps, read from the cache itself (shapes of the arrays in use;
    the self-attention buffers reserve room for up to twice as many positions, see KVCache)."""
    sizes = []
    for i, (self_cache, cross_cache) in enumerate(cache.layers):
        shapes = [c.get()[0].shape if c.length else (0,) for c in (self_cache, cross_cache)]
        sizes.append(LayerCacheSize(i, *shapes))
    return sizes


def decoder_step_macs(config: TransformerConfig, n_vocab: int, n_src: int, n_new: int,
                      n_total: int, *, cross_kv: bool, batch: int = 1,
                      cross_attention: bool = True) -> int:
    """Multiply-adds of one decoding step of the decoder stack and the output projection,
    counted analytically from the shapes (matrix products only: layer norms, softmax,
    biases and the embedding lookup are O(n * d_model) and left out).

    ``n_new`` positions are computed, attending to ``n_total`` target positions and ``n_src``
    source positions; ``cross_kv``: the encoder's keys and values are projected in this step.
    Per layer, with E = d_model, F = dim_feedforward:
    self-attention 4 n_new E^2 (Q, K, V, output projections) + 2 n_new n_total E (Q K^T and
    weights V over all heads); cross-attention 2 n_new E^2 (Q, output) + 2 n_new S E
    (+ 2 S E^2 for K, V of the memory); feed-forward 2 n_new E F. Plus V E for the logits
    of the last position. With the cache a step has n_new = 1, cross_kv only at step 0;
    recomputing has n_new = n_total = t + prefix length and cross_kv every step.
    ``cross_attention=False``: a decoder-only layer (GPT-2), self-attention and feed-forward.
    """
    e, f = config.d_model, config.dim_feedforward
    self_attn = 4 * n_new * e * e + 2 * n_new * n_total * e
    cross_attn = 2 * n_new * e * e + 2 * n_new * n_src * e + (2 * n_src * e * e if cross_kv else 0)
    if not cross_attention:
        cross_attn = 0
    feed_forward = 2 * n_new * e * f
    per_layer = self_attn + cross_attn + feed_forward
    return batch * (config.num_decoder_layers * per_layer + n_vocab * e)


class Seq2SeqStepper:
    """Steps a :class:`~tutor.nn.model.Seq2Seq`: the source is encoded once, here; each step
    embeds the target (scaled embeddings + sinusoidal positions), runs the decoder stack and
    projects the newest position to the vocabulary.

    ``use_cache=True`` keeps each decoder layer's self-attention keys and values of the
    positions so far and the encoder-decoder keys and values (computed at the first step),
    so a step computes only the new position; ``use_cache=False`` recomputes the whole
    target and the memory's keys and values at every step. Both give the same logits up to
    rounding (1e-12 in float64).

    When the step's trace records, the newest position's attention rows are recorded
    (``cross_attn.{l}``, ``self_attn.{l}``), the cache's contents and the counted work;
    ``record_model=True`` records the model's own intermediates under ``model.`` as well.

    ``src_ids`` [B, S] or [S] int. Raises :class:`ShapeError` for an empty source, TutorError
    for ids outside the vocabulary.
    """

    def __init__(self, model, src_ids, *, src_key_padding_mask=None, use_cache: bool = True,
                 record_model: bool = False, trace=NULL_TRACE):
        if np.size(src_ids) == 0:
            raise ShapeError(f"the source is empty (shape {np.shape(src_ids)}): give at least "
                             f"one token")
        self.model = model
        self.vocab_size = model.vocab_size
        self.dtype = model.dtype
        self.src_ids = model._ids("src_ids", src_ids)                  # [B, S]
        self.use_cache = use_cache
        self.record_model = record_model
        pad = src_key_padding_mask                                     # checked by encode()
        if pad is not None and np.ndim(pad) == 1:
            pad = np.asarray(pad)[None]                                # [S] -> [1, S]
        self.src_key_padding_mask = pad
        encode_trace = trace.scope("encode") if record_model else NULL_TRACE
        src = model.embed(self.src_ids, "src_embedding", trace=encode_trace.scope("src_embed"))
        self.memory = model.transformer.encode(src, src_key_padding_mask=pad,
                                               trace=encode_trace.scope("transformer"))  # [B, S, E]
        trace.record("memory", self.memory)
        self.cache = model.transformer.new_cache() if use_cache else None

    @property
    def n_src(self) -> int:
        return self.memory.shape[1]

    def step(self, prefix, *, trace=NULL_TRACE):
        """prefix [B, n] int -> logits [B, V] for position n. With the cache, only the
        positions after those already cached are computed."""
        prefix = np.asarray(prefix)
        batch, n = prefix.shape
        if batch != self.memory.shape[0]:
            raise ShapeError(f"prefix has {batch} rows but the source has {self.memory.shape[0]}")
        past = self.cache.length if self.cache is not None else 0
        if not past < n:
            raise ShapeError(f"prefix has {n} positions but {past} are already decoded")
        model, transformer = self.model, self.model.transformer
        if self.record_model:
            inner = trace.scope("model")
        else:
            inner = AttentionWeights() if trace.enabled else NULL_TRACE
        new = prefix[:, past:]                                         # [B, n_new]
        tgt = model.embed(new, "tgt_embedding", start=past, trace=inner.scope("tgt_embed"))
        if self.cache is not None:                                     # only the new positions
            hidden = transformer.decode(tgt, self.memory, cache=self.cache,
                                        memory_key_padding_mask=self.src_key_padding_mask,
                                        trace=inner.scope("transformer"))  # [B, n_new, E]
        else:                                                          # the whole target again
            hidden = transformer.decode(tgt, self.memory, tgt_mask=causal_mask(n),
                                        memory_key_padding_mask=self.src_key_padding_mask,
                                        trace=inner.scope("transformer"))  # [B, n, E]
        logits = linear(hidden[:, -1], model.params["generator.weight"],
                        model.params["generator.bias"])                # [B, E] -> [B, V]
        if trace.enabled:
            self._record(trace, inner, batch, n, past)
        return logits

    def _record(self, trace, inner, batch, n, past):
        config = self.model.config
        for i in range(config.num_decoder_layers):
            layer = f"transformer.decoder.layers.{i}."
            record_newest_attention(inner[layer + "multihead_attn.weights"], "cross_attn", i,
                                    trace=trace)
            record_newest_attention(inner[layer + "self_attn.weights"], "self_attn", i,
                                    trace=trace)
        if self.cache is not None:
            sizes = cache_sizes(self.cache)
            trace.record("cache.self_attn", np.array([s.self_attn_numbers for s in sizes]))
            trace.record("cache.cross_attn", np.array([s.cross_attn_numbers for s in sizes]))
        common = dict(config=config, n_vocab=self.vocab_size, n_src=self.n_src, batch=batch)
        cached = decoder_step_macs(n_new=n - past if self.cache is not None else n, n_total=n,
                                   cross_kv=past == 0 or self.cache is None, **common)
        uncached = decoder_step_macs(n_new=n, n_total=n, cross_kv=True, **common)
        trace.record("work.cached", np.int64(cached))
        trace.record("work.uncached", np.int64(uncached))

    def select(self, rows) -> None:
        """Keep the rows ``rows`` of the memory, the padding mask and the cache."""
        rows = np.asarray(rows, dtype=np.int64)
        self.memory = self.memory[rows]                                # [B', S, E]
        if self.src_key_padding_mask is not None:
            self.src_key_padding_mask = self.src_key_padding_mask[rows]
        if self.cache is not None:
            self.cache = select_decoder_cache(self.cache, rows)


# -- the decoding loops ---------------------------------------------------------------------
def _check_prefix(prefix, vocab_size: int):
    return check_token_ids(prefix, vocab_size, "prefix")               # [B, n] int64


def _check_eos(eos_id, vocab_size: int):
    if eos_id is None:
        return None
    return _check_int("eos_id", eos_id, 0, vocab_size - 1)


def _check_suppress(suppress_ids, vocab_size: int, eos_id: int | None) -> np.ndarray:
    """The ids never to be chosen, checked: in range, not the end token, not every token."""
    if suppress_ids is None:
        return np.zeros(0, dtype=np.int64)
    ids = sorted({_check_int("suppress_ids", i, 0, vocab_size - 1) for i in suppress_ids})
    if eos_id is not None and eos_id in ids:
        raise SettingError("suppress_ids", f"suppress_ids must not hold the end token "
                                           f"{eos_id}: a sequence could never end")
    if len(ids) >= vocab_size:
        raise SettingError("suppress_ids", f"suppress_ids holds all {vocab_size} tokens: "
                                           f"nothing is left to choose")
    return np.array(ids, dtype=np.int64)


def suppress(logits, suppress_ids):
    """``logits`` [B, V] with the columns ``suppress_ids`` set to -inf, so that no rule ever
    chooses them (Hugging Face's ``suppress_tokens``): softmax gives them probability 0 and
    the others are renormalised. Returns a new array (``logits`` itself when there are none)."""
    if len(suppress_ids) == 0:
        return logits
    logits = np.array(logits, copy=True)
    logits[..., suppress_ids] = -np.inf
    return logits


def generate(stepper: Stepper, prefix, max_new_tokens: int, *, rule: ChoiceRule | None = None,
             eos_id: int | None = None, n_candidates: int = DEFAULT_CANDIDATES,
             clock: Callable[[], float] | None = None, suppress_ids=None, trace=NULL_TRACE):
    """Write up to ``max_new_tokens`` tokens after ``prefix``, one per step: the stepper
    gives the next position's logits, ``rule`` (default :class:`Greedy`) chooses the token.

    ``prefix`` [B, n0] or [n0] int: for a Seq2Seq, the start token; for a decoder-only model,
    the prompt. With ``eos_id``, a row that produced it keeps producing it, and decoding stops
    once every row has. ``clock`` (e.g. ``time.perf_counter``) records each model step's
    wall time. ``suppress_ids``: tokens never chosen (a Seq2Seq's start and padding tokens),
    their logits set to -inf before the rule (:func:`suppress`; the recorded logits show it).
    Records the names of ``walkthroughs/names.py:DECODING`` under ``step.{t}.`` and ``output``.
    Returns [B, n0 + n] int64 ids (n <= max_new_tokens; [n0 + n] for [n0] input).
    Raises :class:`SettingError` (max_new_tokens outside 0..MAX_NEW_TOKENS, a bad eos_id,
    n_candidates or suppress_ids: out of range, the end token, or every token) and
    :class:`ShapeError` (a bad prefix).
    """
    unbatched = np.ndim(prefix) == 1
    ids = _check_prefix(prefix, stepper.vocab_size)                   # [B, n0]
    max_new_tokens = check_max_new_tokens(max_new_tokens)
    eos_id = _check_eos(eos_id, stepper.vocab_size)
    n_candidates = _check_int("n_candidates", n_candidates, 1)
    never = _check_suppress(suppress_ids, stepper.vocab_size, eos_id)
    rule = Greedy() if rule is None else rule
    done = np.zeros(ids.shape[0], dtype=bool)                          # [B]
    for t in range(max_new_tokens):
        scope = trace.scope(f"step.{t}")
        scope.record("prefix", ids)
        start = clock() if clock is not None else None
        logits = suppress(stepper.step(ids, trace=scope), never)      # [B, V]
        if clock is not None:
            scope.record("seconds", np.float64(clock() - start))
        next_id = rule.choose(logits, n_candidates=n_candidates, trace=scope)  # [B]
        if eos_id is not None:
            next_id = np.where(done, eos_id, next_id)                  # [B]
            done = done | (next_id == eos_id)
        ids = np.concatenate([ids, next_id[:, None].astype(np.int64)], axis=1)  # [B, n+1]
        if eos_id is not None and done.all():
            break
    trace.record("output", ids)
    return ids[0] if unbatched else ids


def wu_length_penalty(length, alpha: float):
    """lp(Y) = ((5 + |Y|) / (5 + 1))^alpha, Wu et al. 2016 ("Google's Neural Machine
    Translation System", eq. 14); alpha = 0 gives 1 (no penalty). Vaswani et al. 2017 used
    beam size 4 and alpha = 0.6."""
    return ((5.0 + np.asarray(length, dtype=np.float64)) / 6.0) ** alpha


@dataclass(frozen=True)
class Hypothesis:
    """A finished beam: its new tokens (the end token last when it ended), log P(tokens),
    and score = log P / lp(|tokens|)."""

    tokens: np.ndarray = field(compare=False)                          # [n] int64
    logprob: float
    score: float
    ended: bool                                                        # False: max_new_tokens reached


def _check_beam(beam_size, alpha):
    beam_size = _check_int("beam_size", beam_size, 1, MAX_BEAM_SIZE)
    alpha = _check_real("length_penalty", alpha)
    if alpha < 0:
        raise SettingError("length_penalty", f"length_penalty must be at least 0, got {alpha}")
    return beam_size, alpha


def beam_search(stepper: Stepper, prefix, max_new_tokens: int, *, beam_size: int = 4,
                length_penalty: float = 0.6, eos_id: int | None = None,
                n_candidates: int = DEFAULT_CANDIDATES, suppress_ids=None,
                trace=NULL_TRACE) -> list[Hypothesis]:
    """Beam search, as Vaswani et al. 2017 decoded (beam size 4, length penalty alpha = 0.6,
    at most input length + 50 tokens, stopping early when possible): keep the ``beam_size``
    (K) most probable unfinished prefixes; at each step extend each by every token, and keep
    the K best extensions that do not end. ``length_penalty`` is alpha (the name of Hugging
    Face's option; their formula differs: log P / |Y|^alpha).

    An extension by ``eos_id`` is a finished hypothesis, scored log P(Y) / lp(Y) with
    lp(Y) = ((5 + |Y|) / 6)^alpha (Wu et al. 2016; |Y| counts the new tokens and the end
    token); so are the live beams when ``max_new_tokens`` is reached. The K best finished
    hypotheses are kept. The search stops early when no live beam can beat the K-th of them:
    a live beam's log-probability L <= 0 only falls, so its best possible score is
    L / max(lp(|Y| + 1), lp(max_new_tokens)). With K as large as the number of prefixes
    there are, nothing is pruned and the result is that of exhaustive search.

    ``suppress_ids``: tokens no beam is ever extended by (as :func:`generate`).
    ``prefix`` [n0] or [1, n0] (one sequence; the stepper must hold one row). Returns the
    finished hypotheses, best score first (at most K). Records per step ``logits``,
    ``logprobs``, ``probs``, ``candidates``, ``candidate_probs`` (per live beam), ``beams``,
    ``parents``, ``beam_logprobs``, ``beam_scores``, ``finished.*``; and ``output``.
    Raises :class:`SettingError` (beam_size outside 1..MAX_BEAM_SIZE, length_penalty < 0,
    max_new_tokens outside 1..MAX_NEW_TOKENS, bad suppress_ids) and :class:`ShapeError`
    (several rows).
    """
    live = _check_prefix(prefix, stepper.vocab_size)                  # [1, n0]
    if live.shape[0] != 1:
        raise ShapeError(f"beam search decodes one sequence at a time, got {live.shape[0]}")
    max_new_tokens = _check_int("max_new_tokens", max_new_tokens, 1, MAX_NEW_TOKENS)
    beam_size, alpha = _check_beam(beam_size, length_penalty)
    eos_id = _check_eos(eos_id, stepper.vocab_size)
    n_candidates = _check_int("n_candidates", n_candidates, 1)
    never = _check_suppress(suppress_ids, stepper.vocab_size, eos_id)
    n0 = live.shape[1]
    live_logprob = None                                                # [n_live], set at step 0
    finished: list[Hypothesis] = []
    for t in range(max_new_tokens):
        scope = trace.scope(f"step.{t}")
        scope.record("prefix", live)
        logits = suppress(stepper.step(live, trace=scope), never)     # [n_live, V]
        logprobs = log_softmax(logits)                                 # [n_live, V]
        if live_logprob is None:
            live_logprob = np.zeros(1, dtype=logprobs.dtype)           # [1]
        total = live_logprob[:, None] + logprobs                       # [n_live, V]: log P(beam + token)
        length = t + 1                                                 # new tokens after this step
        last = t == max_new_tokens - 1
        new_finished = []
        if eos_id is not None:                                         # every beam may end here
            for row in range(live.shape[0]):
                new_finished.append((live[row, n0:].tolist() + [eos_id], total[row, eos_id], True))
        extend = total.copy() if eos_id is not None else total         # [n_live, V]
        if eos_id is not None:
            extend[:, eos_id] = -np.inf                                # an ending is not a live beam
        flat = extend.ravel()                                          # [n_live * V]
        order = np.argsort(-flat, kind="stable")[:beam_size]           # [<= K]: best first
        order = order[np.isfinite(flat[order])]
        parents, tokens = np.divmod(order, extend.shape[1])            # [n_live'], [n_live']
        new_live = np.concatenate([live[parents], tokens[:, None]], axis=1)  # [n_live', n + 1]
        new_logprob = flat[order]                                      # [n_live']
        if last:                                                       # the limit: they finish
            for row in range(new_live.shape[0]):
                new_finished.append((new_live[row, n0:].tolist(), new_logprob[row], False))
        lp = float(wu_length_penalty(length, alpha))                   # a Python float keeps float32
        for tokens_, logprob, ended in new_finished:
            finished.append(Hypothesis(np.array(tokens_, dtype=np.int64), logprob, logprob / lp,
                                       ended))
        finished.sort(key=lambda h: -float(h.score))                   # stable: earlier first on ties
        del finished[beam_size:]
        if trace.enabled:
            scope.record("logits", np.asarray(logits))
            scope.record("logprobs", logprobs)
            probs = np.exp(logprobs)                                   # [n_live, V]
            scope.record("probs", probs)
            _record_candidates(probs, n_candidates, scope)
            scope.record("beams", new_live)
            scope.record("parents", parents)
            scope.record("beam_logprobs", new_logprob)
            scope.record("beam_scores", new_logprob / lp)
            done_tokens = np.array([h[0] for h in new_finished], dtype=np.int64).reshape(
                len(new_finished), length)                             # [f, t + 1]
            scope.record("finished.tokens", done_tokens)
            scope.record("finished.logprobs",
                         np.array([h[1] for h in new_finished], dtype=logprobs.dtype))
            scope.record("finished.scores",
                         np.array([h[1] / lp for h in new_finished], dtype=logprobs.dtype))
        if last or new_live.shape[0] == 0:
            break
        if len(finished) == beam_size:                                 # can a live beam still win?
            best_lp = float(max(wu_length_penalty(length + 1, alpha),
                                wu_length_penalty(max_new_tokens, alpha)))
            if float(new_logprob[0]) / best_lp <= float(finished[-1].score):
                break
        stepper.select(parents)
        live, live_logprob = new_live, new_logprob
    if finished:
        trace.record("output", np.concatenate([live[0, :n0], finished[0].tokens]))
    return finished
