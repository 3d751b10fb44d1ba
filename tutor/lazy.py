"""Lazy re-exports for a package's ``__init__``: a name is imported from its module on first
use, so importing the package costs nothing (``tutor --help`` must not import NumPy)."""

from __future__ import annotations

import importlib


def lazy_exports(package: str, exports: dict[str, str]):
    """``(__getattr__, __dir__)`` for ``package`` whose public ``name`` lives in the submodule
    ``exports[name]`` (PEP 562 module attributes). Unknown names raise AttributeError."""
    namespace = importlib.import_module(package).__dict__
    names = sorted(exports)

    def __getattr__(name: str):
        if name in exports:
            value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
            namespace[name] = value                                    # once: later lookups are plain
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return names

    return __getattr__, __dir__
