"""``nn.TransformerEncoder`` and ``nn.TransformerDecoder`` on their own, from their own state
dicts: the same checks, layers and numbers as :class:`~tutor.nn.model.Transformer`."""

from __future__ import annotations

import numpy as np

from ..errors import TutorError
from ..trace import NULL_TRACE
from .layers import DecoderCache
from .model import _as_float_dtype, _Stack
from .params import TransformerConfig, decoder_shapes, encoder_shapes, init_params


class TransformerEncoder(_Stack):
    """``torch.nn.TransformerEncoder(nn.TransformerEncoderLayer(...), num_layers, norm)`` in eval
    mode, from its own state dict: names ``layers.<i>.self_attn.in_proj_weight``, ...,
    ``norm.weight`` (the final norm is optional, as in PyTorch, whose default is none).
    ``forward``/``encode``: src [batch, S, E] -> [batch, S, E], as :meth:`Transformer.encode`.
    """

    _kind = "encoder"

    @staticmethod
    def _check_config(config: TransformerConfig) -> None:
        if config.num_encoder_layers < 1 or config.num_decoder_layers != 0:
            raise TutorError("a TransformerEncoder needs num_encoder_layers >= 1 and "
                             f"num_decoder_layers == 0, got {config.num_encoder_layers} and "
                             f"{config.num_decoder_layers}")

    @staticmethod
    def _shapes(config: TransformerConfig, params) -> dict[str, tuple[int, ...]]:
        return encoder_shapes(config, norm="norm.weight" in params)

    @classmethod
    def random(cls, d_model=512, nhead=8, num_layers=6, dim_feedforward=2048, *, norm=True,
               seed=0, norm_first=False, activation="relu", layer_norm_eps=1e-5, bias=True,
               batch_first=True, dtype=np.float64) -> "TransformerEncoder":
        """A freshly initialised encoder (with a final norm unless ``norm=False``)."""
        config = TransformerConfig(d_model, nhead, num_layers, 0, dim_feedforward, norm_first,
                                   activation, layer_norm_eps, bias, batch_first)
        shapes = encoder_shapes(config, norm=norm)
        return cls(init_params(shapes, np.random.default_rng(seed), dtype=_as_float_dtype(dtype)),
                   config)

    @property
    def has_norm(self) -> bool:
        """Whether the stack ends with a layer norm (``norm=`` given to nn.TransformerEncoder)."""
        return "norm.weight" in self.params

    def encode(self, src, mask=None, src_key_padding_mask=None, is_causal=None, *,
               trace=NULL_TRACE):
        """The encoder layers, then the final norm if there is one: [batch, S, E] -> [batch, S, E].
        Recorded names start with ``encoder.``, as in :meth:`Transformer.encode`."""
        return self._encode(src, mask, src_key_padding_mask, is_causal, trace)

    forward = __call__ = encode


class TransformerDecoder(_Stack):
    """``torch.nn.TransformerDecoder(nn.TransformerDecoderLayer(...), num_layers, norm)`` in eval
    mode, from its own state dict (names ``layers.<i>.self_attn.*``, ``layers.<i>.multihead_attn.*``,
    optional ``norm.*``). ``forward``/``decode``: tgt [batch, T, E], memory [batch, S, E] ->
    [batch, T, E], as :meth:`Transformer.decode`.
    """

    _kind = "decoder"

    @staticmethod
    def _check_config(config: TransformerConfig) -> None:
        if config.num_decoder_layers < 1 or config.num_encoder_layers != 0:
            raise TutorError("a TransformerDecoder needs num_decoder_layers >= 1 and "
                             f"num_encoder_layers == 0, got {config.num_decoder_layers} and "
                             f"{config.num_encoder_layers}")

    @staticmethod
    def _shapes(config: TransformerConfig, params) -> dict[str, tuple[int, ...]]:
        return decoder_shapes(config, norm="norm.weight" in params)

    @classmethod
    def random(cls, d_model=512, nhead=8, num_layers=6, dim_feedforward=2048, *, norm=True,
               seed=0, norm_first=False, activation="relu", layer_norm_eps=1e-5, bias=True,
               batch_first=True, dtype=np.float64) -> "TransformerDecoder":
        """A freshly initialised decoder (with a final norm unless ``norm=False``)."""
        config = TransformerConfig(d_model, nhead, 0, num_layers, dim_feedforward, norm_first,
                                   activation, layer_norm_eps, bias, batch_first)
        shapes = decoder_shapes(config, norm=norm)
        return cls(init_params(shapes, np.random.default_rng(seed), dtype=_as_float_dtype(dtype)),
                   config)

    @property
    def has_norm(self) -> bool:
        """Whether the stack ends with a layer norm (``norm=`` given to nn.TransformerDecoder)."""
        return "norm.weight" in self.params

    def new_cache(self) -> DecoderCache:
        """An empty cache for step-by-step decoding with :meth:`decode`."""
        return DecoderCache(self.config.num_decoder_layers)

    def decode(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
               memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False, *,
               cache: DecoderCache | None = None, trace=NULL_TRACE):
        """The decoder layers, then the final norm if there is one (see :meth:`Transformer.decode`)."""
        return self._decode(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
                            memory_key_padding_mask, tgt_is_causal, memory_is_causal, cache,
                            trace)

    forward = __call__ = decode
