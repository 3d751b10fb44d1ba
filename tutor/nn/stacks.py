"""``nn.TransformerEncoder`` and ``nn.TransformerDecoder`` on their own, from their own state
dicts: the same checks, layers and numbers as :class:`~tutor.nn.model.Transformer`."""

from __future__ import annotations

import numpy as np

from ..errors import TutorError
from .model import _as_float_dtype, _Decodes, _Encodes, _Stack
from .params import TransformerConfig, decoder_shapes, encoder_shapes, init_params


class _OneStack(_Stack):
    """What ``TransformerEncoder`` and ``TransformerDecoder`` share: one half of the model
    (``_kind`` "encoder" or "decoder"), its own state-dict names (``layers.*``, an optional
    ``norm.*``), construction from a seed, and whether it ends with a norm."""

    _kind = ""
    _layer_shapes = staticmethod(encoder_shapes)                       # or decoder_shapes

    @classmethod
    def _counts(cls, config: TransformerConfig) -> tuple[int, int]:
        """(this half's layers, the other half's) of ``config``."""
        pair = (config.num_encoder_layers, config.num_decoder_layers)
        return pair if cls._kind == "encoder" else pair[::-1]

    @classmethod
    def _check_config(cls, config: TransformerConfig) -> None:
        mine, other = cls._counts(config)
        if mine < 1 or other != 0:
            this, that = ("encoder", "decoder") if cls._kind == "encoder" else ("decoder", "encoder")
            raise TutorError(f"a Transformer{cls._kind.capitalize()} needs num_{this}_layers >= 1 "
                             f"and num_{that}_layers == 0, got {mine} and {other}")

    @classmethod
    def _shapes(cls, config: TransformerConfig, params) -> dict[str, tuple[int, ...]]:
        return cls._layer_shapes(config, norm="norm.weight" in params)

    @classmethod
    def random(cls, d_model=512, nhead=8, num_layers=6, dim_feedforward=2048, *, norm=True,
               seed=0, norm_first=False, activation="relu", layer_norm_eps=1e-5, bias=True,
               batch_first=True, dtype=np.float64):
        """A freshly initialised stack (with a final norm unless ``norm=False``), as PyTorch
        initialises it (Xavier-uniform matrices), from a seed."""
        counts = (num_layers, 0) if cls._kind == "encoder" else (0, num_layers)
        config = TransformerConfig(d_model, nhead, *counts, dim_feedforward, norm_first,
                                   activation, layer_norm_eps, bias, batch_first)
        shapes = cls._layer_shapes(config, norm=norm)
        return cls(init_params(shapes, np.random.default_rng(seed), dtype=_as_float_dtype(dtype)),
                   config)

    @property
    def has_norm(self) -> bool:
        """Whether the stack ends with a layer norm (``norm=`` given to PyTorch's class)."""
        return "norm.weight" in self.params


class TransformerEncoder(_Encodes, _OneStack):
    """``torch.nn.TransformerEncoder(nn.TransformerEncoderLayer(...), num_layers, norm)`` in eval
    mode, from its own state dict: names ``layers.<i>.self_attn.in_proj_weight``, ...,
    ``norm.weight`` (the final norm is optional, as in PyTorch, whose default is none).
    ``forward``/``encode``: src [batch, S, E] -> [batch, S, E], as :meth:`Transformer.encode`.
    """

    _kind = "encoder"
    _layer_shapes = staticmethod(encoder_shapes)

    forward = __call__ = _Encodes.encode


class TransformerDecoder(_Decodes, _OneStack):
    """``torch.nn.TransformerDecoder(nn.TransformerDecoderLayer(...), num_layers, norm)`` in eval
    mode, from its own state dict (names ``layers.<i>.self_attn.*``, ``layers.<i>.multihead_attn.*``,
    optional ``norm.*``). ``forward``/``decode``: tgt [batch, T, E], memory [batch, S, E] ->
    [batch, T, E], as :meth:`Transformer.decode`.
    """

    _kind = "decoder"
    _layer_shapes = staticmethod(decoder_shapes)

    forward = __call__ = _Decodes.decode
