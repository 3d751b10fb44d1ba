"""A Hugging Face ``config.json``, read and checked before anything is allocated.

Two architectures are understood (``model_type``):

* ``bert`` (BERT, MiniLM): post-norm encoder layers, exact GELU, word + position + token-type
  embeddings followed by a layer norm (Devlin et al. 2018; ``transformers`` ``BertModel``).
* ``gpt2``: pre-norm decoder-only layers with a causal mask, tanh GELU, word + position
  embeddings, a final layer norm ``ln_f`` (Radford et al. 2019; ``transformers``
  ``GPT2Model``). Its language-model head is the word embeddings (``tie_word_embeddings``,
  default true) or, when the config says ``"tie_word_embeddings": false``, the folder's own
  ``lm_head.weight`` (``GPT2LMHeadModel``).

Anything else is refused by name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import TutorError
from ..files import read_json
from ..limits import MAX_CONFIG_BYTES

SUPPORTED_TYPES = ("bert", "gpt2")

#: Hugging Face activation names -> tutor.nn's (tutor.nn.functional.ACTIVATIONS).
ACTIVATION_NAMES = {"gelu": "gelu", "relu": "relu", "gelu_new": "gelu_tanh",
                    "gelu_pytorch_tanh": "gelu_tanh", "gelu_fast": "gelu_tanh"}

#: Upper bounds on config values, checked before any array is made (the weights are also
#: checked against the file's size, so these only catch nonsense early).
LIMITS = {"vocab_size": 1_000_000, "d_model": 16_384, "n_layer": 256, "n_head": 256,
          "d_ff": 65_536, "max_positions": 65_536, "type_vocab_size": 1024}



@dataclass(frozen=True)
class PretrainedConfig:
    """The hyperparameters tutor needs, under one vocabulary for both architectures.

    ``d_model`` is BERT's ``hidden_size`` / GPT-2's ``n_embd``; ``d_ff`` is
    ``intermediate_size`` / ``n_inner`` (4 * d_model when null); ``activation`` uses tutor.nn's
    names ('gelu' exact, 'gelu_tanh', 'relu').
    """

    model_type: str
    vocab_size: int
    d_model: int
    n_layer: int
    n_head: int
    d_ff: int
    max_positions: int
    type_vocab_size: int                                               # 0 for gpt2
    activation: str
    layer_norm_eps: float
    norm_first: bool                                                   # pre-norm (gpt2)
    causal: bool                                                       # causal self-attention (gpt2)
    tie_word_embeddings: bool = True                                   # gpt2: logits from wte, else lm_head

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_head


def read_config(path) -> PretrainedConfig:
    """Read and check ``config.json``. Raises TutorError naming the file and the value."""
    path = os.fspath(path)
    try:
        raw = read_json(path, MAX_CONFIG_BYTES, "a config.json")      # regular, capped, bounded
    except FileNotFoundError:
        raise TutorError(f"{path}: no such file (a model folder needs config.json)") from None
    if not isinstance(raw, dict):
        raise TutorError(f"{path}: expected a JSON object, got a {type(raw).__name__}")
    return parse_config(raw, path)


def _integer(raw, path, key, default=None, *, limit: str, minimum=1) -> int:
    value = raw.get(key, default)
    if type(value) is not int or value < minimum:
        raise TutorError(f"{path}: {key} must be an integer >= {minimum}, got {value!r}")
    if value > LIMITS[limit]:
        raise TutorError(f"{path}: {key} must be at most {LIMITS[limit]:,}, got {value:,}")
    return value


def _eps(raw, path, key, default) -> float:
    value = raw.get(key, default)
    if type(value) not in (int, float) or not 0 < value < 1:
        raise TutorError(f"{path}: {key} must be a number between 0 and 1, got {value!r}")
    return float(value)


def _activation(raw, path, key, default) -> str:
    value = raw.get(key, default)
    if value not in ACTIVATION_NAMES:
        raise TutorError(f"{path}: {key} {value!r} is not supported; expected one of "
                         f"{', '.join(sorted(ACTIVATION_NAMES))}")
    return ACTIVATION_NAMES[value]


def _flag(raw, path, key, default) -> bool:
    value = raw.get(key, default)
    if type(value) is not bool:
        raise TutorError(f"{path}: {key} must be true or false, got {value!r}")
    return value


def _require(raw, path, key, expected, default):
    """Options that change the math and that tutor does not implement: refused by name."""
    value = raw.get(key, default)
    if value != expected:
        raise TutorError(f"{path}: {key}={value!r} is not supported (tutor computes "
                         f"{key}={expected!r} only)")


def parse_config(raw: dict, path: str = "config.json") -> PretrainedConfig:
    """Check a parsed config.json and map it to :class:`PretrainedConfig`."""
    model_type = raw.get("model_type")
    if model_type not in SUPPORTED_TYPES:
        raise TutorError(f"{path}: model_type {model_type!r} is not supported; tutor reads "
                         f"{' and '.join(repr(t) for t in SUPPORTED_TYPES)} models (BERT, "
                         "MiniLM, GPT-2)")
    if model_type == "bert":
        d_model = _integer(raw, path, "hidden_size", limit="d_model")
        config = PretrainedConfig(
            model_type="bert",
            vocab_size=_integer(raw, path, "vocab_size", limit="vocab_size"),
            d_model=d_model,
            n_layer=_integer(raw, path, "num_hidden_layers", limit="n_layer"),
            n_head=_integer(raw, path, "num_attention_heads", limit="n_head"),
            d_ff=_integer(raw, path, "intermediate_size", limit="d_ff"),
            max_positions=_integer(raw, path, "max_position_embeddings", 512, limit="max_positions"),
            type_vocab_size=_integer(raw, path, "type_vocab_size", 2, limit="type_vocab_size"),
            activation=_activation(raw, path, "hidden_act", "gelu"),
            layer_norm_eps=_eps(raw, path, "layer_norm_eps", 1e-12),
            norm_first=False, causal=False)
        _require(raw, path, "position_embedding_type", "absolute", "absolute")
        _require(raw, path, "is_decoder", False, False)
        _require(raw, path, "add_cross_attention", False, False)
        head_key = "num_attention_heads"
    else:
        d_model = _integer(raw, path, "n_embd", 768, limit="d_model")
        n_inner = raw.get("n_inner")
        config = PretrainedConfig(
            model_type="gpt2",
            vocab_size=_integer(raw, path, "vocab_size", 50257, limit="vocab_size"),
            d_model=d_model,
            n_layer=_integer(raw, path, "n_layer", 12, limit="n_layer"),
            n_head=_integer(raw, path, "n_head", 12, limit="n_head"),
            d_ff=4 * d_model if n_inner is None else _integer(raw, path, "n_inner", limit="d_ff"),
            max_positions=_integer(raw, path, "n_positions", 1024, limit="max_positions"),
            type_vocab_size=0,
            activation=_activation(raw, path, "activation_function", "gelu_new"),
            layer_norm_eps=_eps(raw, path, "layer_norm_epsilon", 1e-5),
            norm_first=True, causal=True,
            tie_word_embeddings=_flag(raw, path, "tie_word_embeddings", True))
        _require(raw, path, "scale_attn_weights", True, True)
        _require(raw, path, "scale_attn_by_inverse_layer_idx", False, False)
        _require(raw, path, "reorder_and_upcast_attn", False, False)
        _require(raw, path, "add_cross_attention", False, False)
        head_key = "n_head"
    if config.d_model % config.n_head:
        raise TutorError(f"{path}: {head_key}={config.n_head} must divide the model width "
                         f"{config.d_model}")
    return config
