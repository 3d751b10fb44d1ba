"""tutor.cli.encoding: a standard output whose encoding cannot show tutor's symbols (√, ×,
→, block glyphs) gets ASCII stand-ins in every command, instead of UnicodeEncodeError."""

import os
from pathlib import Path

import pytest

from cli_helpers import tutor_batch
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


def environment(env):
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80", **env}
    for name in ("NO_COLOR", "TUTOR_DEBUG", "LANG", "LC_CTYPE"):
        environ.pop(name, None)
    if not environ.get("PYTHONIOENCODING"):
        environ.pop("PYTHONIOENCODING", None)
    return environ


@pytest.fixture(scope="module")
def under(tmp_path_factory):
    """under(encoding, args): (code, out, err) of `tutor ARGS` with the output encoding of
    ENCODINGS[encoding]: every command line of one encoding run in one real process started
    in it (cli_helpers.tutor_batch: the interpreter's own streams), the first time one is
    asked for."""
    tmp = str(tmp_path_factory.mktemp("encoding"))
    lines = {"latin-1": [["--help"], ["softmax", "6", "4"]],
             "C": [["--help"]] + [[a.replace("{tmp}", tmp) for a in RUNS[name]]
                                  for name in sorted(RUNS)]}
    done = {}

    def result(encoding, args):
        args = [a.replace("{tmp}", tmp) for a in args]
        if encoding not in done:
            done[encoding] = tutor_batch(lines[encoding], environment(ENCODINGS[encoding]))
        return done[encoding][lines[encoding].index(args)]
    return result


def test_every_command_is_run_here():
    assert set(RUNS) == set(COMMANDS)


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_help_degrades_to_ascii(under, encoding):
    code, out, err = under(encoding, ["--help"])
    assert code == 0, err
    text = out.decode("latin-1")                                       # ASCII is latin-1 too
    assert "Why attention divides by sqrt dk: q" in text               # √ has no latin-1 code
    if encoding == "C":
        assert max(out) < 128 and "q*k spread" in text


@pytest.mark.parametrize("name", sorted(RUNS))
def test_every_command_degrades_to_ascii_on_an_ascii_output(under, name):
    code, out, err = under("C", RUNS[name])
    expected = 2 if name == "explore" else 0                           # no terminal here
    assert code == expected, err.decode("ascii", "replace")
    assert b"internal error" not in err
    assert max(out + err, default=0) < 128                            # ASCII, every byte


def test_latin1_output_keeps_what_latin1_has_and_stands_in_for_the_rest(under):
    code, out, err = under("latin-1", ["softmax", "6", "4"])
    assert code == 0, err
    text = out.decode("latin-1")
    assert "Sum e^(shifted)" in text and "<= 0" in text                # Σ, ≤ stood in for
    assert "1×2" in text                                               # × is latin-1: kept


def test_the_stand_ins():
    assert [stand_in(c) for c in "√×→·…█─σé"] == ["sqrt", "x", "->", "*", "...", "#", "-",
                                                  "sigma", "e"]
    assert stand_in("\u4e00") == "?"
    assert "√dk".encode("ascii", "tutor-ascii") == b"sqrt dk"
    assert "√(dk)".encode("ascii", "tutor-ascii") == b"sqrt(dk)"
    assert needs_fallback("ascii") and needs_fallback("latin-1") and not needs_fallback("utf-8")


def test_braille_lines_keep_their_density_in_ascii():
    # attention as lines (heads --view lines) draws braille: on an ASCII output each cell
    # becomes a character as dense as its dots, so a thick line still reads thicker
    assert [stand_in(chr(0x2800 + bits)) for bits in (0, 0x01, 0x12, 0x36, 0xFF)] == \
        [" ", ".", "-", "#", "#"]
    assert stand_in("\u2807") == "="                                    # three dots


def test_every_symbol_tutor_writes_has_a_stand_in():
    # an ASCII output showed '?' for the rotation angle φ (rope, lesson 15), the floor and
    # ceiling brackets and x′ (quantize, gqa, lessons 17 and 19), the dates model's space ␣
    # and byte-level BPE's spellings of bytes (© in 'é' = Ã©, now <a9>): every non-ASCII character in
    # tutor's source must degrade to something readable (a user's own text may still give '?')
    found = {}
    for path in sorted((ROOT / "tutor").rglob("*.py")):
        if path.name == "text.py" and path.parent.name == "render":
            continue                                   # LaTeX spellings: never printed as is
        for char in set(path.read_text(encoding="utf-8")):
            if ord(char) > 127 and stand_in(char) == "?" and char != "🙂":  # bpe's example text
                found.setdefault(char, path.relative_to(ROOT).as_posix())
    assert found == {}
    assert [stand_in(c) for c in "φ′⌊⌋⌈⌉␣©¬"] == ["phi", "'", "floor(", ")", "ceil(", ")",
                                                    "_", "<a9>", "<ac>"]
    assert "q = ⌊(x − m) / d + ½⌋".encode("ascii", "tutor-ascii") == \
        b"q = floor((x - m) / d + 1/2)"
