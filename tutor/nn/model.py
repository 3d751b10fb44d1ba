"""The public models: :class:`Transformer` (the stack of ``nn.Transformer``, on arrays that are
already embedded) and :class:`Seq2Seq` (token ids in, token ids out, greedy decoding). The
halves on their own (``nn.TransformerEncoder``/``nn.TransformerDecoder``) are in :mod:`.stacks`,
on the same base class."""

from __future__ import annotations

import math
import os
from typing import Mapping

import numpy as np

from ..errors import DTypeError, ShapeError, TutorError
from ..trace import NULL_TRACE
from ..weightfiles import load_weights, save_npz
from . import layers
from .functional import linear
from .layers import DecoderCache
from .masks import causal_mask, check_causal_hint
from .params import (ParamView, TransformerConfig, check_token_ids, infer_config, init_params,
                     refuse_unsupported, transformer_shapes, validate_state)
from .posenc import sinusoidal_encoding


def _as_float_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TutorError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


class _Stack:
    """What the three stacks share: parameters under PyTorch's names, their dtype, and the
    checks of inputs and masks where they enter. Inputs are [batch, seq, d_model] with
    ``batch_first=True`` (the default here), [seq, batch, d_model] with ``batch_first=False``
    (PyTorch's default), or unbatched [seq, d_model]. Masks follow PyTorch: ``*_mask`` is [L, S]
    or [batch*nhead, L, S], boolean (True = not allowed) or additive float; ``*_key_padding_mask``
    is [batch, S] ([S] for unbatched input), True (or -inf) = padding. A float mask of another
    float dtype than the model is cast to the model's. A query whose keys are all masked gets an
    attention output of zero, as in PyTorch's standard path.
    """

    _kind = "transformer"

    def __init__(self, params: Mapping[str, np.ndarray], config: TransformerConfig):
        self._check_config(config)
        refuse_unsupported(params)
        self.config = config
        self.params = validate_state(params, self._shapes(config, params))
        self.dtype = next(iter(self.params.values())).dtype
        self._view = ParamView(self.params, "")

    @staticmethod
    def _check_config(config: TransformerConfig) -> None:
        for name in ("num_encoder_layers", "num_decoder_layers"):
            if getattr(config, name) < 1:
                raise TutorError(f"{name} must be at least 1, got {getattr(config, name)}")

    @staticmethod
    def _shapes(config: TransformerConfig, params) -> dict[str, tuple[int, ...]]:
        return transformer_shapes(config)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_state_dict(cls, state: Mapping[str, np.ndarray], nhead: int, *, norm_first=False,
                        activation="relu", layer_norm_eps=1e-5, batch_first=True, dtype=None):
        """A model from PyTorch's parameter names and shapes; widths, depths and ``bias`` are
        read from the shapes (a state dict does not record nhead, norm_first, activation,
        layer_norm_eps or batch_first: give them as the model was made). ``dtype`` converts
        every array (float32 or float64); by default the arrays keep theirs. Every name is used
        or named in a ParameterError."""
        config = infer_config(state, nhead, kind=cls._kind, norm_first=norm_first,
                              activation=activation, layer_norm_eps=layer_norm_eps,
                              batch_first=batch_first)
        if dtype is not None:
            dtype = _as_float_dtype(dtype)
        return cls(validate_state(state, cls._shapes(config, state), dtype), config)

    @classmethod
    def load(cls, path: str | os.PathLike, nhead: int, **options) -> "Transformer":
        """A model from an .npz or .safetensors file of PyTorch's state-dict names (never unpickles)."""
        return cls.from_state_dict(load_weights(path), nhead, **options)

    def save(self, path: str | os.PathLike) -> None:
        """Write the parameters as an .npz file that :meth:`load` reads back."""
        save_npz(path, self.params)

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of the parameters under PyTorch's names."""
        return {name: value.copy() for name, value in self.params.items()}

    def astype(self, dtype):
        """The same model in another float dtype."""
        dtype = _as_float_dtype(dtype)
        return type(self)({k: v.astype(dtype) for k, v in self.params.items()}, self.config)

    def __repr__(self) -> str:
        c = self.config
        layers_ = {"transformer": f"num_encoder_layers={c.num_encoder_layers}, "
                                  f"num_decoder_layers={c.num_decoder_layers}",
                   "encoder": f"num_layers={c.num_encoder_layers}",
                   "decoder": f"num_layers={c.num_decoder_layers}"}[self._kind]
        extra = "".join(f", {name}={getattr(c, name)}" for name in ("bias", "batch_first")
                        if not getattr(c, name))
        return (f"{type(self).__name__}(d_model={c.d_model}, nhead={c.nhead}, {layers_}, "
                f"dim_feedforward={c.dim_feedforward}, norm_first={c.norm_first}, "
                f"activation={c.activation!r}{extra}, dtype={self.dtype})")

    # -- input checks, once, where data enters ------------------------------------------
    def _sequence(self, name: str, x):
        x = np.asarray(x)
        d = self.config.d_model
        if x.ndim not in (2, 3) or x.shape[-1] != d or 0 in x.shape:
            batched = f"[batch, seq, {d}]" if self.config.batch_first else f"[seq, batch, {d}]"
            raise ShapeError(f"{name} must be {batched} or [seq, {d}], got shape {x.shape}")
        if np.issubdtype(x.dtype, np.floating):
            if x.dtype != self.dtype:
                raise DTypeError(f"{name} is {x.dtype} but the model is {self.dtype}; "
                                 f"convert one of them explicitly")
        elif np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_:
            x = x.astype(self.dtype)
        else:
            raise DTypeError(f"{name} must hold numbers, got dtype {x.dtype}")
        return x

    def _attn_mask(self, name, mask, batch, n_q, n_k):
        if mask is None:
            return None
        mask = np.asarray(mask)
        allowed = ((n_q, n_k), (batch * self.config.nhead, n_q, n_k))
        if mask.shape not in allowed:
            raise ShapeError(f"{name} must have shape {allowed[0]} or {allowed[1]}, got {mask.shape}")
        return self._mask_dtype(name, mask)

    def _padding_mask(self, name, mask, batch, n_k, unbatched=False):
        if mask is None:
            return None
        mask = np.asarray(mask)
        if unbatched and mask.shape == (n_k,):                         # PyTorch's unbatched form
            mask = mask[None]                                          # [S] -> [1, S]
        if mask.shape != (batch, n_k):
            expected = f"{(n_k,)} or {(1, n_k)}" if unbatched else f"{(batch, n_k)}"
            raise ShapeError(f"{name} must have shape {expected}, got {mask.shape}")
        return self._mask_dtype(name, mask)

    def _mask_dtype(self, name, mask):
        if mask.dtype == np.bool_:
            return mask
        if np.issubdtype(mask.dtype, np.floating):                     # PyTorch casts a float mask
            return mask.astype(self.dtype, copy=False)                 # to the query's dtype
        raise DTypeError(f"{name} must be boolean (True = not allowed) or float, got {mask.dtype}")

    def _batched(self, x):
        """[seq, d] -> [1, seq, d]; [seq, batch, d] -> [batch, seq, d] without batch_first.
        Returns the array and whether the input was unbatched."""
        if x.ndim == 2:
            return x[None], True
        return (x if self.config.batch_first else np.swapaxes(x, 0, 1)), False

    def _unbatched(self, x, unbatched: bool):
        """The inverse of :meth:`_batched`, for an output."""
        if unbatched:
            return x[0]
        return x if self.config.batch_first else np.swapaxes(x, 0, 1)

    # -- the two halves -------------------------------------------------------------------
    def _encode(self, src, mask, src_key_padding_mask, is_causal, trace):
        src, unbatched = self._batched(self._sequence("src", src))
        batch, n_src, _ = src.shape
        mask = self._attn_mask("src_mask", mask, batch, n_src, n_src)
        check_causal_hint("src_is_causal", is_causal, "src_mask", mask, n_src, n_src)
        pad = self._padding_mask("src_key_padding_mask", src_key_padding_mask, batch, n_src,
                                 unbatched)
        memory = layers.encoder(src, self._half("encoder"), self.config,
                                mask=mask, src_key_padding_mask=pad, trace=trace.scope("encoder"))
        return self._unbatched(memory, unbatched)

    def _decode(self, tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
                memory_key_padding_mask, tgt_is_causal, memory_is_causal, cache, trace):
        tgt, unbatched = self._batched(self._sequence("tgt", tgt))
        memory, memory_unbatched = self._batched(self._sequence("memory", memory))
        if memory_unbatched != unbatched:
            raise ShapeError(f"tgt and memory must both be batched or both unbatched, got "
                             f"shapes {np.shape(tgt)} and {np.shape(memory)}")
        batch, n_tgt, _ = tgt.shape
        if memory.shape[0] != batch:
            raise ShapeError(f"memory has batch size {memory.shape[0]} but tgt has {batch}")
        n_src = memory.shape[1]
        if cache is not None:
            if tgt_mask is not None or tgt_key_padding_mask is not None:
                raise TutorError("decoding with a cache is causal: tgt_mask and "
                                 "tgt_key_padding_mask cannot be given with it")
            past = cache.length                                        # new position i sees 0..past+i
            if n_tgt > 1:
                tgt_mask = causal_mask(n_tgt, past + n_tgt, past=past)  # [n_tgt, past + n_tgt]
        else:
            tgt_mask = self._attn_mask("tgt_mask", tgt_mask, batch, n_tgt, n_tgt)
            check_causal_hint("tgt_is_causal", tgt_is_causal, "tgt_mask", tgt_mask, n_tgt, n_tgt)
        memory_mask = self._attn_mask("memory_mask", memory_mask, batch, n_tgt, n_src)
        check_causal_hint("memory_is_causal", memory_is_causal, "memory_mask", memory_mask,
                          n_tgt, n_src)
        out = layers.decoder(
            tgt, memory, self._half("decoder"), self.config,
            tgt_mask=tgt_mask, memory_mask=memory_mask,
            tgt_key_padding_mask=self._padding_mask("tgt_key_padding_mask", tgt_key_padding_mask,
                                                    batch, n_tgt, unbatched),
            memory_key_padding_mask=self._padding_mask("memory_key_padding_mask",
                                                       memory_key_padding_mask, batch, n_src,
                                                       unbatched),
            cache=cache, trace=trace.scope("decoder"))
        return self._unbatched(out, unbatched)

    def _half(self, name: str) -> ParamView:
        """A half's parameters: under ``encoder.``/``decoder.`` in nn.Transformer, at the top
        level in nn.TransformerEncoder/Decoder."""
        return self._view.scope(name) if self._kind == "transformer" else self._view


