"""Files, dtypes and numbers at the edges: what a user can hand `tutor` must never crash it,
run code from a file, or change the precision behind their back."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tutor.cli import main

GOLDEN = Path(__file__).parent / "golden" / "transformer_1head_1x2.npz"


def run(capsys, *args):
    """(exit code, stdout, stderr) of `tutor ARGS`, through the real error boundary."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def golden(tmp_path, dtype):
    """The PyTorch golden model and inputs written as a user would: weights .npz, vectors .npy."""
    archive = np.load(GOLDEN, allow_pickle=False)
    params = {k[len("param."):]: archive[k].astype(dtype) for k in archive.files
              if k.startswith("param.")}
    np.savez(tmp_path / "weights.npz", **params)
    np.save(tmp_path / "src.npy", archive["in.src"].astype(dtype))
    np.save(tmp_path / "tgt.npy", archive["in.tgt"].astype(dtype))
    return archive


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-4), (np.float64, 1e-9)])
def test_float32_weights_and_vectors_stay_float32(tmp_path, capsys, dtype, tol):
    archive = golden(tmp_path, dtype)
    code, _, err = run(capsys, "transformer", "--weights", str(tmp_path / "weights.npz"),
                       "--heads", "1", "--src-vectors", str(tmp_path / "src.npy"),
                       "--tgt-vectors", str(tmp_path / "tgt.npy"),
                       "--output", str(tmp_path / "out.npy"), "--format", "json")
    assert code == 0, err
    out = np.load(tmp_path / "out.npy")
    assert out.dtype == dtype
    np.testing.assert_allclose(out, archive["out.output"], atol=tol)


def test_vectors_of_another_dtype_than_the_weights_are_a_usage_error(tmp_path, capsys):
    golden(tmp_path, np.float32)
    np.save(tmp_path / "src64.npy", np.load(tmp_path / "src.npy").astype(np.float64))
    code, _, err = run(capsys, "encode", "--weights", str(tmp_path / "weights.npz"), "--heads", "1",
                       "--src-vectors", str(tmp_path / "src64.npy"))
    assert code == 2
    assert err == ("Error: Invalid value for '--src-vectors': expected float32 numbers like "
                   "--weights, got float64; save both in one dtype\n")


def test_a_random_model_follows_float32_vectors(tmp_path, capsys):
    np.save(tmp_path / "src.npy", np.ones((3, 4), dtype=np.float32))
    code, _, err = run(capsys, "encode", "--src-vectors", str(tmp_path / "src.npy"),
                       "--output", str(tmp_path / "out.npy"), "--format", "json")
    assert code == 0, err
    assert np.load(tmp_path / "out.npy").dtype == np.float32


def test_sentences_run_on_float32_weights(tmp_path, capsys):
    golden(tmp_path, np.float32)
    code, out, err = run(capsys, "transformer", "--src", "the cat sat", "--tgt", "le chat",
                         "--weights", str(tmp_path / "weights.npz"), "--heads", "1",
                         "--format", "json")
    assert code == 0, err
    assert json.loads(out)["tokens"]


def test_outputs_never_overwrite_an_input(tmp_path, capsys):
    golden(tmp_path, np.float64)
    src = tmp_path / "src.npy"
    before = src.read_bytes()
    for option, path in (("--output", src), ("--save-weights", tmp_path / "weights.npz")):
        code, _, err = run(capsys, "encode", "--weights", str(tmp_path / "weights.npz"),
                           "--heads", "1", "--src-vectors", str(src), option, str(path))
        assert code == 2
        assert err.startswith(f"Error: Invalid value for '{option}': expected a file other "
                              f"than the command's inputs")
    assert src.read_bytes() == before
    np.save(tmp_path / "wq.npy", np.eye(4))
    code, _, err = run(capsys, "attention", "the cat sat", "--wq", str(tmp_path / "wq.npy"),
                       "--svg", str(tmp_path / "wq.npy"))
    assert code == 2 and "'--svg'" in err
    np.testing.assert_array_equal(np.load(tmp_path / "wq.npy"), np.eye(4))


def test_outputs_are_whole_files_with_normal_permissions(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "attention", "the cat sat", "--svg", "a.svg", "--html", "a.html")
    assert code == 0, err
    assert (tmp_path / "a.svg").read_text().rstrip().endswith("</svg>")
    assert "</html>" in (tmp_path / "a.html").read_text()
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "a.svg").stat().st_mode & 0o777 == 0o666 & ~mask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "a.svg"]   # no temporaries


def test_a_failed_write_leaves_no_partial_file(tmp_path):
    from tutor.files import atomic_write

    target = tmp_path / "out.npy"
    target.write_bytes(b"old")

    def fail(handle):
        handle.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, fail)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.npy"]


