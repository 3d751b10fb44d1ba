"""Where the data that ships with tutor lives."""

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
