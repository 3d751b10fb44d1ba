"""The floors of ARCHITECTURE.md hold: what each package may import, and the walkthroughs are
the only place outside the tests that makes a recording Trace."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tutor"

# package (or module) -> what it must never import
FORBIDDEN = {
    "nn": ("tutor.walkthroughs", "tutor.render", "tutor.cli", "tutor.lessons", "rich", "click"),
    "trace.py": ("tutor.nn", "tutor.walkthroughs", "tutor.render", "tutor.cli", "tutor.lessons",
                 "rich", "click"),
    "limits.py": ("tutor", "numpy", "rich", "click"),
    "walkthroughs": ("tutor.render", "tutor.cli", "tutor.lessons", "rich", "click"),
    "render": ("tutor.nn", "tutor.walkthroughs", "tutor.cli", "tutor.lessons", "click"),
    "lessons": ("tutor.cli", "click"),
    "explore": ("tutor.cli", "tutor.lessons", "click"),
    "pretrained": ("tutor.walkthroughs", "tutor.render", "tutor.cli", "tutor.lessons",
                   "tutor.explore", "rich", "click", "torch", "transformers"),
    "training": ("tutor.walkthroughs", "tutor.render", "tutor.cli", "tutor.lessons",
                 "tutor.explore", "tutor.pretrained", "rich", "click", "torch"),
    "data": ("tutor.walkthroughs", "tutor.render", "tutor.cli", "tutor.lessons",
             "tutor.pretrained", "tutor.training", "rich", "click"),
    # below nn: nn reads and writes its .npz files through it, so it imports no nn (no loop)
    "weightfiles.py": ("tutor.nn", "tutor.walkthroughs", "tutor.render", "tutor.cli",
                       "tutor.lessons", "tutor.pretrained", "tutor.training", "tutor.data",
                       "rich", "click", "torch", "pickle"),
    "gguf.py": ("tutor.walkthroughs", "tutor.render", "tutor.cli", "tutor.lessons",
                "tutor.pretrained", "rich", "click", "torch", "pickle", "gguf"),
}


def _modules(part):
    path = PACKAGE / part
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


def _imports(path: Path):
    """Every module a file imports, relative imports made absolute."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            yield module
            if not node.module:                                       # from . import x
                yield from (f"{module}.{alias.name}" for alias in node.names)


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_a_floor_imports_nothing_above_it(part):
    bad = [(path.name, module) for path in _modules(part) for module in _imports(path)
           if any(module == f or module.startswith(f + ".") for f in FORBIDDEN[part])]
    assert bad == []


def test_only_the_walkthroughs_make_a_recording_trace():
    makers = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "trace.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            called = getattr(node, "func", None)
            if isinstance(node, ast.Call) and getattr(called, "id", getattr(called, "attr", "")) == "Trace":
                makers.append(str(path.relative_to(PACKAGE)))
    # Besides the walkthroughs' recorder, one engine function keeps a private tape that never
    # leaves it: backward reads the recorded forward intermediates (nn/backward.py); it does
    # not orchestrate a topic for a learner. (Decoding keeps attention rows with
    # trace.AttentionWeights, which is not a Trace.)
    assert sorted(makers) == ["nn/backward.py", "nn/backward.py", "walkthroughs/__init__.py"]


def test_the_lessons_import_no_private_name_of_each_other():
    """session.py and check.py use the public names of compute, references and recorded."""
    private = []
    for path in _modules("lessons"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or "tutor" in (node.module or "")):
                private += [f"{path.name}: {a.name}" for a in node.names
                            if a.name.startswith("_") and a.name != "__future__"]
    assert private == []


def _names(path: Path):
    """(line, name) of every identifier in a file's code (strings and comments left out)."""
    import io
    import tokenize

    with io.open(path, encoding="utf-8") as f:
        for tok in tokenize.generate_tokens(f.readline):
            if tok.type == tokenize.NAME:
                yield tok.start[0], tok.string


def test_model_type_is_read_only_by_the_model_families():
    """Which family a model is gets decided in tutor/pretrained/families/ (the records and the
    registry) and nowhere else: no code outside it names ``model_type`` (an info key in a
    string, a message, recorded JSON are data)."""
    families = PACKAGE / "pretrained" / "families"
    readers = [f"{path.relative_to(PACKAGE)}:{line}" for path in PACKAGE.rglob("*.py")
               if families not in path.parents
               for line, name in _names(path) if name == "model_type"]
    assert readers == []


def test_no_code_outside_the_families_compares_a_familys_name():
    """Code outside tutor/pretrained/families/ may show a family's name ("a llama model") but
    never decide by it (``family.name == "llama"``): it reads the record's facts
    (``family.layer_roles``, ``family.norm_name``, ...). The explorer's block screen did."""
    import ast

    families = PACKAGE / "pretrained" / "families"

    def family_name(node) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "name"
                and isinstance(node.value, ast.Attribute) and node.value.attr == "family"
                or isinstance(node, ast.Attribute) and node.attr == "family")

    found = []
    for path in PACKAGE.rglob("*.py"):
        if families in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare) and any(
                    family_name(n) for n in (node.left, *node.comparators)):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert found == []


def test_no_code_asks_a_model_what_it_has():
    """One --model contract (tutor/walkthroughs/models.py): code asks a model's adapter
    (``model.kind``, ``model.blocks``, ``model.writes``), never ``hasattr`` on a model."""
    asking = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "hasattr"
                    and "model" in ast.unparse(node.args[0]).lower()):
                asking.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert asking == []
