"""The shipped GloVe vectors compared (``walkthroughs.glove``): how alike a few words'
vectors are, and the nearest words to one word, built from what was recorded. Nothing here
computes."""

from __future__ import annotations

from .builder import DocumentBuilder
from .document import Document

ABOUT_GLOVE = ("GloVe 6B, 50 numbers per word, learned from which words occur near which in "
               "6 billion words of Wikipedia and news text (Pennington et al. 2014).")


def similarity_labels(recording) -> list[str]:
    """The words of ``similarity_table``, as its rows and columns are labelled."""
    return [t.lower() for t in recording.tokens]


def similarity_document(recording, *, precision: int = 2) -> Document:
    """``similarity_table``: cos(a, b) for every pair of the words as a heatmap, with the
    lengths |a| beside it (step ``cosine``)."""
    w = DocumentBuilder(recording.trace, precision)
    labels = similarity_labels(recording)
    w.matrices_step("cosine", w.first_matrix(
        "cos(row word, column word)", "cos.cosine", labels, labels, heat=True,
        caption="1 = same direction, 0 = unrelated, -1 = opposite"),
        w.first_matrix("|vector|", "cos.norm_a", labels, ["length"]))
    return w.document("glove-similarity", "glove-similarity", [], {}, notes=[ABOUT_GLOVE])


def nearest_labels(recording) -> list[str]:
    """The rows of ``nearest_words``: '1. kitten', '2. ...', best first."""
    return [f"{i + 1}. {w}" for i, w in enumerate(recording.info["neighbours"])]


def nearest_document(recording, *, precision: int = 2) -> Document:
    """``nearest_words``: the k nearest words and their cosine similarity, best first (step
    ``nearest``)."""
    w = DocumentBuilder(recording.trace, precision)
    word, k = recording.info["word"].lower(), len(recording.info["neighbours"])
    w.matrices_step("nearest", w.first_matrix(f"the {k} words nearest '{word}'", "cosine",
                                              nearest_labels(recording), ["cos"]))
    facts = [f"Searched all 20,000 words shipped with tutor by cosine similarity to '{word}'."]
    return w.document("glove-nearest", "glove-nearest", [], {}, notes=facts)
