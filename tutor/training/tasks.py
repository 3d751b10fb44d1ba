"""The toy tasks: ``reverse``, ``copy`` and ``sort`` on sequences of 1 to 8 digits.

The vocabulary is fixed (13 tokens)::

    id  0      1      2      3 .. 12
        <pad>  <bos>  <eos>  the digits 0 .. 9   (digit d is id d + 3)

The source is the digits, padded on the right with ``<pad>`` to the longest sequence of the
batch; the target is ``<bos>``, the answer's digits, ``<eos>``, padded the same way. The model
is trained with teacher forcing (the decoder reads ``tgt[:, :-1]`` and is scored on
``tgt[:, 1:]``, padding ignored) and decoded greedily from ``<bos>``.

Held-out sequences. Every digit sequence has an index: the sequences of length n are numbered
after all shorter ones, ``index = (10**n - 1) // 9 + int(digits)`` (so ``"0"`` is 1, ``"9"`` is
10, ``"00"`` is 11, ...). A sequence is *held out* when Knuth's multiplicative hash of its index,
``(index * 2654435761) mod 2**32``, falls in the lowest 1/16 of the range (``< 2**28``): 7 of
the 100 sequences of length 2, about 6.25% of every longer length, and none of length 1 (so
the held-out sets have lengths 2 to 8). Training batches never contain a held-out
sequence (one that is drawn is drawn again); evaluation uses held-out sequences only, so the
accuracy measures generalisation, not memory. The rule depends only on the digits, so it is the
same for every task, seed and run.
"""

from __future__ import annotations

import numpy as np

from ..errors import TutorError

PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
DIGIT_OFFSET = 3
VOCAB: tuple[str, ...] = ("<pad>", "<bos>", "<eos>") + tuple(str(d) for d in range(10))
VOCAB_SIZE = len(VOCAB)                                               # 13
MIN_LENGTH, MAX_LENGTH = 1, 8
DIGIT_TASKS = ("reverse", "copy", "sort")
TASKS = DIGIT_TASKS + ("dates",)

_HASH_MULTIPLIER = 2654435761                                          # Knuth, TAOCP vol. 3, 6.4
_HELD_OUT_BELOW = 2 ** 28                                              # 1/16 of 2**32


def check_task(task: str) -> str:
    """The task's name, or TutorError naming the choices."""
    if task not in TASKS:
        raise TutorError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    return task


def vocab(task: str) -> tuple[str, ...]:
    """The task's tokens: :data:`VOCAB` for the digit tasks, :data:`DATES_VOCAB` for dates."""
    return DATES_VOCAB if check_task(task) == "dates" else VOCAB


def vocab_size(task: str) -> int:
    """len(vocab(task)): 13 for the digit tasks, 43 for dates."""
    return len(vocab(task))


def answer_tokens(task: str, src_length: int) -> int:
    """The most tokens greedy decoding writes after ``<bos>`` for a source of ``src_length``
    tokens: the answer's and its ``<eos>`` (n + 1 for the digit tasks, 11 for dates)."""
    return DATE_ANSWER_LENGTH + 1 if check_task(task) == "dates" else src_length + 1


def answer(task: str, digits: np.ndarray) -> np.ndarray:
    """The answer to one digit sequence [n] (ints 0-9): reversed, copied or sorted. [n] -> [n]."""
    check_task(task)
    if task == "dates":
        raise TutorError("the dates task answers text, not digits: see tasks.iso_date")
    if task == "reverse":
        return digits[::-1].copy()
    if task == "sort":
        return np.sort(digits)
    return digits.copy()


