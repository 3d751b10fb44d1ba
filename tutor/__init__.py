"""tutor: learn, check and compute how a Transformer works.

The public API is re-exported here lazily, so that ``tutor --help`` starts without importing
NumPy::

    import tutor
    model = tutor.Transformer.random(d_model=8, nhead=2, num_encoder_layers=1,
                                     num_decoder_layers=1, dim_feedforward=16, seed=0)
"""

from __future__ import annotations

from .lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "Transformer": "nn.model",
    "TransformerEncoder": "nn.stacks",
    "TransformerDecoder": "nn.stacks",
    "Seq2Seq": "nn.model",
    "TransformerConfig": "nn.params",
    "Trace": "trace",
    "NULL_TRACE": "trace",
    "TutorError": "errors",
    "ShapeError": "errors",
    "ParameterError": "errors",
    "DTypeError": "errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


__getattr__, _dir = lazy_exports(__name__, _EXPORTS)


def __dir__():
    return __all__
