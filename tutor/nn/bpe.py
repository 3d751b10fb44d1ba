"""Byte-level BPE (GPT-2's tokenizer, used by SmolLM2, LLaMA 3 and many of today's LLMs),
written out so that every merge can be shown.

Text becomes UTF-8 bytes; each byte is spelled as one printable character
(:func:`bytes_to_unicode`: a space is ``Ġ``, a newline ``Ċ``), so the vocabulary and the
merges are strings. A pre-tokenizer splits the text into pieces first (done by the model's
own ``tokenizers`` pre-tokenizer, see :mod:`tutor.pretrained.bpe`); within each piece
:func:`merge_piece` starts from one symbol per byte and applies the learned merges, the
lowest rank (the earliest learned) first, until no adjacent pair has a rank. Sennrich et al.
2016 (BPE for words); Radford et al. 2019, GPT-2's ``encoder.py`` (bytes, ``bpe``).
Pure Python: strings, not arrays.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's spelling of the 256 byte values as printable characters: the bytes that are
    printable Latin-1 characters (``!``..``~``, ``¡``..``¬``, ``®``..``ÿ``) stand for
    themselves; the other 68 (controls, space, …) are given the characters from U+0100 on,
    in byte order (space, byte 32, becomes ``Ġ`` U+0120). Radford et al. 2019, encoder.py."""
    keep = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
            + list(range(ord("®"), ord("ÿ") + 1)))
    spelling, extra = {}, 0
    for b in range(256):
        if b in keep:
            spelling[b] = chr(b)
        else:
            spelling[b] = chr(256 + extra)
            extra += 1
    return spelling


def byte_level(text: str) -> str:
    """``text`` as UTF-8 bytes, each spelled by :func:`bytes_to_unicode` ("a b" -> "aĠb")."""
    table = bytes_to_unicode()
    return "".join(table[b] for b in text.encode("utf-8"))


def merge_piece(piece: str, ranks: dict[tuple[str, str], int], *, vocab=None,
                ignore_merges: bool = False):
    """BPE on one pre-tokenized piece (in byte-level spelling): start from its characters and
    merge, again and again, the adjacent pair with the lowest rank in ``ranks`` ((left,
    right) -> rank, 0 the first merge learned), the leftmost where that pair occurs twice,
    until no adjacent pair has a rank. With ``ignore_merges`` (Llama 3's tokenizer) a piece
    that is itself in ``vocab`` is one token without merging.

    Returns (symbols, steps): the final symbols [k] and one step per merge, ``(position,
    rank, left, right, symbols after)`` with position the index of ``left`` before the
    merge. Equal to GPT-2's ``bpe`` (which merges every occurrence of the pair at once,
    left to right) and to Hugging Face tokenizers' BPE model."""
    if ignore_merges and vocab is not None and piece in vocab:
        return [piece], []
    symbols = list(piece)
    steps = []
    while len(symbols) > 1:
        best, at = None, -1
        for i in range(len(symbols) - 1):
            rank = ranks.get((symbols[i], symbols[i + 1]))
            if rank is not None and (best is None or rank < best):
                best, at = rank, i
        if best is None:
            break
        left, right = symbols[at], symbols[at + 1]
        symbols = symbols[:at] + [left + right] + symbols[at + 2:]
        steps.append((at, best, left, right, list(symbols)))
    return symbols, steps
