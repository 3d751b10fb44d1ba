"""ASCII stand-ins on a standard output that cannot show tutor's symbols.

tutor writes √, ×, →, ·, Greek letters and block glyphs. Where the output's encoding cannot
hold them (``PYTHONIOENCODING=latin-1``, ``LC_ALL=C PYTHONUTF8=0`` gives ASCII), each is
written as an ASCII stand-in (``sqrt``, ``x``, ``->``, ``*``, ``sigma``, ``#``) instead of
ending the command with UnicodeEncodeError: :func:`ascii_fallback`, called once by
:func:`tutor.cli.main`, sets an error handler on standard output and standard error, so
every command, Click's help and Rich's output alike, degrades the same way. Standard
library only.
"""

from __future__ import annotations

import codecs
import sys
import unicodedata

HANDLER = "tutor-ascii"

# what each symbol tutor prints becomes where the output cannot show it
STAND_INS = {
    "√": "sqrt", "×": "x", "·": "*", "÷": "/", "−": "-", "–": "-", "—": "--", "…": "...",
    "→": "->", "←": "<-", "↑": "^", "↓": "v", "⇒": "=>", "≤": "<=", "≥": ">=", "≈": "~=",
    "≠": "!=", "±": "+/-", "∞": "inf", "‖": "||", "⊙": "(.)", "∑": "sum", "Σ": "Sum",
    "ᵀ": "^T", "²": "^2", "³": "^3", "¹": "^1", "½": "1/2", "₀": "0", "ⱼ": "j",
    "σ": "sigma", "μ": "mu", "ε": "eps", "γ": "gamma", "β": "beta", "α": "alpha",
    "Φ": "Phi", "λ": "lambda", "θ": "theta", "τ": "tau", "φ": "phi", "π": "pi", "η": "eta",
    "δ": "delta", "∂": "d", "∇": "grad", "∈": "in", "′": "'", "⌊": "floor(", "⌋": ")",
    "⌈": "ceil(", "⌉": ")", "␣": "_",
    "✓": "ok", "✗": "x", "✎": "*", "▶": ">", "•": "*", "‘": "'", "’": "'", "“": '"',
    "”": '"', "Ġ": "G", "Ċ": "C",
    "█": "#", "▇": "#", "▆": "#", "▅": "=", "▄": "=", "▃": "-", "▂": "_", "▁": "_",
    "─": "-", "━": "-", "│": "|", "┃": "|", "┤": "|", "├": "|", "└": "+", "┘": "+",
    "┌": "+", "┐": "+", "┬": "+", "┴": "+", "┼": "+", "╭": "+", "╮": "+", "╰": "+",
    "╯": "+", "═": "=", "║": "|",
}

BRAILLE_STAND_INS = " .-=#"   # a braille cell with 0, 1, 2, 3, 4+ dots: a line's density kept


def stand_in(char: str) -> str:
    """The ASCII stand-in of one character: the table's, else its letters without accents
    (é -> e), a braille cell its dots' density (' ', '.', '-', '=', '#' for 0, 1, 2, 3, 4 or
    more dots), a Latin-1 symbol without letters its code in hex (© -> <a9>: byte-level BPE
    spells the byte 0xA9 so), else '?'."""
    if char in STAND_INS:
        return STAND_INS[char]
    if "\u2800" <= char <= "\u28ff":           # braille dots (attention as lines): by count
        return BRAILLE_STAND_INS[min(bin(ord(char) - 0x2800).count("1"), 4)]
    plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode("ascii")
    if not plain.strip() and "\u00a1" <= char <= "\u00ff":
        return f"<{ord(char):02x}>"
    return plain or "?"


def _handler(error: UnicodeError):
    """A codec error handler: each character the encoding lacks becomes its stand-in."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start:error.end]
    out = []
    for i, char in enumerate(text, start=error.start):
        replacement = stand_in(char)
        following = error.object[i + 1:i + 2]
        if replacement == "sqrt" and (following.isalnum() or following == "("):
            replacement = "sqrt " if following.isalnum() else "sqrt"   # √dk -> sqrt dk
        try:                                   # the stand-in itself must fit (ASCII always does)
            replacement.encode(error.encoding)
        except (UnicodeError, LookupError):
            replacement = "?"
        out.append(replacement)
    return "".join(out), error.end


codecs.register_error(HANDLER, _handler)


def _ascii_codec(name: str):
    """``tutor-ascii``: ASCII under another name, so that Click, which takes a stream whose
    encoding is named ASCII for a misconfigured one and writes UTF-8 to it instead, keeps
    writing ASCII (with the stand-ins) through it."""
    if name.replace("_", "-") != "tutor-ascii":
        return None
    ascii_codec = codecs.lookup("ascii")
    return codecs.CodecInfo(ascii_codec.encode, ascii_codec.decode, name="tutor-ascii",
                            incrementalencoder=ascii_codec.incrementalencoder,
                            incrementaldecoder=ascii_codec.incrementaldecoder,
                            streamwriter=ascii_codec.streamwriter,
                            streamreader=ascii_codec.streamreader)


codecs.register(_ascii_codec)

SAMPLE = "√×→·…█─σ"                # symbols tutor writes; an output that lacks one degrades


def needs_fallback(encoding: str | None) -> bool:
    """Whether an output in ``encoding`` cannot show tutor's symbols."""
    try:
        SAMPLE.encode(encoding or "ascii")
    except (UnicodeError, LookupError):
        return True
    return False


def ascii_fallback(streams=None) -> None:
    """Give each stream (standard output and error by default) whose encoding lacks tutor's
    symbols the stand-in error handler (an ASCII one is renamed ``tutor-ascii``, see
    :func:`_ascii_codec`). Streams that can show them, or that cannot be reconfigured (a
    test's capture), are left as they are."""
    for stream in (sys.stdout, sys.stderr) if streams is None else streams:
        encoding = getattr(stream, "encoding", None)
        if not needs_fallback(encoding) or not hasattr(stream, "reconfigure"):
            continue
        try:
            if codecs.lookup(encoding or "ascii").name == "ascii":
                stream.reconfigure(encoding="tutor-ascii", errors=HANDLER)
            else:
                stream.reconfigure(errors=HANDLER)
        except (ValueError, OSError, LookupError, AttributeError):
            pass
