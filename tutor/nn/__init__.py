"""The math layer: pure NumPy, no printing, no files beyond .npz parameters, no Rich, no Click.

Names are re-exported lazily, so that a command which needs only attention does not pay for
importing the whole stack at start-up.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "add_and_norm": "analysis", "next_token_distribution": "analysis",
    "row_permutation": "analysis", "scaling_statistics": "analysis",
    "softmax_jacobian_norm": "analysis", "softmax_with_temperature": "analysis",
    "attention_head": "attention", "multi_head_attention": "attention",
    "scaled_dot_product_attention": "attention",
    "batch_norm": "functional", "erf": "functional", "feed_forward": "functional",
    "gelu": "functional", "layer_norm": "functional", "linear": "functional",
    "relu": "functional", "softmax": "functional",
    "causal_float_mask": "masks", "causal_mask": "masks",
    "Seq2Seq": "model", "Transformer": "model",
    "TransformerDecoder": "stacks", "TransformerEncoder": "stacks",
    "TransformerConfig": "params",
    "init_learned_encoding": "posenc", "learned_encoding": "posenc",
    "sinusoidal_encoding": "posenc",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
