"""tutor.cli.encoding: a standard output whose encoding cannot show tutor's symbols (√, ×,
→, block glyphs) gets ASCII stand-ins in every command, instead of UnicodeEncodeError."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tutor.cli import COMMANDS
from tutor.cli.encoding import needs_fallback, stand_in

ROOT = Path(__file__).resolve().parent.parent

# one short run of every command (explore has no terminal here: its error must still print)
RUNS = {
    "attention": ["attention", "the cat"], "multihead": ["multihead", "the cat"],
    "encode": ["encode", "the cat"], "transformer": ["transformer", "--src", "a", "--tgt", "b"],
    "scaling": ["scaling"], "backward": ["backward", "the cat"], "posenc": ["posenc"],
    "heads": ["heads", "31", "--model", "reverse"], "models": ["models"],
    "context": ["context", "the cat sat", "the dog sat", "--word", "the", "--model",
                str(ROOT / "tests" / "data" / "hf_tiny_bert")],
    "generate": ["generate", "12"], "layernorm": ["layernorm", "1,2"],
    "softmax": ["softmax", "6", "4"], "lesson": ["lesson", "list"],
    "train": ["train", "--steps", "1", "--output", "{tmp}/t.npz"],
    "explore": ["explore", "the cat"],
    "rmsnorm": ["rmsnorm", "1,2,3,4"], "rope": ["rope", "--dim", "4", "--positions", "3"],
    "gqa": ["gqa", "the cat", "--heads", "2", "--kv-heads", "1"],
    "ffn": ["ffn", "the cat", "--kind", "swiglu"], "quantize": ["quantize", "0.12,-0.5,0.3"],
    "flash": ["flash", "the cat sat", "--block", "2"],
    "bpe": ["bpe", "the cat", "--model", str(ROOT / "tests" / "data" / "tiny_llama.gguf")],
    "decoder-only": ["decoder-only", "the cat"],
}
ENCODINGS = {"latin-1": {"PYTHONIOENCODING": "latin-1"},
             "C": {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}}


def run(args, env):
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80", **env}
    for name in ("NO_COLOR", "TUTOR_DEBUG", "LANG", "LC_CTYPE"):
        environ.pop(name, None)
    if not environ.get("PYTHONIOENCODING"):
        environ.pop("PYTHONIOENCODING", None)
    return subprocess.run([sys.executable, "-m", "tutor", *args], capture_output=True,
                          stdin=subprocess.DEVNULL, env=environ, timeout=120)


def test_every_command_is_run_here():
    assert set(RUNS) == set(COMMANDS)


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_help_degrades_to_ascii(encoding):
    result = run(["--help"], ENCODINGS[encoding])
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode("latin-1")                            # ASCII is latin-1 too
    assert "Why attention divides by sqrt dk: q" in text               # √ has no latin-1 code
    if encoding == "C":
        assert max(result.stdout) < 128 and "q*k spread" in text


@pytest.mark.parametrize("name", sorted(RUNS))
def test_every_command_degrades_to_ascii_on_an_ascii_output(name, tmp_path):
    args = [a.replace("{tmp}", str(tmp_path)) for a in RUNS[name]]
    result = run(args, ENCODINGS["C"])
    expected = 2 if name == "explore" else 0                           # no terminal here
    assert result.returncode == expected, result.stderr.decode("ascii", "replace")
    assert b"internal error" not in result.stderr
    assert max(result.stdout + result.stderr, default=0) < 128        # ASCII, every byte


def test_latin1_output_keeps_what_latin1_has_and_stands_in_for_the_rest():
    result = run(["softmax", "6", "4"], ENCODINGS["latin-1"])
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode("latin-1")
    assert "Sum e^(shifted)" in text and "<= 0" in text                # Σ, ≤ stood in for
    assert "1×2" in text                                               # × is latin-1: kept


def test_the_stand_ins():
    assert [stand_in(c) for c in "√×→·…█─σé"] == ["sqrt", "x", "->", "*", "...", "#", "-",
                                                  "sigma", "e"]
    assert stand_in("\u4e00") == "?"
    assert "√dk".encode("ascii", "tutor-ascii") == b"sqrt dk"
    assert "√(dk)".encode("ascii", "tutor-ascii") == b"sqrt(dk)"
    assert needs_fallback("ascii") and needs_fallback("latin-1") and not needs_fallback("utf-8")
