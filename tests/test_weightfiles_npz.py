"""tutor.weightfiles's .npz reader: every member an .npy whose header is checked against the
member's size and the cap before anything is allocated; never a pickle; never a FIFO."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tutor.errors import TutorError
from tutor.weightfiles import load_npz


def _npy_bytes(header: dict, data: bytes) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + data


def _npz(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_arrays_round_trip_with_their_dtype_shape_and_order(tmp_path):
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3),
              "f": np.asfortranarray(np.arange(12, dtype=">f8").reshape(3, 4)),
              "i": np.array(7, dtype=np.int64), "meta.json": np.array('{"x": 1}'),
              "empty": np.zeros((0, 4))}
    np.savez(tmp_path / "a.npz", **arrays)
    np.savez_compressed(tmp_path / "c.npz", **arrays)
    for name in ("a.npz", "c.npz"):
        back = load_npz(tmp_path / name)
        assert sorted(back) == sorted(arrays)
        for key, value in arrays.items():
            assert back[key].dtype == value.dtype and back[key].shape == value.shape
            assert np.array_equal(back[key], value)
        back["a"][0, 0] = 5                                            # writable, as np.load's


def test_a_member_declaring_80_gb_is_refused_before_allocating(tmp_path):
    header = {"descr": "<f8", "fortran_order": False, "shape": (100_000, 100_000)}
    path = _npz(tmp_path / "big.npz", {"x.npy": _npy_bytes(header, b"\0" * 16)})
    start = time.perf_counter()
    with pytest.raises(TutorError, match=r"big.npz: member 'x.npy': the .npy header declares "
                                         r"shape \(100000, 100000\) of float64 "
                                         r"\(80,000,000,000 bytes\) but 16 bytes of data follow"):
        load_npz(path)
    assert time.perf_counter() - start < 1


def test_a_compressed_member_that_would_inflate_past_the_cap_is_refused(tmp_path):
    np.savez_compressed(tmp_path / "bomb.npz", x=np.zeros(2_000_000))   # 16 MB in ~16 KB
    assert os.path.getsize(tmp_path / "bomb.npz") < 100_000
    with pytest.raises(TutorError, match=r"bomb.npz: expected at most 1,000,000 bytes of "
                                         r"arrays, got 16,000,000"):
        load_npz(tmp_path / "bomb.npz", max_bytes=1_000_000)


@pytest.mark.parametrize("members, message", [
    ({"notes.txt": b"hello"}, r"member 'notes.txt' is not an .npy array"),
    ({"x.npy": b"hello, not an array"}, r"member 'x.npy': not an .npy array"),
    ({"x.npy": _npy_bytes({"descr": "|O", "fortran_order": False, "shape": (1,)}, b"\0" * 8)},
     r"member 'x.npy': arrays of dtype object cannot be read without pickle"),
    ({"x.npy": _npy_bytes({"descr": "<f8", "fortran_order": False, "shape": (2,)}, b"\0" * 24)},
     r"declares shape \(2,\) of float64 \(16 bytes\) but 24 bytes of data follow"),
])
def test_members_that_are_not_arrays_of_numbers_are_named(tmp_path, members, message):
    path = _npz(tmp_path / "odd.npz", members)
    with pytest.raises(TutorError, match=message):
        load_npz(path)


def test_a_pickled_object_array_is_refused(tmp_path):
    np.savez(tmp_path / "p.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(TutorError, match="cannot be read without pickle"):
        load_npz(tmp_path / "p.npz")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "pipe.npz")
    script = ("import sys; from tutor.weightfiles import load_npz\n"
              "try: load_npz(sys.argv[1])\nexcept Exception as e: print(e)")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "pipe.npz")],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.stdout.strip() == (f"{tmp_path / 'pipe.npz'}: is a named pipe (FIFO), expected "
                                   f"an .npz file (a regular file)")