class _Encodes:
    """``encode``, once for :class:`Transformer` and :class:`~tutor.nn.stacks.TransformerEncoder`."""

    def encode(self, src, mask=None, src_key_padding_mask=None, is_causal=None, *,
               trace=NULL_TRACE):
        """The encoder layers, then the final norm (always in a Transformer; in a
        TransformerEncoder if its state dict has one): src [batch, S, E] -> memory
        [batch, S, E]. Recorded names start with ``encoder.``."""
        return self._encode(src, mask, src_key_padding_mask, is_causal, trace)


class _Decodes:
    """``new_cache`` and ``decode``, once for :class:`Transformer` and
    :class:`~tutor.nn.stacks.TransformerDecoder`."""

    def new_cache(self) -> DecoderCache:
        """An empty cache for step-by-step decoding with :meth:`decode`."""
        return DecoderCache(self.config.num_decoder_layers)

    def decode(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
               memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False, *,
               cache: DecoderCache | None = None, trace=NULL_TRACE):
        """The decoder layers, then the final norm (always in a Transformer; in a
        TransformerDecoder if its state dict has one): tgt [batch, T, E], memory
        [batch, S, E] -> [batch, T, E]. Recorded names start with ``decoder.``.

        With a ``cache`` from :meth:`new_cache`, ``tgt`` holds only the positions after those
        decoded so far; they see the earlier ones through the cache, and each other causally.
        """
        return self._decode(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
                            memory_key_padding_mask, tgt_is_causal, memory_is_causal, cache,
                            trace)


