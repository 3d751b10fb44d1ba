"""Weight files: .safetensors read after the header is checked, PyTorch pickles refused with the
export that works, one load_weights for .npz and .safetensors (issue 12, items 5-6)."""

from __future__ import annotations

import json
import pickle
import struct
import sys
import time
import zipfile

import numpy as np
import pytest

from tutor.errors import TutorError
from tutor.weightfiles import (load_safetensors, load_weights, read_safetensors_header,
                               sniff_format)

safetensors_numpy = pytest.importorskip("safetensors.numpy")


def write_raw(path, header: dict, data: bytes = b"") -> None:
    """A safetensors file written by hand, so the header can lie."""
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


def test_safetensors_round_trip_keeps_values_and_dtype(tmp_path):
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3),
              "b": np.array([1.5, -2.25], dtype=np.float64)}
    safetensors_numpy.save_file(arrays, str(tmp_path / "w.safetensors"))
    loaded = load_weights(tmp_path / "w.safetensors")
    assert set(loaded) == {"a", "b"}
    for name, value in arrays.items():
        assert loaded[name].dtype == value.dtype
        np.testing.assert_array_equal(loaded[name], value)
    header = read_safetensors_header(tmp_path / "w.safetensors")
    assert header.tensors["a"].shape == (2, 3) and header.tensors["a"].dtype == "F32"
    assert sum(t.nbytes for t in header.tensors.values()) == 6 * 4 + 2 * 8


def test_a_100_gb_claim_is_refused_in_milliseconds(tmp_path):
    n = 25_000_000_000                                                 # 25e9 float32 = 100 GB
    path = tmp_path / "huge.safetensors"
    write_raw(path, {"w": {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]}}, b"\0" * 16)
    start = time.perf_counter()
    with pytest.raises(TutorError, match=r"huge\.safetensors: tensor 'w' claims bytes 0-100,000,000,000"):
        load_weights(path)
    assert time.perf_counter() - start < 0.05


def test_header_length_beyond_the_file_is_refused(tmp_path):
    path = tmp_path / "short.safetensors"
    path.write_bytes(struct.pack("<Q", 10**12) + b"{}")
    with pytest.raises(TutorError, match="header claims 1,000,000,000,000 bytes but the file holds 2"):
        read_safetensors_header(path)


