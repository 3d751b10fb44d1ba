"""The math layer: pure NumPy, no printing, no files beyond .npz parameters, no Rich, no Click."""

from .attention import attention_head, multi_head_attention, scaled_dot_product_attention
from .functional import batch_norm, erf, feed_forward, gelu, layer_norm, linear, relu, softmax
from .masks import causal_float_mask, causal_mask
from .model import Seq2Seq, Transformer
from .params import TransformerConfig
from .posenc import init_learned_encoding, learned_encoding, sinusoidal_encoding

__all__ = [
    "Seq2Seq", "Transformer", "TransformerConfig", "attention_head", "batch_norm",
    "causal_float_mask", "causal_mask", "erf", "feed_forward", "gelu", "init_learned_encoding",
    "layer_norm", "learned_encoding", "linear", "multi_head_attention", "relu",
    "scaled_dot_product_attention", "sinusoidal_encoding", "softmax",
]
