"""Where the data that ships with tutor lives, and how to install what is optional."""

from __future__ import annotations

from pathlib import Path


def lessons_dir() -> Path:
    """The course folder: ``tutor/_lessons`` inside an installed wheel, else the top-level
    ``lessons/`` of the source tree (an editable install or a checkout)."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "_lessons", package.parent / "lessons"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the lessons folder is missing from this installation of tutor")


def models_dir() -> Path:
    """The folder of the shipped toy models, ``tutor/data/models`` (inside the package, so a
    wheel carries it): one ``<name>.npz`` per model, written by ``tutor train``."""
    return Path(__file__).resolve().parent / "data" / "models"


def install_hint(extra: str) -> str:
    """The one command that installs an optional extra of the distribution
    (``pyproject.toml``'s ``[project.optional-dependencies]``): ``install_hint("models")`` is
    ``pip install "transformer-tutor[models]"``."""
    return f'pip install "transformer-tutor[{extra}]"'


#: safetensors and tokenizers: reading Hugging Face model folders
MODELS_EXTRA_HINT = install_hint("models")
#: Textual: ``tutor explore``
EXPLORE_EXTRA_HINT = install_hint("explore")
