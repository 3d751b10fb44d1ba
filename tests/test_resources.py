"""tutor/resources.py is the one home of where shipped data lives and of how to install an
optional extra: the other modules ask it, none computes it again."""

from __future__ import annotations

import re
from pathlib import Path

import tutor
from tutor import resources
from tutor.pretrained.resolve import available_models, resolve_model
from tutor.training.shipped import load_shipped_model, shipped_models

PACKAGE = Path(tutor.__file__).resolve().parent        # the tutor imported: a checkout or installed


def test_the_shipped_models_are_found_in_the_one_folder():
    folder = resources.models_dir()
    assert folder == PACKAGE / "data" / "models"
    names = sorted(p.stem for p in folder.glob("*.npz"))
    assert names == shipped_models() == ["copy", "dates", "reverse", "sort"]
    assert resolve_model("reverse").path == folder / "reverse.npz"
    assert load_shipped_model("copy").path == str(folder / "copy.npz")
    toys = [m.name for m in available_models() if m.kind == "toy"]
    assert toys == names


def test_the_install_hint_is_written_once():
    assert resources.install_hint("models") == 'pip install "transformer-tutor[models]"'
    assert resources.EXPLORE_EXTRA_HINT == 'pip install "transformer-tutor[explore]"'
    typed = [str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
             if re.search(r"transformer-tutor\[", path.read_text(encoding="utf-8"))]
    assert typed == ["resources.py"]


def test_no_module_but_resources_computes_the_data_folder():
    computed = [str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                if '"data" / "models"' in path.read_text(encoding="utf-8")]
    assert computed == ["resources.py"]
