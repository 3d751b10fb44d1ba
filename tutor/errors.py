"""The library's own exceptions; the CLI turns them into one-line errors at one boundary.
:func:`printable` escapes a user's or a file's text for a message or a listing."""


class TutorError(Exception):
    """Base class of every error that `tutor` raises on purpose for bad input."""


class ShapeError(TutorError, ValueError):
    """An array has a shape that does not fit where it is used."""


class ParameterError(TutorError, ValueError):
    """A parameter set (state dict) is missing a name, has an extra one, or a wrong shape."""


class DTypeError(TutorError, TypeError):
    """Arrays of different floating dtypes were mixed; `tutor` never converts them silently."""


class UnknownWordError(TutorError, LookupError):
    """Words that a word-vector table does not hold; ``words`` lists every one, as typed."""

    def __init__(self, message: str, words: tuple[str, ...] = ()):
        super().__init__(message)
        self.words = tuple(words)


class SettingError(TutorError, ValueError):
    """A setting (a temperature, top_p, a beam size, ...) is outside the values it can take.
    ``name`` is the parameter's name, so that a front end can name its own option."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name


class FileReadError(TutorError):
    """A file that tutor refuses to read or parse: not a regular file (a FIFO, a device, a
    folder), larger than its kind's byte cap, not UTF-8, not valid JSON/TOML, or nested deeper
    than :data:`tutor.limits.MAX_NESTING`. ``path`` is the file; the message names it."""

    def __init__(self, path, message: str):
        super().__init__(message)
        self.path = str(path)


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: control characters (an escape sequence that
    would clear the screen, a newline, a tab) and bytes that are not UTF-8 (which Python
    keeps as lone surrogates) are written as escapes (``\\x1b``, ``\\n``, ``\\xff``);
    everything else, case included, is kept."""
    out = []
    for char in str(text):
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:                                   # an undecodable byte
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        elif code < 0x20 or 0x7F <= code < 0xA0 or code in (0x2028, 0x2029):
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(char, f"\\x{code:02x}")
                       if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


ECHO_LIMIT = 40            # the characters of a user's input an error message echoes


def quote(text: str, limit: int = ECHO_LIMIT) -> str:
    """A user's text as an error message echoes it: quoted, control characters and bytes
    that are not UTF-8 escaped (:func:`printable`), case kept, and cut at ``limit``
    characters (an ellipsis marks the cut) so that the error stays one line."""
    text = printable(text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"'{text}'"


def number_text(value) -> str:
    """A number as an error message echoes it: as short as ``:g`` when that is exact, else
    with every digit it needs (Python's shortest repr), so a number just past a limit never
    reads as the limit itself (1000001 is '1000001', not '1e+06')."""
    value = float(value)
    text = f"{value:g}"
    if float(text) == value or value != value:
        return text
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text
