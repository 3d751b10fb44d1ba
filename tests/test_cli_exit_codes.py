"""README's exit-code table, for the kinds of mistake a new user made: usage errors (2) name
the option, errors past the options (1) name the option or file, and an output that cannot be
written is exit 1 "cannot write", never exit 3 "internal error"."""

import contextlib
import errno
import io
import os
import stat
import sys

import pytest

from tutor.cli import main


def run(args, stdout=None):
    """(exit code, stderr) of `tutor ARGS` through the real error boundary."""
    err = io.StringIO()
    out = io.StringIO() if stdout is None else stdout
    code = 0
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code or 0
    return code, err.getvalue()


class FullDisk(io.StringIO):
    """A standard output on a full disk, as /dev/full is."""

    def write(self, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self):
        pass


@pytest.mark.parametrize("args", [
    ["attention", "the cat sat"],
    ["softmax", "1", "2", "--format", "json"],
    ["posenc", "--dim", "4", "--format", "markdown"],
    ["models"],
    ["lesson", "list"],
    ["generate", "3 1 4"],
])
def test_a_full_standard_output_is_exit_1_cannot_write(args):
    code, err = run(args, stdout=FullDisk())
    assert code == 1, err
    assert err == "Error: cannot write the output to standard output (No space left on device)\n"


def test_a_full_device_as_svg_is_exit_1_naming_the_option_and_the_device_stays(tmp_path):
    if not os.path.exists("/dev/full") or not stat.S_ISCHR(os.stat("/dev/full").st_mode):
        pytest.skip("no /dev/full here")
    code, err = run(["softmax", "1", "2", "--svg", "/dev/full"])
    assert code == 1
    assert err == "Error: --svg /dev/full: cannot write it (No space left on device)\n"
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)        # written in place, not replaced
    code, err = run(["softmax", "1", "2", "--html", "/dev/null"])
    assert code == 0 and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_an_output_through_a_symlink_keeps_the_link(tmp_path):
    target = tmp_path / "real.svg"
    target.write_text("<svg>an earlier picture</svg>")
    link = tmp_path / "link.svg"
    link.symlink_to(target)
    assert run(["softmax", "1", "2", "--svg", str(link)])[0] == 0
    assert link.is_symlink() and target.read_text().startswith("<svg")


@pytest.mark.parametrize("args, code, start", [
    (["train", "--heads", "3"], 2, "Error: Invalid value for '--heads': expected a number that "
                                   "divides --dim 32 (the default), got 3"),
    (["train", "--lr", "nan"], 2, "Error: Invalid value for '--lr': expected a finite number"),
    (["train", "--resume", "nosuch.npz"], 2, "Error: Invalid value for '--resume': nosuch.npz: "
                                             "no such file"),
    (["generate", "3", "--model", "nosuch"], 2, "Error: Invalid value for '--model': no model "
                                                "named 'nosuch'"),
    (["generate", "3", "--model", ""], 2, "Error: Invalid value for '--model': expected a model "
                                          "name or folder"),
    (["attention", "cat qzxv", "--embeddings", "glove"], 2,
     "Error: Invalid value for '--embeddings': glove: 'qzxv' is not among"),
    (["context", "bank", "bank", "--word", "bank"], 2,
     "Error: Invalid value for 'SENTENCE_B': expected a sentence other than SENTENCE_A"),
])
def test_user_errors_follow_the_exit_code_table(tmp_path, monkeypatch, args, code, start):
    monkeypatch.chdir(tmp_path)
    got, err = run(args)
    assert got == code and err.startswith(start), err
    assert err.count("\n") == 1


def test_a_gpt2_prompt_too_long_names_the_prompt_and_the_limit():
    pytest.importorskip("tokenizers")
    pytest.importorskip("safetensors")
    folder = os.path.join(os.path.dirname(__file__), "data", "hf_tiny_gpt2")
    code, err = run(["generate", "word " * 300, "--model", folder])
    assert code == 2
    assert err.startswith("Error: Invalid value for 'SOURCE': expected a prompt of at most 16 "
                          "tokens (text has 1,500 tokens")


def test_weights_that_are_not_a_weight_file_are_a_usage_error(tmp_path):
    text = tmp_path / "text.npz"
    text.write_text("hello")
    code, err = run(["encode", "the cat", "--weights", str(text), "--heads", "2"])
    assert code == 2 and err.startswith("Error: Invalid value for '--weights': ")