def sequence_index(digits: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The index of each sequence (see the module docstring).

    digits: [batch, MAX_LENGTH] ints 0-9 (positions at or past the length are ignored);
    lengths: [batch]. Returns [batch] int64.
    """
    positions = np.arange(digits.shape[1])                             # [MAX_LENGTH]
    valid = positions[None, :] < lengths[:, None]                      # [B, MAX_LENGTH]
    powers = 10 ** np.maximum(lengths[:, None] - 1 - positions[None, :], 0)  # [B, MAX_LENGTH]
    value = np.where(valid, digits * powers, 0).sum(axis=1)           # [B] int(digits)
    return (10 ** lengths.astype(np.int64) - 1) // 9 + value          # [B]


def is_held_out(digits: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Whether each sequence belongs to the held-out set: [batch, MAX_LENGTH], [batch] -> [batch] bool."""
    index = sequence_index(np.asarray(digits, dtype=np.int64), np.asarray(lengths, dtype=np.int64))
    hashed = (index * _HASH_MULTIPLIER) % 2 ** 32                      # [B]; < 2**31 * 2**32 fits int64
    return hashed < _HELD_OUT_BELOW


def sample_digits(rng: np.random.Generator, batch: int, *, held_out: bool = False):
    """``batch`` random sequences, all from the training set (or all held out).

    The length is uniform on 1..8, then every digit uniform on 0..9; a sequence on the wrong
    side of the split is replaced by a new draw. Returns (digits [batch, MAX_LENGTH] int64,
    zero past each length; lengths [batch] int64).
    """
    digits = np.zeros((batch, MAX_LENGTH), dtype=np.int64)            # [B, 8]
    lengths = np.zeros(batch, dtype=np.int64)                          # [B]
    todo = np.arange(batch)
    while todo.size:
        new_lengths = rng.integers(MIN_LENGTH, MAX_LENGTH + 1, size=todo.size)  # [n]
        new_digits = rng.integers(0, 10, size=(todo.size, MAX_LENGTH))          # [n, 8]
        new_digits[np.arange(MAX_LENGTH)[None, :] >= new_lengths[:, None]] = 0
        digits[todo], lengths[todo] = new_digits, new_lengths
        todo = todo[is_held_out(new_digits, new_lengths) != held_out]
    return digits, lengths


def make_batch(task: str, digits: np.ndarray, lengths: np.ndarray):
    """Token ids for a batch of digit sequences, padded to the longest one.

    Returns (src_ids [batch, n_max] — the digits then ``<pad>``;
    tgt_ids [batch, n_max + 2] — ``<bos>``, the answer, ``<eos>``, then ``<pad>``).
    """
    check_task(task)
    batch = len(lengths)
    n_max = int(lengths.max())
    src_ids = np.full((batch, n_max), PAD_ID, dtype=np.int64)          # [B, n]
    tgt_ids = np.full((batch, n_max + 2), PAD_ID, dtype=np.int64)      # [B, n + 2]
    tgt_ids[:, 0] = BOS_ID
    for row, (seq, n) in enumerate(zip(digits, lengths)):
        seq = seq[:n]
        src_ids[row, :n] = seq + DIGIT_OFFSET
        tgt_ids[row, 1:n + 1] = answer(task, seq) + DIGIT_OFFSET
        tgt_ids[row, n + 1] = EOS_ID
    return src_ids, tgt_ids


def training_batch(task: str, rng: np.random.Generator, batch_size: int):
    """A batch of training sequences (never held out): (src_ids, tgt_ids), see :func:`make_batch`
    (:func:`make_date_batch` for dates)."""
    if check_task(task) == "dates":
        return make_date_batch(*sample_dates(rng, batch_size))
    return make_batch(task, *sample_digits(rng, batch_size))


def held_out_set(task: str, size: int, *, seed: int = 0):
    """``size`` held-out sequences, the same for a given seed whatever the training run:
    (src_ids [size, n_max], tgt_ids [size, n_max + 2]; for dates [size, n_max], [size, 12])."""
    rng = np.random.default_rng([seed, 0x4E1D])                        # a stream of its own
    if check_task(task) == "dates":
        return make_date_batch(*sample_dates(rng, size, held_out=True))
    return make_batch(task, *sample_digits(rng, size, held_out=True))


def encode_digits(text: str) -> np.ndarray:
    """"3141" -> source ids [4]; TutorError if it is not 1 to 8 digits."""
    text = text.strip()
    if not (MIN_LENGTH <= len(text) <= MAX_LENGTH and text.isdigit() and text.isascii()):
        raise TutorError(f"expected {MIN_LENGTH} to {MAX_LENGTH} digits, got {text!r}")
    return np.array([int(c) + DIGIT_OFFSET for c in text], dtype=np.int64)


def decode_ids(ids, task: str = "reverse") -> str:
    """Token ids -> text: digits and characters as they are, special tokens by name
    ("<bos>3 1<eos>" -> '<bos>31<eos>')."""
    tokens = vocab(task)
    return "".join(tokens[int(i)] if 0 <= int(i) < len(tokens) else "?" for i in ids)


# -- dates: human-written dates to ISO 8601 -------------------------------------------------
#
# One token per character, for the source and the target alike: a character vocabulary is 43
# tokens where words would need every day ("7", "07", "7th") and year as tokens of their own;
# it lets the model read "7th", "07" and "7" with the same digit tokens and copy a year it
# never saw; and the target, an ISO date, is digits and '-' anyway. The source is case-folded
# ("December" -> "december"). The first 13 ids are those of the digit tasks.

#: the dates task's tokens: the 13 of :data:`VOCAB`, '-', then the source's other characters
DATES_VOCAB: tuple[str, ...] = VOCAB + ("-", " ", ",", ".") + tuple("abcdefghijklmnopqrstuvwxyz")
_DATE_IDS = {token: i for i, token in enumerate(DATES_VOCAB) if len(token) == 1}
DATE_ANSWER_LENGTH = 10                                                # "2026-12-07"
MAX_DATE_CHARS = 32                                                    # the longest text read
#: the dates the task covers, as proleptic Gregorian ordinals (datetime.date.toordinal)
FIRST_DATE, LAST_DATE = 693596, 766644                                 # 1900-01-01, 2099-12-31
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
#: how a date is written; {d} the day, {dd} two digits, {dth} "7th", {m} "12" as two digits,
#: {month} the month's name, {mon} its first three letters, {y} the year
DATE_FORMATS = ("{d} {month} {y}", "{mon} {d}, {y}", "the {dth} of {month} {y}",
                "{dd}.{m}.{y}", "{month} {d}, {y}", "{d} {mon} {y}")


def show_token(token: str) -> str:
    """A token as a label: a space is "␣", every other token itself."""
    return "␣" if token == " " else token


def ordinal_suffix(day: int) -> str:
    """"st", "nd", "rd" or "th": 1st, 2nd, 3rd, 4th ... 11th, 12th, 13th ... 21st, 22nd, 31st."""
    if 11 <= day % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def write_date(ordinal: int, style: int) -> str:
    """The date of ``ordinal`` written in DATE_FORMATS[style]: write_date(739957, 0) ->
    '7 December 2026'."""
    import datetime

    date = datetime.date.fromordinal(int(ordinal))
    month = MONTHS[date.month - 1]
    return DATE_FORMATS[style].format(d=date.day, dd=f"{date.day:02d}",
                                      dth=f"{date.day}{ordinal_suffix(date.day)}",
                                      m=f"{date.month:02d}", month=month, mon=month[:3],
                                      y=date.year)


def iso_date(ordinal: int) -> str:
    """The ISO 8601 date of a proleptic Gregorian ordinal: 739957 -> '2026-12-07'."""
    import datetime

    return datetime.date.fromordinal(int(ordinal)).isoformat()


def date_is_held_out(ordinals) -> np.ndarray:
    """Whether each date is held out: Knuth's multiplicative hash of its ordinal in the lowest
    1/16 of 2**32, as for the digit sequences. By date, not by format: a held-out date is
    never trained on in any of its writings. [batch] -> [batch] bool."""
    hashed = (np.asarray(ordinals, dtype=np.int64) * _HASH_MULTIPLIER) % 2 ** 32
    return hashed < _HELD_OUT_BELOW


def sample_dates(rng: np.random.Generator, batch: int, *, held_out: bool = False):
    """``batch`` random dates, all from the training set (or all held out), each with a
    format: the date uniform on 1900-01-01 .. 2099-12-31, the format uniform on DATE_FORMATS.
    Returns (ordinals [batch] int64, styles [batch] int64)."""
    ordinals = np.zeros(batch, dtype=np.int64)
    todo = np.arange(batch)
    while todo.size:
        ordinals[todo] = rng.integers(FIRST_DATE, LAST_DATE + 1, size=todo.size)
        todo = todo[date_is_held_out(ordinals[todo]) != held_out]
    styles = rng.integers(0, len(DATE_FORMATS), size=batch)
    return ordinals, styles


def encode_date_text(text: str) -> np.ndarray:
    """A written date -> source ids [n], one per character, case-folded, spaces collapsed.
    TutorError naming the limit for an empty text, more than MAX_DATE_CHARS characters, or a
    character outside the task's (letters a-z, digits, space, ',' and '.')."""
    folded = " ".join(text.split()).lower()
    if not 1 <= len(folded) <= MAX_DATE_CHARS:
        raise TutorError(f"expected a date of 1 to {MAX_DATE_CHARS} characters, got "
                         f"{len(folded)}")
    bad = sorted({c for c in folded if c not in _DATE_IDS or c == "-"})
    if bad:
        raise TutorError(f"expected letters a-z, digits, spaces, ',' and '.' in a date, got "
                         f"{bad[0]!r}")
    return np.array([_DATE_IDS[c] for c in folded], dtype=np.int64)


def make_date_batch(ordinals, styles):
    """Token ids for a batch of written dates: (src_ids [batch, n_max] — the characters, then
    ``<pad>``; tgt_ids [batch, 12] — ``<bos>``, the ISO date's 10 characters, ``<eos>``)."""
    sources = [encode_date_text(write_date(o, s)) for o, s in zip(ordinals, styles)]
    n_max = max(len(s) for s in sources)
    src_ids = np.full((len(sources), n_max), PAD_ID, dtype=np.int64)   # [B, n]
    tgt_ids = np.empty((len(sources), DATE_ANSWER_LENGTH + 2), dtype=np.int64)  # [B, 12]
    tgt_ids[:, 0], tgt_ids[:, -1] = BOS_ID, EOS_ID
    for row, (source, ordinal) in enumerate(zip(sources, ordinals)):
        src_ids[row, :len(source)] = source
        tgt_ids[row, 1:-1] = [_DATE_IDS[c] for c in iso_date(ordinal)]
    return src_ids, tgt_ids


def _format_pattern(style: int):
    """DATE_FORMATS[style] as a regular expression over the case-folded text, a group per field."""
    import re

    fields = {"d": r"(?P<d>\d{1,2})", "dd": r"(?P<d>\d{2})",
              "dth": r"(?P<d>\d{1,2})(?:st|nd|rd|th)", "m": r"(?P<m>\d{2})",
              "month": r"(?P<month>[a-z]+)", "mon": r"(?P<month>[a-z]+)", "y": r"(?P<y>\d+)"}
    parts = re.split(r"\{(\w+)\}", DATE_FORMATS[style])
    pattern = "".join(fields[p] if i % 2 else re.escape(p) for i, p in enumerate(parts))
    return re.compile(pattern + r"\Z")


def _read_style(style: int, folded: str):
    """(note, iso) for the case-folded ``folded`` read as DATE_FORMATS[style]: (None, ISO
    date) for a date the model learned, (why not, None) otherwise; None when the text does
    not have the format's shape at all."""
    import calendar
    import datetime

    found = _format_pattern(style).match(folded)
    if not found:
        return None
    fields = found.groupdict()
    day, year = int(fields["d"]), int(fields["y"])
    if "m" in fields:
        month = int(fields["m"])
        if not 1 <= month <= 12:
            return f"there is no month {month}: the months are 01 to 12", None
    else:
        word, full = fields["month"], "{month}" in DATE_FORMATS[style]
        known = [m.lower() if full else m[:3].lower() for m in MONTHS]
        if word not in known:
            return (f"{word!r} is not a month the model learned (it learned "
                    f"{'the full names, January' if full else 'the first three letters, Jan'}"
                    f" ... {'December' if full else 'Dec'})"), None
        month = known.index(word) + 1
    if not 1900 <= year <= 2099:
        return f"the model learned the years 1900 to 2099, not {year}", None
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        return f"{MONTHS[month - 1]} {year} has {days} days, so there is no day {day}", None
    date = datetime.date(year, month, day)
    written = write_date(date.toordinal(), style).lower()
    if written != folded:
        return f"the model learned this date written as {written!r}", None
    return None, date.isoformat()


def _read_date(text: str):
    """(note, iso): see :func:`date_note` and :func:`date_answer`."""
    folded = " ".join(text.split()).lower()
    readings = [r for r in (_read_style(s, folded) for s in range(len(DATE_FORMATS))) if r]
    for note, iso in readings:
        if note is None:
            return None, iso
    if readings:                     # the note of a month word last: "7 Dec 2150" is the year
        readings.sort(key=lambda r: "is not a month" in r[0])
        return readings[0][0], None
    return (f"{' '.join(text.split())!r} is not written as a date the model learned: "
            f"\"7 December 2026\", \"Dec 7, 2026\", \"the 7th of December 2026\", "
            f"\"07.12.2026\", \"December 7, 2026\" or \"7 Dec 2026\""), None


def date_note(text: str) -> str | None:
    """None when ``text`` is a real date of 1900-2099 written in one of DATE_FORMATS (what
    the dates model learned); otherwise why not, in a few words, for a note beside the
    model's guess: "February 2026 has 28 days, so there is no day 31" (checked with the
    calendar, leap years included), "'yesterday' is not written as a date the model learned
    (...)", "the model learned the years 1900 to 2099, not 2150"."""
    return _read_date(text)[0]


def date_answer(text: str) -> str | None:
    """The ISO date ``text`` means when :func:`date_note` finds nothing amiss, else None:
    date_answer("the 7th of December 2026") -> '2026-12-07'."""
    return _read_date(text)[1]
