"""Stepping a decoder-only pretrained model (GPT-2 style) for :mod:`tutor.nn.decoding`.

:class:`CausalLMStepper` follows the recipe of :class:`tutor.nn.decoding.Stepper`: one growing
``KVCache`` per layer, the new positions embedded from ``cache.length``, each layer
the family's layer function (GPT-2's: :func:`tutor.nn.layers.encoder_layer`, pre-norm, causal)
with its cache, the family's final norm,
then the language-model head :meth:`PretrainedModel.lm_logits` (tied, or the folder's own
``lm_head``). The math is tutor.nn's; only the bookkeeping of the cache is here.
:func:`recompute_stepper` is the reference it matches: :meth:`PretrainedModel.next_token_logits`
on the whole prefix at every step. A left-padded batch of prompts needs its
``attention_mask`` (as ``transformers``' ``generate`` takes it): the padding is then hidden
from every query and each row counts its positions from its first token, so every row writes
what it writes alone.
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
from ..nn.masks import causal_mask
from ..trace import NULL_TRACE
from .model import check_finite, layer_name


def _check_causal(model) -> None:
    if not model.can_write:
        raise TutorError(f"{model.name} is a {model.family.name} {model.family.kind}, not a "
                         "decoder-only (GPT-2 style) model: it does not predict the next token")


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
    ``attention_mask`` [B, n0]: the prompts' mask (1 = token, 0 = padding; left padding, as
    for ``generate``); positions after n0 are tokens. The padded keys are hidden from every
    query and the position ids are cumsum(mask) - 1 (:meth:`PretrainedModel.padding`), so
    each row's logits equal (to rounding) those of the row alone. Without a mask every
    position is a token: a padded batch then gives other numbers than its rows alone.
    Raises TutorError for a model that is not decoder-only, ShapeError for a prefix longer
    than the model's positions, a bad mask, or a prefix whose batch or length does not fit it.
    """

    def __init__(self, model, *, use_cache: bool = True, attention_mask=None):
        _check_causal(model)
        self.model = model
        self.attention_mask = None
        if attention_mask is not None:
            mask = np.asarray(attention_mask)
            if mask.ndim != 2:
                raise ShapeError(f"attention_mask must be [batch, n] (the prompts' mask), got "
                                 f"shape {mask.shape}")
            model.padding(np.zeros(mask.shape, dtype=np.int64), mask)   # checks values, rows
            self.attention_mask = mask != 0                            # [B, n0], True = token
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
        pad, positions = self._padding(batch, n)                       # [B, n] or None
        x = model.family.embed(model, prefix[:, past:], start=past,
                               position_ids=None if positions is None else positions[:, past:])  # [B, n_new, E]
        n_new = n - past
        mask = causal_mask(n_new, n, past=past)                        # [n_new, n], True = hidden
        check_finite(model, x, "the embeddings")
        for i in range(model.n_layer):
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                x = model.family.layer(x, model.layer_params(i), model.layer_config,
                                       src_mask=mask if n_new > 1 else None,
                                       src_key_padding_mask=pad,
                                       cache=None if self.caches is None else self.caches[i],
                                       trace=inner.scope(f"layers.{i}"))   # [B, n_new, E]
            check_finite(model, x, layer_name(i, model.n_layer))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            last = model.final(x[:, -1])                               # [B, E] (ln_f for GPT-2)
        logits = model.lm_logits(check_finite(model, last, "the final norm"))  # [B, V], checked
        if trace.enabled:
            self._record(trace, inner, batch, n, past)
        return logits

    def _padding(self, batch: int, n: int):
        """The key padding mask [B, n] (True = padding) and position ids [B, n] of a prefix
        of n positions, or (None, None) without a mask."""
        if self.attention_mask is None:
            return None, None
        rows, n0 = self.attention_mask.shape
        if batch != rows or n < n0:
            raise ShapeError(f"prefix has shape ({batch}, {n}); the attention_mask is for "
                             f"{rows} rows of at least {n0} positions")
        tokens = np.concatenate([self.attention_mask, np.ones((rows, n - n0), dtype=bool)],
                                axis=1)                                # [B, n]
        pad = ~tokens
        return (pad if pad.any() else None), np.where(pad, 0, np.cumsum(tokens, axis=1) - 1)

    def _record(self, trace, inner, batch, n, past):
        for i in range(self.model.n_layer):
            record_newest_attention(inner[f"layers.{i}.self_attn.weights"], "self_attn", i,
                                    trace=trace)
        if self.caches is not None:
            trace.record("cache.self_attn",
                         np.array([2 * math.prod(c.get()[0].shape) for c in self.caches]))
        common = dict(config=self.stack_config, n_vocab=self.vocab_size, n_src=0, batch=batch,
                      cross_kv=False, cross_attention=False)
        count = self.model.family.step_macs                            # a family's own layer
        if count is None:
            def count(config, n_new, n_total, batch):
                return decoder_step_macs(n_new=n_new, n_total=n_total, **common)
        cached = count(self.model.config, n - past if self.caches is not None else n, n, batch)
        trace.record("work.cached", np.int64(cached))
        trace.record("work.uncached", np.int64(count(self.model.config, n, n, batch)))

    def select(self, rows) -> None:
        """Keep the batch rows ``rows`` of every layer's cache (beam search)."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.caches is not None:
            self.caches = [select_rows(c, rows) for c in self.caches]
        if self.attention_mask is not None:
            self.attention_mask = self.attention_mask[rows]            # [B', n0]


def recompute_stepper(model, *, attention_mask=None) -> RecomputeStepper:
    """The reference: :meth:`PretrainedModel.next_token_logits` on every row of the whole
    prefix at each step (no cache), each row alone: its padding (``attention_mask`` [B, n0]
    of the prompts, 0 = padding) left out. prefix [B, n] -> logits [B, V]. Keeps no state,
    so it serves greedy decoding (beam search reorders rows, which this reference does not
    follow when a mask is given)."""
    _check_causal(model)
    keep = None if attention_mask is None else np.asarray(attention_mask) != 0  # [B, n0]

    def logits(prefix):
        prefix = np.asarray(prefix)
        rows = []
        for b, row in enumerate(prefix):
            if keep is not None:                                       # the row without its padding
                row = row[np.concatenate([keep[b], np.ones(len(row) - keep.shape[1], bool)])]
            rows.append(model.next_token_logits(row)[-1])
        return np.stack(rows)                                          # [B, V]
    return RecomputeStepper(logits, model.config.vocab_size)