@pytest.mark.parametrize("make, fragment", [
    (lambda p: np.savez(p, **{"encoder.norm.weight": np.array([{"a": 1}], dtype=object)}),
     "cannot be read without pickle"),
    (lambda p: p.write_bytes(b"PK\x03\x04 truncated"), "not an .npz file"),
    (lambda p: np.savez(p, x=np.zeros(3)), "missing"),
    (lambda p: p.write_bytes(b""), "not an .npz file"),
])
def test_bad_weight_files_get_one_line_naming_the_file(tmp_path, capsys, make, fragment):
    path = tmp_path / "weights.npz"
    make(path)
    code, _, err = run(capsys, "encode", "the cat", "--weights", str(path), "--heads", "2")
    assert code in (1, 2)
    assert err.count("\n") == 1 and err.startswith("Error: ")
    assert fragment in err
    assert "weights.npz" in err and "--weights" in err


def test_oversized_and_single_array_weight_files_are_refused_before_reading(tmp_path):
    from tutor.errors import TutorError
    from tutor.weightfiles import load_npz

    np.savez(tmp_path / "big.npz", a=np.zeros(1000), b=np.zeros(1000))
    with pytest.raises(TutorError, match=r"big.npz: expected at most 10,000 bytes of arrays, "
                                         r"got 16,\d+"):
        load_npz(tmp_path / "big.npz", max_bytes=10_000)
    assert set(load_npz(tmp_path / "big.npz", max_bytes=20_000)) == {"a", "b"}
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(TutorError, match=r"one.npy: not an .npz file \(not a zip archive\)"):
        load_npz(tmp_path / "one.npy")


@pytest.mark.parametrize("args, message", [
    (["attention", "the cat sat", "--embeddings", "1,0,1,0;0,1,0,1;1,1,1,1e308"],
     "'--embeddings': expected numbers from -1,000,000 to 1,000,000, got 1e+308 in row 3, column 4"),
    (["softmax", "6", "4", "--scale", "1e308"],
     "'--scale': expected a number from -1,000,000 to 1,000,000, got 1e+308"),
    (["softmax", "6", "4", "--temperature", "1e-320"],
     "'--temperature': expected a number from 1e-06 to 1,000,000, got 9.99989e-321"),
    (["layernorm", "1e200,1,2,3"],
     "'VECTOR': expected numbers from -1,000,000 to 1,000,000, got 1e+200 in row 1, column 1"),
])
def test_numbers_too_large_to_compute_with_are_refused(capsys, args, message):
    code, _, err = run(capsys, *args)
    assert code == 2
    assert err == f"Error: Invalid value for {message}\n"


def test_json_nested_too_deeply_is_refused(tmp_path, capsys):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    code, _, err = run(capsys, "attention", "the cat sat", "--wq", str(path))
    assert code == 2 and "nested too deeply to read" in err


@pytest.mark.parametrize("value, code, message", [
    ("", 2, "Error: Invalid value for '--svg': expected a file name, got an empty one\n"),
    ("{tmp}", 2, "Error: Invalid value for '--svg': expected a file name, got the directory '{tmp}'\n"),
    ("/proc/no-such.svg", 1, "Error: --svg /proc/no-such.svg: cannot write it (No such file or "
                             "directory)\n"),
])
def test_output_paths_that_cannot_be_written_are_named(tmp_path, capsys, value, code, message):
    value, message = value.format(tmp=tmp_path), message.format(tmp=tmp_path)
    got, _, err = run(capsys, "attention", "the cat", "--svg", value)
    assert (got, err) == (code, message)


def test_overwriting_an_output_keeps_its_permissions(tmp_path, capsys):
    target = tmp_path / "a.svg"
    target.write_text("<svg>an earlier picture</svg>")
    target.chmod(0o640)
    code, _, err = run(capsys, "attention", "the cat", "--svg", str(target))
    assert code == 0, err
    assert target.read_text().rstrip().endswith("</svg>")
    assert target.stat().st_mode & 0o777 == 0o640


def test_a_random_model_takes_its_width_from_the_vectors(tmp_path, capsys):
    np.save(tmp_path / "v8.npy", np.ones((3, 8)))
    code, out, err = run(capsys, "encode", "--src-vectors", str(tmp_path / "v8.npy"),
                         "--format", "json")
    assert code == 0, err
    assert json.loads(out)["settings"]["d_model"] == 8
    code, _, err = run(capsys, "encode", "--src-vectors", str(tmp_path / "v8.npy"), "--dim", "4")
    assert code == 2 and "expected d_model = 4 columns like the model (--weights or --dim)" in err
