"""The model families tutor reads, one module each, and the registry that maps config.json's
``model_type`` to its :class:`~.base.Family` record. Adding a family is a module in this
folder and one line in :data:`FAMILIES` (see ARCHITECTURE.md, "Adding a model family")."""

from __future__ import annotations

from ...errors import TutorError
from . import bert, gpt2, llama
from .base import Family

#: config.json's ``model_type`` -> its family. One line per family.
FAMILIES: dict[str, Family] = {
    bert.NAME: bert.FAMILY,
    gpt2.NAME: gpt2.FAMILY,
    llama.NAME: llama.FAMILY,
}


def family_named(name: str) -> Family:
    """The family registered under ``name`` (a config's ``family``). KeyError if none."""
    return FAMILIES[name]


def family_of_config(raw: dict, path: str) -> Family:
    """The family config.json (``raw``, parsed) declares with its ``model_type``.
    TutorError naming the file and the families tutor reads when it names another."""
    model_type = raw.get("model_type")
    if model_type not in FAMILIES:
        raise TutorError(f"{path}: model_type {model_type!r} is not supported; tutor reads "
                         f"{' and '.join(repr(t) for t in FAMILIES)} models (BERT, "
                         "MiniLM, GPT-2, llama)")
    return FAMILIES[model_type]


def declared_family(raw: dict) -> Family | None:
    """The family config.json (``raw``) names with ``model_type``, or None (no check)."""
    return FAMILIES.get(raw.get("model_type"))


def tokenizer_family(class_name: str) -> Family | None:
    """The family of transformers' tokenizer class ``class_name``, or None."""
    return next((f for f in FAMILIES.values() if class_name in f.tokenizer_classes), None)


def layout_family(folder) -> Family | None:
    """The family an older vocabulary layout implies (``vocab.txt``: BERT; ``vocab.json``:
    GPT-2), or None."""
    return next((f for f in FAMILIES.values()
                 if any((folder / name).is_file() for name in f.tokenizer_files)), None)


def family_of_file(path) -> Family | None:
    """The family that reads the single model file ``path`` (by its suffix: ``.gguf`` is
    llama), or None."""
    suffix = str(path).lower()
    return next((f for f in FAMILIES.values() if f.read_file is not None
                 and suffix.endswith(f.file_suffixes)), None)