class Transformer(_Encodes, _Decodes, _Stack):
    """The encoder-decoder stack of ``torch.nn.Transformer`` in eval mode (``batch_first=True``
    unless the model is made with ``batch_first=False``).

    Inputs are embedded sequences [batch, seq, d_model] (or [seq, d_model] unbatched). Masks
    follow PyTorch: ``*_mask`` is [L, S] or [batch*nhead, L, S], boolean (True = not allowed)
    or additive float; ``*_key_padding_mask`` is [batch, S] ([S] unbatched), True = padding.
    ``src_is_causal``/``tgt_is_causal``/``memory_is_causal`` are PyTorch's hints that the mask
    given is causal (see :func:`~tutor.nn.masks.check_causal_hint`). The numbers are those of
    PyTorch's standard path (autograd enabled), a fully masked query included (its attention
    output is zero); see the README for the fast path PyTorch takes under ``torch.no_grad()``.
    """

    @classmethod
    def random(cls, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
               dim_feedforward=2048, *, seed=0, norm_first=False, activation="relu",
               layer_norm_eps=1e-5, bias=True, batch_first=True,
               dtype=np.float64) -> "Transformer":
        """A freshly initialised model, as PyTorch initialises ``nn.Transformer``, from a seed."""
        config = TransformerConfig(d_model, nhead, num_encoder_layers, num_decoder_layers,
                                   dim_feedforward, norm_first, activation, layer_norm_eps,
                                   bias, batch_first)
        rng = np.random.default_rng(seed)
        return cls(init_params(transformer_shapes(config), rng, dtype=_as_float_dtype(dtype)), config)

    # -- the computation ------------------------------------------------------------------
    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False, *, trace=NULL_TRACE):
        """decode(tgt, encode(src)): [batch, S, E], [batch, T, E] -> [batch, T, E]
        ([S, batch, E], [T, batch, E] -> [T, batch, E] with batch_first=False)."""
        src_arr, tgt_arr = np.asarray(src), np.asarray(tgt)
        axis = 0 if self.config.batch_first else 1
        if src_arr.ndim != tgt_arr.ndim or (src_arr.ndim == 3 and
                                            src_arr.shape[axis] != tgt_arr.shape[axis]):
            raise ShapeError(f"src and tgt must have the same batch size (axis {axis}), got "
                             f"shapes {src_arr.shape} and {tgt_arr.shape}")
        memory = self.encode(src, src_mask, src_key_padding_mask, src_is_causal, trace=trace)
        return self.decode(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
                           memory_key_padding_mask, tgt_is_causal, memory_is_causal, trace=trace)

    __call__ = forward

    def forward_and_grads(self, src, tgt, grad_output, src_mask=None, tgt_mask=None,
                          memory_mask=None, src_key_padding_mask=None, tgt_key_padding_mask=None,
                          memory_key_padding_mask=None, *, input_grads=False, trace=NULL_TRACE):
        """The forward pass and the backward pass for an upstream gradient: (out, grads).

        ``grad_output`` is dL/d(out), of the output's shape and dtype; ``grads`` is
        dL/d(parameter) with the names, shapes and dtype of :meth:`state_dict`, as
        ``out.backward(grad_output)`` leaves in PyTorch's ``.grad``. Masks as :meth:`forward`.
        ``input_grads=True`` returns (out, grads, grad_src, grad_tgt). With a recording
        ``trace``, the forward is recorded as by :meth:`forward` and every gradient under
        the same name plus ``.grad`` (``encoder.layers.0.self_attn.weights.grad``; dL/dsrc is
        ``encoder.layers.0.input.grad``). Raises ShapeError / DTypeError for a
        ``grad_output`` that does not match the output. See :mod:`tutor.nn.backward`.
        """
        from .backward import transformer_forward_and_grads
        masks = dict(src_mask=src_mask, tgt_mask=tgt_mask, memory_mask=memory_mask,
                     src_key_padding_mask=src_key_padding_mask,
                     tgt_key_padding_mask=tgt_key_padding_mask,
                     memory_key_padding_mask=memory_key_padding_mask)
        return transformer_forward_and_grads(self, src, tgt, grad_output, masks,
                                             input_grads=input_grads, trace=trace)


