"""Parameters as a flat mapping with the names and shapes of PyTorch's
``nn.Transformer(batch_first=True).state_dict()``: initialisation and validation (the
``.npz`` files they are saved in are read and written by :mod:`tutor.weightfiles`)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..errors import ParameterError, ShapeError, TutorError


@dataclass(frozen=True)
class TransformerConfig:
    """Every hyperparameter of the encoder-decoder stack, in one place.

    ``bias=False`` is PyTorch's ``bias=False``: no bias in any linear map, attention projection
    or layer norm. ``batch_first=False`` (PyTorch's default) means inputs are [seq, batch, d];
    ``True`` (ours) [batch, seq, d]. A layer count of 0 is a stack without that half
    (``nn.TransformerEncoder`` or ``nn.TransformerDecoder`` on its own).
    ``activation="gelu_tanh"`` is ``nn.GELU(approximate="tanh")``.
    """

    d_model: int = 512
    nhead: int = 8
    num_encoder_layers: int = 6
    num_decoder_layers: int = 6
    dim_feedforward: int = 2048
    norm_first: bool = False
    activation: str = "relu"
    layer_norm_eps: float = 1e-5
    bias: bool = True
    batch_first: bool = True

    def __post_init__(self):
        for name in ("d_model", "nhead", "dim_feedforward"):
            if getattr(self, name) < 1:
                raise TutorError(f"{name} must be a positive integer, got {getattr(self, name)}")
        for name in ("num_encoder_layers", "num_decoder_layers"):
            if getattr(self, name) < 0:
                raise TutorError(f"{name} must be at least 0, got {getattr(self, name)}")
        if self.num_encoder_layers == self.num_decoder_layers == 0:
            raise TutorError("num_encoder_layers and num_decoder_layers are both 0; expected "
                             "at least one layer")
        if self.d_model % self.nhead:
            raise TutorError(f"nhead={self.nhead} must divide d_model={self.d_model}")
        if self.activation not in ("relu", "gelu", "gelu_tanh"):
            raise TutorError("activation must be 'relu', 'gelu' or 'gelu_tanh' (GELU with "
                             f"approximate='tanh'), got {self.activation!r}")
        if not self.layer_norm_eps > 0:
            raise TutorError(f"layer_norm_eps must be positive, got {self.layer_norm_eps}")
        for name in ("bias", "batch_first"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TutorError(f"{name} must be True or False, got {getattr(self, name)!r}")


class ParamView(Mapping):
    """The parameters under one prefix, by their short names: ``view["in_proj_weight"]``."""

    __slots__ = ("_state", "_prefix")

    def __init__(self, state: Mapping[str, np.ndarray], prefix: str):
        self._state, self._prefix = state, prefix

    def __getitem__(self, name):
        return self._state[self._prefix + name]

    def __contains__(self, name):                                      # no KeyError raised and caught
        return self._prefix + name in self._state

    def get(self, name, default=None):
        return self._state.get(self._prefix + name, default)

    def __iter__(self):
        n = len(self._prefix)
        return (key[n:] for key in self._state if key.startswith(self._prefix))

    def __len__(self):
        return sum(1 for _ in self)

    def scope(self, name: str) -> "ParamView":
        return ParamView(self._state, f"{self._prefix}{name}.")


def _drop_biases(shapes: dict[str, tuple[int, ...]], bias: bool) -> dict[str, tuple[int, ...]]:
    return shapes if bias else {k: v for k, v in shapes.items() if not k.endswith("bias")}


def _attention_shapes(prefix: str, d_model: int) -> dict[str, tuple[int, ...]]:
    return {
        f"{prefix}.in_proj_weight": (3 * d_model, d_model),
        f"{prefix}.in_proj_bias": (3 * d_model,),
        f"{prefix}.out_proj.weight": (d_model, d_model),
        f"{prefix}.out_proj.bias": (d_model,),
    }


def _norm_shapes(prefix: str, d_model: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.weight": (d_model,), f"{prefix}.bias": (d_model,)}


def _feed_forward_shapes(prefix: str, d_model: int, d_ff: int) -> dict[str, tuple[int, ...]]:
    return {
        f"{prefix}linear1.weight": (d_ff, d_model),
        f"{prefix}linear1.bias": (d_ff,),
        f"{prefix}linear2.weight": (d_model, d_ff),
        f"{prefix}linear2.bias": (d_model,),
    }


def encoder_layer_shapes(prefix: str, d_model: int, d_ff: int,
                         bias: bool = True) -> dict[str, tuple[int, ...]]:
    """Names and shapes of one ``nn.TransformerEncoderLayer`` (prefix may be '')."""
    shapes = _attention_shapes(f"{prefix}self_attn", d_model)
    shapes.update(_feed_forward_shapes(prefix, d_model, d_ff))
    for i in (1, 2):
        shapes.update(_norm_shapes(f"{prefix}norm{i}", d_model))
    return _drop_biases(shapes, bias)


def decoder_layer_shapes(prefix: str, d_model: int, d_ff: int,
                         bias: bool = True) -> dict[str, tuple[int, ...]]:
    """Names and shapes of one ``nn.TransformerDecoderLayer`` (prefix may be '')."""
    shapes = _attention_shapes(f"{prefix}self_attn", d_model)
    shapes.update(_attention_shapes(f"{prefix}multihead_attn", d_model))
    shapes.update(_feed_forward_shapes(prefix, d_model, d_ff))
    for i in (1, 2, 3):
        shapes.update(_norm_shapes(f"{prefix}norm{i}", d_model))
    return _drop_biases(shapes, bias)


def encoder_shapes(config: TransformerConfig, prefix: str = "",
                   norm: bool = True) -> dict[str, tuple[int, ...]]:
    """Names and shapes of ``nn.TransformerEncoder(layer, num_encoder_layers, norm)``; ``norm``
    False for one made without a final norm (PyTorch's default there)."""
    d, f = config.d_model, config.dim_feedforward
    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(config.num_encoder_layers):
        shapes.update(encoder_layer_shapes(f"{prefix}layers.{i}.", d, f, config.bias))
    if norm:
        shapes.update(_drop_biases(_norm_shapes(f"{prefix}norm", d), config.bias))
    return shapes


def decoder_shapes(config: TransformerConfig, prefix: str = "",
                   norm: bool = True) -> dict[str, tuple[int, ...]]:
    """Names and shapes of ``nn.TransformerDecoder(layer, num_decoder_layers, norm)``."""
    d, f = config.d_model, config.dim_feedforward
    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(config.num_decoder_layers):
        shapes.update(decoder_layer_shapes(f"{prefix}layers.{i}.", d, f, config.bias))
    if norm:
        shapes.update(_drop_biases(_norm_shapes(f"{prefix}norm", d), config.bias))
    return shapes


def transformer_shapes(config: TransformerConfig) -> dict[str, tuple[int, ...]]:
    """Names and shapes of ``nn.Transformer(...).state_dict()``, in PyTorch's order."""
    shapes = encoder_shapes(config, "encoder.")
    shapes.update(decoder_shapes(config, "decoder."))
    return shapes


def init_params(shapes: Mapping[str, tuple[int, ...]], rng: np.random.Generator, *,
                dtype=np.float64) -> dict[str, np.ndarray]:
    """PyTorch's initialisation of ``nn.Transformer``: Xavier-uniform for every matrix,
    zeros for attention biases, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for linear biases,
    ones and zeros for layer norms."""
    params = {}
    for name, shape in shapes.items():
        if len(shape) == 2:
            fan_out, fan_in = shape
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            value = rng.uniform(-bound, bound, size=shape)
        elif "norm" in name.rsplit(".", 2)[-2] and name.endswith(".weight"):
            value = np.ones(shape)
        elif name.endswith(("in_proj_bias", "out_proj.bias")) or "norm" in name:
            value = np.zeros(shape)
        else:                                                          # a linear layer's bias
            fan_in = shapes[name[: -len("bias")] + "weight"][1]
            bound = 1.0 / math.sqrt(fan_in)
            value = rng.uniform(-bound, bound, size=shape)
        params[name] = value.astype(dtype)
    return params


def _count_layers(names, prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"layers\.(\d+)\.")
    found = {int(m.group(1)) for name in names if (m := pattern.match(name))}
    return max(found) + 1 if found else 0


# Names nn.MultiheadAttention has only with options that nn.Transformer's layers never pass.
_UNSUPPORTED_IN_STACKS = {
    "bias_k": "add_bias_kv=True", "bias_v": "add_bias_kv=True",
    "q_proj_weight": "kdim/vdim other than d_model", "k_proj_weight": "kdim/vdim other than d_model",
    "v_proj_weight": "kdim/vdim other than d_model",
}


def refuse_unsupported(state: Mapping[str, np.ndarray]) -> None:
    """Name the first attention parameter that the layers of nn.Transformer never have."""
    for name in state:
        last = name.rsplit(".", 1)[-1]
        if last in _UNSUPPORTED_IN_STACKS:
            raise ParameterError(
                f"parameter {name!r} ({_UNSUPPORTED_IN_STACKS[last]}) is not supported in a "
                "Transformer stack: nn.TransformerEncoderLayer/DecoderLayer never make it; "
                "tutor.nn.multi_head_attention computes such an attention on its own")


def state_dict_kind(state: Mapping[str, np.ndarray]) -> str:
    """Which PyTorch module a state dict comes from, by its names: "transformer"
    (``encoder.layers.*`` and ``decoder.layers.*``), "encoder" (``layers.*.self_attn`` only),
    "decoder" (``layers.*.multihead_attn`` too), or "unknown"."""
    if any(name.startswith(("encoder.layers.", "decoder.layers.")) for name in state):
        return "transformer"
    if "layers.0.multihead_attn.in_proj_weight" in state:
        return "decoder"
    if "layers.0.self_attn.in_proj_weight" in state:
        return "encoder"
    return "unknown"


def infer_config(state: Mapping[str, np.ndarray], nhead: int, *, kind: str = "transformer",
                 **options) -> TransformerConfig:
    """Read d_model, dim_feedforward, the layer counts and ``bias`` from the names and shapes
    of a state dict: ``kind`` "transformer" (``nn.Transformer``, names ``encoder.*`` and
    ``decoder.*``), "encoder" (``nn.TransformerEncoder``, names ``layers.*``, ``norm.*``) or
    "decoder" (``nn.TransformerDecoder``). Raises ParameterError naming what is missing or
    not supported."""
    refuse_unsupported(state)

    def shape_of(name: str) -> tuple[int, ...]:
        if name not in state:
            raise ParameterError(f"parameter {name!r} is missing from the state dict{hint}")
        return tuple(np.shape(state[name]))

    prefixes = {"transformer": ("encoder.", "decoder."), "encoder": ("", None),
                "decoder": (None, "")}[kind]
    hint = ""
    found = state_dict_kind(state)
    if kind == "transformer" and found in ("encoder", "decoder"):
        hint = (f"; it holds an nn.Transformer{found.capitalize()} alone (layers.*): load it "
                f"with Transformer{found.capitalize()}")
    if kind != "transformer" and any(k.startswith(("encoder.layers.", "decoder.layers."))
                                     for k in state):
        hint = (f"; it holds a whole nn.Transformer (encoder.*, decoder.*): load it with "
                f"Transformer, or keep only the {'encoder' if kind == 'encoder' else 'decoder'}"
                f".* entries without that prefix")
    elif kind == "decoder" and "layers.0.self_attn.in_proj_weight" in state:
        hint = "; it holds an nn.TransformerEncoder (no multihead_attn): load it with TransformerEncoder"
    elif kind == "encoder" and "layers.0.multihead_attn.in_proj_weight" in state:
        raise ParameterError("unexpected parameter 'layers.0.multihead_attn.in_proj_weight': "
                             "the state dict holds an nn.TransformerDecoder; load it with "
                             "TransformerDecoder")
    first = prefixes[0] if prefixes[0] is not None else prefixes[1]
    d_model = shape_of(f"{first}layers.0.self_attn.in_proj_weight")[-1]
    d_ff = shape_of(f"{first}layers.0.linear1.weight")[0]
    if kind == "transformer" and _count_layers(state, "decoder.") == 0:
        raise ParameterError("the state dict has no decoder.layers.* parameters; expected a "
                             "whole nn.Transformer (encoder and decoder); an encoder alone "
                             "loads with TransformerEncoder")
    if kind == "decoder":
        shape_of("layers.0.multihead_attn.in_proj_weight")
    bias = any(name.endswith("bias") for name in state)              # bias=False: none at all
    return TransformerConfig(
        d_model=d_model, nhead=nhead, dim_feedforward=d_ff,
        num_encoder_layers=0 if prefixes[0] is None else _count_layers(state, prefixes[0]),
        num_decoder_layers=0 if prefixes[1] is None else _count_layers(state, prefixes[1]),
        bias=bias, **options)


def validate_state(state: Mapping[str, np.ndarray], shapes: Mapping[str, tuple[int, ...]],
                   dtype=None) -> dict[str, np.ndarray]:
    """Check names, shapes and dtypes against ``shapes``; return a plain dict of arrays.

    Raises ParameterError naming the first missing, extra or mis-shaped parameter. With
    ``dtype`` given, arrays are converted to it (an explicit request); without, every array
    must already share one floating dtype.
    """
    missing = [name for name in shapes if name not in state]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise ParameterError(f"parameter {missing[0]!r} is missing{more}; "
                             f"expected shape {shapes[missing[0]]}")
    extra = [name for name in state if name not in shapes]
    if extra:
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        raise ParameterError(f"unexpected parameter {extra[0]!r}{more}")
    out: dict[str, np.ndarray] = {}
    for name, expected in shapes.items():
        value = np.asarray(state[name])
        if value.shape != tuple(expected):
            raise ParameterError(f"parameter {name!r} has shape {value.shape}, "
                                 f"expected {tuple(expected)}")
        if not np.issubdtype(value.dtype, np.floating):
            raise ParameterError(f"parameter {name!r} has dtype {value.dtype}, expected a float dtype")
        if dtype is not None:
            value = value.astype(dtype, copy=False)
        if not np.all(np.isfinite(value)):
            raise ParameterError(f"parameter {name!r} contains NaN or infinite values")
        out[name] = value
    dtypes = {str(v.dtype) for v in out.values()}
    if len(dtypes) > 1:
        raise ParameterError(f"parameters mix dtypes {sorted(dtypes)}; pass dtype= to convert")
    return out


def check_token_ids(ids, vocab_size: int, name: str) -> np.ndarray:
    """Token ids as [batch, seq] int64: ``ids`` [batch, seq] or [seq] (then batch 1), integers
    in 0 .. vocab_size - 1, at least one position. Raises ShapeError naming ``name``."""
    ids = np.asarray(ids)
    if ids.ndim == 1:
        ids = ids[None]                                                # [seq] -> [1, seq]
    if ids.ndim != 2 or ids.shape[1] == 0 or not np.issubdtype(ids.dtype, np.integer):
        raise ShapeError(f"{name} must be integer token ids [batch, seq] or [seq] with at least "
                         f"one position, got shape {ids.shape} and dtype {ids.dtype}")
    if ids.min() < 0 or ids.max() >= vocab_size:
        raise ShapeError(f"{name} has token ids outside 0..{vocab_size - 1}")
    return ids.astype(np.int64, copy=False)
