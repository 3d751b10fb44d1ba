"""A Hugging Face ``config.json``, read and checked before anything is allocated.

The families tutor reads (BERT / MiniLM, GPT-2, ...) each parse their own keys
(:mod:`tutor.pretrained.families`, one module per family, with the checks below); config.json's
``model_type`` picks the family and anything else is refused by name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import TutorError
from ..files import read_json
from ..limits import MAX_CONFIG_BYTES

#: Hugging Face activation names -> tutor.nn's (tutor.nn.functional.ACTIVATIONS).
ACTIVATION_NAMES = {"gelu": "gelu", "relu": "relu", "gelu_new": "gelu_tanh",
                    "gelu_pytorch_tanh": "gelu_tanh", "gelu_fast": "gelu_tanh"}

#: Upper bounds on config values, checked before any array is made (the weights are also
#: checked against the file's size, so these only catch nonsense early).
LIMITS = {"vocab_size": 1_000_000, "d_model": 16_384, "n_layer": 256, "n_head": 256,
          "d_ff": 65_536, "max_positions": 65_536, "type_vocab_size": 1024}



@dataclass(frozen=True)
class PretrainedConfig:
    """The hyperparameters tutor needs, under one vocabulary for every family.

    ``family`` is the name the family is registered under (:mod:`.families`); ``d_model`` is
    BERT's ``hidden_size`` / GPT-2's ``n_embd``; ``d_ff`` is ``intermediate_size`` /
    ``n_inner`` (4 * d_model when null); ``activation`` uses tutor.nn's names ('gelu' exact,
    'gelu_tanh', 'relu').
    """

    family: str
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

    def checked(self, path: str, head_key: str) -> "PretrainedConfig":
        """This config, once its head count (config.json's ``head_key``) divides the width.
        TutorError naming the file otherwise."""
        if self.d_model % self.n_head:
            raise TutorError(f"{path}: {head_key}={self.n_head} must divide the model width "
                             f"{self.d_model}")
        return self


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


def integer(raw, path, key, default=None, *, limit: str, minimum=1) -> int:
    value = raw.get(key, default)
    if type(value) is not int or value < minimum:
        raise TutorError(f"{path}: {key} must be an integer >= {minimum}, got {value!r}")
    if value > LIMITS[limit]:
        raise TutorError(f"{path}: {key} must be at most {LIMITS[limit]:,}, got {value:,}")
    return value


def eps(raw, path, key, default) -> float:
    value = raw.get(key, default)
    if type(value) not in (int, float) or not 0 < value < 1:
        raise TutorError(f"{path}: {key} must be a number between 0 and 1, got {value!r}")
    return float(value)


def activation(raw, path, key, default) -> str:
    value = raw.get(key, default)
    if value not in ACTIVATION_NAMES:
        raise TutorError(f"{path}: {key} {value!r} is not supported; expected one of "
                         f"{', '.join(sorted(ACTIVATION_NAMES))}")
    return ACTIVATION_NAMES[value]


def flag(raw, path, key, default) -> bool:
    value = raw.get(key, default)
    if type(value) is not bool:
        raise TutorError(f"{path}: {key} must be true or false, got {value!r}")
    return value


def require(raw, path, key, expected, default):
    """Options that change the math and that tutor does not implement: refused by name."""
    value = raw.get(key, default)
    if value != expected:
        raise TutorError(f"{path}: {key}={value!r} is not supported (tutor computes "
                         f"{key}={expected!r} only)")


def parse_config(raw: dict, path: str = "config.json") -> PretrainedConfig:
    """Check a parsed config.json and map it to :class:`PretrainedConfig` with the parser of
    the family it declares. TutorError naming the file and the value."""
    from .families import family_of_config

    return family_of_config(raw, path).parse_config(raw, path)