class Seq2Seq:
    """Token ids in, token ids out: embeddings scaled by sqrt(d_model) plus sinusoidal positional
    encoding, the :class:`Transformer`, and a linear projection to the vocabulary.

    Parameter names: ``src_embedding.weight`` and ``tgt_embedding.weight`` [n_vocab, d_model],
    ``transformer.*`` (the stack, PyTorch's names), ``generator.weight`` [n_vocab, d_model] and
    ``generator.bias`` [n_vocab].
    """

    def __init__(self, params: Mapping[str, np.ndarray], config: TransformerConfig):
        embed = np.asarray(params["src_embedding.weight"])
        self.vocab_size = embed.shape[0]
        stack = {k[len("transformer."):]: v for k, v in params.items() if k.startswith("transformer.")}
        self.transformer = Transformer(stack, config)
        shapes = self.head_shapes(self.vocab_size, config.d_model)
        head = validate_state({k: v for k, v in params.items() if not k.startswith("transformer.")},
                              shapes)
        self.params = {**head, **{f"transformer.{k}": v for k, v in self.transformer.params.items()}}
        if len({str(v.dtype) for v in self.params.values()}) > 1:
            raise DTypeError("the embeddings and the stack have different dtypes")
        self.config = config
        self.dtype = self.transformer.dtype

    @staticmethod
    def head_shapes(vocab_size: int, d_model: int) -> dict[str, tuple[int, ...]]:
        return {"src_embedding.weight": (vocab_size, d_model),
                "tgt_embedding.weight": (vocab_size, d_model),
                "generator.weight": (vocab_size, d_model),
                "generator.bias": (vocab_size,)}

    @classmethod
    def random(cls, vocab_size, d_model=512, nhead=8, num_layers=6, dim_feedforward=2048, *,
               seed=0, norm_first=False, activation="relu", layer_norm_eps=1e-5,
               dtype=np.float64) -> "Seq2Seq":
        """A freshly initialised model with ``num_layers`` encoder and decoder layers."""
        if vocab_size < 1:
            raise TutorError(f"vocab_size must be a positive integer, got {vocab_size}")
        config = TransformerConfig(d_model, nhead, num_layers, num_layers, dim_feedforward,
                                   norm_first, activation, layer_norm_eps)
        shapes = cls.head_shapes(vocab_size, d_model)
        shapes.update({f"transformer.{k}": v for k, v in transformer_shapes(config).items()})
        rng = np.random.default_rng(seed)
        return cls(init_params(shapes, rng, dtype=_as_float_dtype(dtype)), config)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {name: value.copy() for name, value in self.params.items()}

    def _ids(self, name, ids):
        return check_token_ids(ids, self.vocab_size, name)            # [batch, seq] int64

    def embed(self, ids, table: str, *, start: int = 0, trace=NULL_TRACE):
        """E[ids] * sqrt(d_model) + PE: [batch, n] -> [batch, n, d_model]; ``start`` is the
        position of the first id (for step-by-step decoding)."""
        d_model = self.config.d_model
        tokens = self.params[f"{table}.weight"][ids]                   # [B, n] -> [B, n, E]
        scaled = tokens * math.sqrt(d_model)                           # [B, n, E]
        pe = sinusoidal_encoding(ids.shape[1], d_model, offset=start, dtype=self.dtype)  # [n, E]
        out = scaled + pe                                              # [B, n, E]
        trace.record("tokens", tokens)
        trace.record("pe", pe)
        trace.record("out", out)
        return out

    def logits(self, src_ids, tgt_ids, *, src_key_padding_mask=None, tgt_key_padding_mask=None,
               trace=NULL_TRACE):
        """Scores over the vocabulary for every target position: [batch, T, n_vocab].
        The decoder is causal; ``tgt_key_padding_mask`` [batch, T] also hides padded targets."""
        src_ids, tgt_ids = self._ids("src_ids", src_ids), self._ids("tgt_ids", tgt_ids)
        src = self.embed(src_ids, "src_embedding", trace=trace.scope("src_embed"))
        tgt = self.embed(tgt_ids, "tgt_embedding", trace=trace.scope("tgt_embed"))
        out = self.transformer.forward(
            src, tgt, tgt_mask=causal_mask(tgt_ids.shape[1]),
            src_key_padding_mask=src_key_padding_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=src_key_padding_mask, trace=trace.scope("transformer"))
        logits = linear(out, self.params["generator.weight"], self.params["generator.bias"])  # [B, T, V]
        trace.record("logits", logits)
        return logits

    def loss_and_grads(self, src_ids, tgt_ids, *, pad_id=None, label_smoothing=0.0,
                       trace=NULL_TRACE):
        """Teacher-forced cross-entropy and its gradients: (loss, grads).

        The decoder reads ``tgt_ids[:, :-1]`` and is scored on ``tgt_ids[:, 1:]``; the loss is
        ``torch.nn.functional.cross_entropy(logits, labels, ignore_index=pad_id,
        label_smoothing=label_smoothing)``: the mean over the labels that are not ``pad_id``
        (see :func:`tutor.nn.loss.cross_entropy`). With ``pad_id``, source padding is masked
        as keys in the encoder and in cross-attention, and decoder-input padding as keys in
        the decoder (with the causal mask). ids are [batch, S] and [batch, T+1] (or 1-D).
        Returns the loss (0-d array of the model's dtype) and ``grads`` with the keys, shapes
        and dtype of :meth:`state_dict`. A recording ``trace`` gets the forward (as
        :meth:`logits` records it, plus ``loss.*``) and each gradient as ``<name>.grad``.
        Raises ShapeError / TutorError for bad ids.
        """
        from .backward import seq2seq_loss_and_grads
        return seq2seq_loss_and_grads(self, src_ids, tgt_ids, pad_id=pad_id,
                                      label_smoothing=label_smoothing, trace=trace)

    def generate(self, src_ids, max_new_tokens: int, *, bos_id: int = 0, eos_id: int | None = None,
                 src_key_padding_mask=None, use_cache: bool = True):
        """Greedy decoding: start from ``bos_id`` and append the most likely next token, up to
        ``max_new_tokens`` times. With ``eos_id``, a sequence that produced it keeps producing
        it, and decoding stops early once every sequence has. Returns [batch, n] ids with
        ``bos_id`` first, n <= 1 + max_new_tokens ([n] for [seq] input).

        ``use_cache`` keeps each decoder layer's keys and values between steps, so a step
        computes only the newest position; ``use_cache=False`` recomputes the whole target at
        every step. Both give the same tokens. The loop is :func:`tutor.nn.decoding.generate`
        (sampling, beam search and the recorded steps are there); max_new_tokens above
        ``decoding.MAX_NEW_TOKENS`` raises its SettingError.
        """
        from .decoding import Seq2SeqStepper, generate                 # the one decoding loop

        unbatched = np.ndim(src_ids) == 1
        if not 0 <= bos_id < self.vocab_size:
            raise TutorError(f"bos_id must be a token id in 0..{self.vocab_size - 1}, got {bos_id}")
        stepper = Seq2SeqStepper(self, src_ids, src_key_padding_mask=src_key_padding_mask,
                                 use_cache=use_cache)
        start = np.full((stepper.src_ids.shape[0], 1), bos_id, dtype=np.int64)  # [B, 1]
        out = generate(stepper, start, max_new_tokens, eos_id=eos_id)  # [B, 1 + n]
        return out[0] if unbatched else out