@pytest.mark.parametrize("args, option, message", [
    (["softmax", "1", "--svg", "notes.txt"], "--svg", "expected a file name ending in .svg"),
    (["softmax", "1", "--html", "page.svg"], "--html", "expected a file name ending in .html"),
    (["softmax", "1", "--svg", "a.svg", "--svg", "b.svg"], "--svg", "expected one file, got 2"),
    (["softmax", "1", "--svg", "old.svg"], "--svg",
     "expected a new file or an earlier .svg output, got 'old.svg', which holds something else"),
    (["encode", "the cat", "--save-weights", "m.npy"], "--save-weights",
     "expected a file name ending in .npz"),
    (["encode", "the cat", "--save-weights", "notes.npz"], "--save-weights",
     "expected a new file or an earlier .npz output"),
    (["encode", "the cat", "--output", "out.txt"], "--output", "expected a file name ending in .npy"),
])
def test_no_output_option_writes_over_a_file_of_another_kind(tmp_path, monkeypatch, args, option,
                                                              message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "old.svg").write_text("my notes, not a picture")
    (tmp_path / "notes.npz").write_text("my notes")
    code, err = run(args)
    assert code == 2 and err.startswith(f"Error: Invalid value for '{option}': {message}"), err
    assert (tmp_path / "old.svg").read_text() == "my notes, not a picture"
    assert (tmp_path / "notes.npz").read_text() == "my notes"


def test_svg_and_html_of_one_file_is_a_usage_error(tmp_path):
    page = tmp_path / "page.html"
    link = tmp_path / "picture.svg"
    link.symlink_to(page)
    code, err = run(["softmax", "1", "--svg", str(link), "--html", str(page)])
    assert code == 2 and "Invalid value for '--html': expected a file other than --svg's" in err


def test_version_works_from_a_source_tree_and_matches_pyproject():
    """--version reads tutor.__version__ (not installed metadata, which a source checkout
    lacks: that was exit 3, an internal error)."""
    import re
    from pathlib import Path

    import tutor

    code, err = run(["--version"])
    assert code == 0, err
    pyproject = (Path(__file__).parent.parent / "pyproject.toml").read_text()
    assert re.search(r'^version = "([^"]+)"', pyproject, re.M).group(1) == tutor.__version__


# --- outputs that are named pipes (FIFOs): never a wait for a reader that does not exist -------

def _tutor_process(args, cwd, timeout=20):
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root), "NO_COLOR": "1", "COLUMNS": "80"}
    env.pop("TUTOR_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "tutor", *args], cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)


UNREAD = [
    (["softmax", "6", "4", "--svg"], "--svg", "fifo.svg"),
    (["softmax", "6", "4", "--html"], "--html", "fifo.html"),
    (["encode", "a b", "--output"], "--output", "fifo.npy"),
    (["encode", "a b", "--save-weights"], "--save-weights", "fifo.npz"),
]
TRAIN_INTO_FIFO = ["train", "--steps", "3", "--output", "fifo.npz", "--force"]
WRONG_ENDINGS = [("--svg", "fifo.json"), ("--html", "fifo.csv")]


@pytest.fixture(scope="module")
def fifo_runs(tmp_path_factory):
    """(code, stdout, stderr) of each command line writing to a named pipe that no process
    reads (fifo.svg, ... in one folder): all of them in one real process (cli_helpers.
    tutor_batch) that must end within 60 s, a hang failing them all."""
    from pathlib import Path

    from cli_helpers import tutor_batch

    folder = tmp_path_factory.mktemp("fifos")
    for name in ("fifo.svg", "fifo.html", "fifo.npy", "fifo.npz", "fifo.json", "fifo.csv"):
        os.mkfifo(folder / name)
    lines = [[*args, name] for args, _, name in UNREAD] + [TRAIN_INTO_FIFO] + \
        [["softmax", "6", "4", option, name] for option, name in WRONG_ENDINGS]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
           "NO_COLOR": "1", "COLUMNS": "80"}
    env.pop("TUTOR_DEBUG", None)
    results = tutor_batch(lines, env, cwd=folder, timeout=60)
    return lambda *args: results[lines.index(list(args))]


@pytest.mark.parametrize("args, option, name", UNREAD)
def test_an_output_fifo_that_no_process_reads_is_a_usage_error_not_a_hang(fifo_runs, args, option,
                                                                         name):
    code, out, err = fifo_runs(*args, name)
    assert code == 2, err
    assert err.decode() == (f"Error: Invalid value for '{option}': expected a file, or "
                            f"a named pipe that a process reads, got '{name}', a named "
                            f"pipe (FIFO) that no process reads\n")


def test_train_refuses_a_fifo_as_its_checkpoint_before_training(fifo_runs):
    code, out, err = fifo_runs(*TRAIN_INTO_FIFO)
    assert code == 2 and out == b""                                    # nothing trained
    assert b"'--output': expected a regular file" in err


@pytest.mark.parametrize("option, name", WRONG_ENDINGS)
def test_the_file_name_ending_is_checked_for_a_fifo_too(fifo_runs, option, name):
    # only a character device (/dev/null, /dev/stdout on a terminal) is exempt
    code, out, err = fifo_runs("softmax", "6", "4", option, name)
    assert code == 2
    assert b"expected a file name ending in ." in err


def test_an_output_fifo_with_a_reader_gets_the_picture(tmp_path):
    import threading

    fifo = tmp_path / "fifo.svg"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    result = _tutor_process(["softmax", "6", "4", "--svg", "fifo.svg"], tmp_path)
    reader.join(30)
    assert result.returncode == 0, result.stderr
    assert got and got[0].startswith(b"<svg")
