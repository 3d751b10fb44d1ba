"""tutor: learn, check and compute how a Transformer works.

The public API is re-exported here lazily, so that ``tutor --help`` starts without importing
NumPy::

    import tutor
    model = tutor.Transformer.random(d_model=8, nhead=2, num_encoder_layers=1,
                                     num_decoder_layers=1, dim_feedforward=16, seed=0)
"""

from __future__ import annotations

__version__ = "0.1.0"

_EXPORTS = {
    "Transformer": "tutor.nn.model",
    "TransformerEncoder": "tutor.nn.stacks",
    "TransformerDecoder": "tutor.nn.stacks",
    "Seq2Seq": "tutor.nn.model",
    "TransformerConfig": "tutor.nn.params",
    "Trace": "tutor.trace",
    "NULL_TRACE": "tutor.trace",
    "TutorError": "tutor.errors",
    "ShapeError": "tutor.errors",
    "ParameterError": "tutor.errors",
    "DTypeError": "tutor.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tutor' has no attribute {name!r}")


def __dir__():
    return __all__
