"""Data shipped inside tutor (in the wheel too), read at run time and never downloaded.

- :mod:`tutor.data.glove`: real word vectors, the 20,000 most frequent words of GloVe 6B with
  50 dimensions (Pennington, Socher and Manning 2014; PDDL-1.0, a public domain dedication).
  Files in ``tutor/data/glove/``, made once by ``scripts/extract_glove.py``.

Importing this package reads no file and imports nothing; each module loads its data on first
use and keeps it.
"""