@pytest.mark.parametrize("entry, message", [
    ({"dtype": "F99", "shape": [1], "data_offsets": [0, 4]}, "unknown dtype 'F99'"),
    ({"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}, "shape must be a list"),
    ({"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}, r"shape \(2,\) of F32 needs 8 bytes, its data_offsets give 4"),
    ({"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}, "data_offsets must be"),
])
def test_bad_entries_are_named(tmp_path, entry, message):
    path = tmp_path / "bad.safetensors"
    write_raw(path, {"t": entry}, b"\0" * 8)
    with pytest.raises(TutorError, match=message):
        read_safetensors_header(path)


def test_overlapping_and_holey_data_are_refused(tmp_path):
    f32 = lambda begin: {"dtype": "F32", "shape": [1], "data_offsets": [begin, begin + 4]}
    write_raw(tmp_path / "overlap.safetensors", {"a": f32(0), "b": f32(2)}, b"\0" * 6)
    with pytest.raises(TutorError, match="tensor 'b' overlaps the previous one"):
        read_safetensors_header(tmp_path / "overlap.safetensors")
    write_raw(tmp_path / "hole.safetensors", {"a": f32(0), "b": f32(8)}, b"\0" * 12)
    with pytest.raises(TutorError, match="hole before tensor 'b'"):
        read_safetensors_header(tmp_path / "hole.safetensors")
    write_raw(tmp_path / "tail.safetensors", {"a": f32(0)}, b"\0" * 9)
    with pytest.raises(TutorError, match="cover 4 bytes of data but the file holds 9"):
        read_safetensors_header(tmp_path / "tail.safetensors")


def test_max_bytes_refuses_before_reading(tmp_path):
    safetensors_numpy.save_file({"a": np.zeros(100, np.float32)}, str(tmp_path / "w.safetensors"))
    with pytest.raises(TutorError, match="expected at most 100 bytes of tensors, got 400"):
        load_weights(tmp_path / "w.safetensors", max_bytes=100)


def test_bf16_is_refused_by_name(tmp_path):
    path = tmp_path / "bf.safetensors"
    write_raw(path, {"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4)
    with pytest.raises(TutorError, match="tensor 'w' is BF16, which NumPy cannot hold"):
        load_safetensors(path)


def _torch_zip(path, folder="archive"):
    """The layout of torch.save's zip format: <folder>/data.pkl, <folder>/data/0, ..."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{folder}/data.pkl", pickle.dumps({"w": 1}, protocol=2))
        archive.writestr(f"{folder}/data/0", b"\0" * 4)


@pytest.mark.parametrize("name, make", [
    ("m.pt", lambda p: _torch_zip(p, "m")),
    ("pytorch_model.bin", lambda p: _torch_zip(p, "pytorch_model")),
    ("legacy.pth", lambda p: p.write_bytes(pickle.dumps({"w": 1}, protocol=2))),
    ("weights.npz", lambda p: p.write_bytes(pickle.dumps([1, 2], protocol=4))),  # a pickle whatever its name
])
def test_pytorch_pickles_are_refused_with_why_and_the_export(tmp_path, name, make):
    path = tmp_path / name
    make(path)
    with pytest.raises(TutorError) as info:
        load_weights(path)
    message = str(info.value)
    assert message.startswith(f"{path}: is a PyTorch pickle")
    assert "loading a pickle can run any code" in message
    assert "torch.load(" in message and "save_file(" in message
    target = "model.safetensors" if name == "pytorch_model.bin" else name.rsplit(".", 1)[0] + ".safetensors"
    assert f"'{target}'" in message


def test_npz_still_loads_through_load_weights(tmp_path):
    np.savez(tmp_path / "w.npz", a=np.ones((2, 2)))
    assert sniff_format(tmp_path / "w.npz") == "npz"
    np.testing.assert_array_equal(load_weights(tmp_path / "w.npz")["a"], np.ones((2, 2)))


def test_other_files_are_named(tmp_path):
    (tmp_path / "notes.txt").write_text("hello, not weights")
    with pytest.raises(TutorError, match=r"notes\.txt: not a weight file tutor reads: not an .npz file"):
        load_weights(tmp_path / "notes.txt")
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(TutorError, match="single .npy array"):
        load_weights(tmp_path / "one.npy")
    with pytest.raises(TutorError, match="no such file"):
        load_weights(tmp_path / "absent.safetensors")
    with pytest.raises(TutorError, match="is a directory"):
        load_weights(tmp_path)


def test_without_the_package_the_error_names_the_extra(tmp_path, monkeypatch):
    safetensors_numpy.save_file({"a": np.zeros(2, np.float32)}, str(tmp_path / "w.safetensors"))
    monkeypatch.setitem(sys.modules, "safetensors", None)             # import fails
    with pytest.raises(TutorError, match=r'pip install "transformer-tutor\[models\]"'):
        load_weights(tmp_path / "w.safetensors")


def test_transformer_load_reads_safetensors(tmp_path):
    from tutor.nn.model import Transformer

    model = Transformer.random(4, 2, 1, 1, 8, seed=3, dtype=np.float32)
    safetensors_numpy.save_file(model.state_dict(), str(tmp_path / "m.safetensors"))
    again = Transformer.load(tmp_path / "m.safetensors", 2)
    src = np.random.default_rng(0).normal(size=(1, 3, 4)).astype(np.float32)
    tgt = np.random.default_rng(1).normal(size=(1, 2, 4)).astype(np.float32)
    np.testing.assert_array_equal(again.forward(src, tgt), model.forward(src, tgt))


def test_weightfiles_imports_nothing_heavy():
    import subprocess

    code = ("import sys, tutor.weightfiles; "
            "print(sorted(m for m in ('numpy', 'safetensors', 'rich', 'click') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _run_cli(capsys, *args):
    """(exit code, stdout, stderr) of `tutor ARGS`, through the real error boundary."""
    from tutor.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_weights_reads_safetensors_and_refuses_pickles(tmp_path, capsys):
    from tutor.nn.model import Transformer

    model = Transformer.random(4, 2, 1, 1, 8, seed=3)
    safetensors_numpy.save_file(model.state_dict(), str(tmp_path / "m.safetensors"))
    np.savez(tmp_path / "m.npz", **model.state_dict())
    outputs = []
    for name in ("m.safetensors", "m.npz"):
        code, out, err = _run_cli(capsys, "encode", "the cat", "--weights", str(tmp_path / name),
                                  "--heads", "2", "--format", "json")
        assert code == 0, err
        outputs.append(json.loads(out))
    assert outputs[0] == outputs[1]                                    # the same model either way
    _torch_zip(tmp_path / "m.pt", "m")
    code, _, err = _run_cli(capsys, "encode", "the cat", "--weights", str(tmp_path / "m.pt"),
                            "--heads", "2")
    assert code == 2 and err.count("\n") == 1         # an unreadable input file: a usage error
    assert err.startswith(f"Error: Invalid value for '--weights': {tmp_path / 'm.pt'}: is a "
                          f"PyTorch pickle")
    (tmp_path / "text.npz").write_text("not weights")
    code, _, err = _run_cli(capsys, "encode", "the cat", "--weights", str(tmp_path / "text.npz"),
                            "--heads", "2")
    assert code == 2 and err.startswith("Error: Invalid value for '--weights': ")
