"""tutor.files: one bounded reader for every file tutor reads (regular files only, a byte
cap per kind, JSON/TOML nesting bounded) and atomic writes that clean up after killed ones."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tutor.errors import FileReadError
from tutor.files import (atomic_write_text, nesting_depth, parse_json, parse_toml, read_bytes,
                         read_json, remove_stale_temporaries, temporary_prefix)
from tutor.limits import MAX_NESTING

ROOT = Path(__file__).resolve().parents[1]
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


def test_a_regular_file_under_its_cap_is_read(tmp_path):
    (tmp_path / "a.json").write_text('{"a": [1, {"b": 2}]}')
    assert read_json(tmp_path / "a.json", 100) == {"a": [1, {"b": 2}]}
    assert read_bytes(tmp_path / "a.json", 20) == b'{"a": [1, {"b": 2}]}'


def test_a_file_above_its_cap_is_refused_naming_file_cap_and_size(tmp_path):
    (tmp_path / "a.json").write_text("x" * 101)
    with pytest.raises(FileReadError, match=rf"^{tmp_path / 'a.json'}: 101 bytes, expected "
                                            rf"settings of at most 100 bytes$"):
        read_bytes(tmp_path / "a.json", 100, "settings")


def test_a_device_is_refused_not_read_until_memory_runs_out(tmp_path):
    (tmp_path / "x.json").symlink_to("/dev/zero")
    with pytest.raises(FileReadError, match=r"x.json: is a device, expected a JSON file "
                                            r"\(a regular file\)"):
        read_json(tmp_path / "x.json", 1000, "a JSON file")


@needs_fifo
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "p.json")
    script = ("import sys; from tutor.files import read_bytes\n"
              "try: read_bytes(sys.argv[1], 100)\nexcept Exception as e: print(e)")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "p.json")],
                          capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.stdout.strip() == f"{tmp_path / 'p.json'}: is a named pipe (FIFO), expected file (a regular file)"


def test_a_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_bytes(tmp_path / "absent", 10)


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000,
                                  '{"a": ' * (MAX_NESTING + 1) + "1" + "}" * (MAX_NESTING + 1)])
def test_json_nested_deeper_than_the_limit_is_refused(text):
    with pytest.raises(FileReadError, match=f"^meta.json: nested more than {MAX_NESTING} "
                                            f"levels deep$"):
        parse_json(text, "meta.json")


def test_json_at_the_limit_is_read():
    text = "[" * MAX_NESTING + "]" * MAX_NESTING
    assert nesting_depth(parse_json(text, "x")) == MAX_NESTING
    assert nesting_depth(1) == 0 and nesting_depth({"a": [1]}) == 2


@pytest.mark.parametrize("text, message", [
    ("a = " + "[" * 100_000 + "]" * 100_000, "nested more than 100 levels deep"),
    ("a = " + "{b = " * 150 + "1" + "}" * 150, "nested more than 100 levels deep"),
    (".".join(["a"] * 100_000) + " = 1", "a dotted key of more than 20 parts"),
    ("[" + ".".join(["a"] * 21) + "]", "a dotted key of more than 20 parts"),
    ('a = "x', "not valid TOML"),
])
def test_toml_nested_too_deeply_or_broken_is_refused_quickly(text, message):
    start = time.perf_counter()
    with pytest.raises(FileReadError, match=f"^lesson.toml: {message}"):
        parse_toml(text, "lesson.toml")
    assert time.perf_counter() - start < 2


def test_toml_dots_in_strings_comments_and_numbers_are_not_keys():
    text = ('a.b."c.d" = "' + "x." * 50 + '" # ' + "y." * 50 + "\n"
            "v = [" + ", ".join(["1.5"] * 50) + "]\n" + "w = '''" + "z." * 50 + "'''\n")
    assert parse_toml(text, "x") == {"a": {"b": {"c.d": "x." * 50}}, "v": [1.5] * 50,
                                     "w": "z." * 50}


def test_invalid_utf8_is_named():
    with pytest.raises(FileReadError, match=r"^c.json: not UTF-8 text \(byte 1\)$"):
        parse_json(b"{\xff}", "c.json")


def test_a_write_removes_stale_temporaries_of_killed_writes_beside_its_target(tmp_path):
    target = tmp_path / "model.npz"
    prefix = temporary_prefix(target)
    assert prefix == ".model.npz."
    stale, fresh = tmp_path / f"{prefix}k1ll3d.tmp", tmp_path / f"{prefix}l1ve.tmp"
    other = tmp_path / ".other.npz.k1ll3d.tmp"                         # another target's
    for path in (stale, fresh, other):
        path.write_text("half")
    old = time.time() - 3600
    for path in (stale, other):
        os.utime(path, (old, old))
    atomic_write_text(target, "whole")
    assert target.read_text() == "whole"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".model.npz.l1ve.tmp", ".other.npz.k1ll3d.tmp", "model.npz"]


def test_only_our_pattern_and_regular_files_are_removed(tmp_path):
    folder = tmp_path / ".x.json.dir.tmp"
    folder.mkdir()
    (tmp_path / ".x.json.a.tmp").write_text("")
    (tmp_path / ".x.jsonX.b.tmp").write_text("")
    old = time.time() - 3600
    for path in tmp_path.iterdir():
        os.utime(path, (old, old))
    removed = remove_stale_temporaries(tmp_path, ".x.json.")
    assert removed == [str(tmp_path / ".x.json.a.tmp")]
    assert folder.is_dir() and (tmp_path / ".x.jsonX.b.tmp").exists()
