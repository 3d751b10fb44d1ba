"""Stepping a decoder-only pretrained model (GPT-2 style) for :mod:`tutor.nn.decoding`.

:class:`CausalLMStepper` follows the recipe of :class:`tutor.nn.decoding.Stepper`: one growing
``KVCache`` per layer, the new positions embedded from ``cache.length``, each layer
:func:`tutor.nn.layers.encoder_layer` (pre-norm, causal) with its cache, GPT-2's final norm,
then the language-model head :meth:`PretrainedModel.lm_logits` (tied or the folder's own). The math is tutor.nn's;
only the bookkeeping of the cache is here. :func:`recompute_stepper` is the reference it
matches: :meth:`PretrainedModel.next_token_logits` on the whole prefix at every step.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..errors import ShapeError, TutorError
from ..nn.attention import KVCache
from ..trace import AttentionWeights
from ..nn.decoding import (RecomputeStepper, decoder_step_macs,
                           record_newest_attention, select_rows)
from ..nn.functional import layer_norm
from ..nn.layers import encoder_layer
from ..nn.masks import causal_mask
from ..trace import NULL_TRACE
from .model import gpt2_embeddings


def _check_causal(model) -> None:
    if model.config.model_type != "gpt2" or not model.config.causal:
        raise TutorError(f"{model.name} is a {model.config.model_type} encoder, not a decoder-only "
                         "(GPT-2 style) model: it does not predict the next token")


class CausalLMStepper:
    """Steps a GPT-2-style :class:`~tutor.pretrained.model.PretrainedModel`: ``step(prefix
    [B, n]) -> logits [B, V]`` of the token after the prefix.

    ``use_cache=True`` keeps each layer's self-attention keys and values [B, H, n, d_head], so
    a step computes only the positions not seen yet (the whole prompt at the first call, then
    one token); ``use_cache=False`` recomputes every position at every step. Both give the
    same logits up to rounding (1e-12 in float64). When the step's trace records, each
    layer's newest attention row (``self_attn.{l}.heads`` / ``.mean``), the numbers the cache
    holds (``cache.self_attn``) and the counted multiply-adds (``work.cached`` /
    ``work.uncached``, :func:`decoder_step_macs` without cross-attention).
    Raises TutorError for a model that is not decoder-only, ShapeError for a prefix longer
    than the model's positions.
    """

    def __init__(self, model, *, use_cache: bool = True):
        _check_causal(model)
        self.model = model
        self.vocab_size = model.config.vocab_size
        self.dtype = model.dtype
        self.caches = [KVCache() for _ in range(model.n_layer)] if use_cache else None
        self.stack_config = dataclasses.replace(model.layer_config,
                                                num_decoder_layers=model.n_layer)

    def step(self, prefix, *, trace=NULL_TRACE):
        """prefix [B, n] int -> logits [B, V] of position n."""
        prefix = np.asarray(prefix)
        batch, n = prefix.shape
        limit = self.model.config.max_positions
        if n > limit:
            raise ShapeError(f"the text so far has {n} tokens; {self.model.name} reads at most "
                             f"{limit} positions")
        past = self.caches[0].length if self.caches is not None else 0
        if not past < n:
            raise ShapeError(f"prefix has {n} positions but {past} are already decoded")
        model = self.model
        inner = AttentionWeights() if trace.enabled else NULL_TRACE
        x = gpt2_embeddings(prefix[:, past:], model._view.scope("embed"), start=past)  # [B, n_new, E]
        n_new = n - past
        mask = causal_mask(n_new, n, past=past)                        # [n_new, n], True = hidden
        for i in range(model.n_layer):
            x = encoder_layer(x, model.layer_params(i), model.layer_config,
                              src_mask=mask if n_new > 1 else None,
                              cache=None if self.caches is None else self.caches[i],
                              trace=inner.scope(f"layers.{i}"))        # [B, n_new, E]
        last = layer_norm(x[:, -1], model.params["final_norm.weight"],
                          model.params["final_norm.bias"], model.config.layer_norm_eps)  # [B, E]
        logits = model.lm_logits(last)                                 # [B, E] -> [B, V]
        if trace.enabled:
            self._record(trace, inner, batch, n, past)
        return logits

    def _record(self, trace, inner, batch, n, past):
        for i in range(self.model.n_layer):
            record_newest_attention(inner[f"layers.{i}.self_attn.weights"], "self_attn", i,
                                    trace=trace)
        if self.caches is not None:
            trace.record("cache.self_attn",
                         np.array([2 * math.prod(c.get()[0].shape) for c in self.caches]))
        common = dict(config=self.stack_config, n_vocab=self.vocab_size, n_src=0, batch=batch,
                      cross_kv=False, cross_attention=False)
        cached = decoder_step_macs(n_new=n - past if self.caches is not None else n, n_total=n,
                                   **common)
        trace.record("work.cached", np.int64(cached))
        trace.record("work.uncached", np.int64(decoder_step_macs(n_new=n, n_total=n, **common)))

    def select(self, rows) -> None:
        """Keep the batch rows ``rows`` of every layer's cache (beam search)."""
        if self.caches is not None:
            rows = np.asarray(rows, dtype=np.int64)
            self.caches = [select_rows(c, rows) for c in self.caches]


def recompute_stepper(model) -> RecomputeStepper:
    """The reference: :meth:`PretrainedModel.next_token_logits` on every row of the whole
    prefix at each step (no cache). prefix [B, n] -> logits [B, V]."""
    _check_causal(model)

    def logits(prefix):
        return np.stack([model.next_token_logits(row)[-1] for row in np.asarray(prefix)])  # [B, V]
    return RecomputeStepper(logits, model.config.vocab_size)
