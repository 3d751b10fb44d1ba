"""Real pretrained models, offline: Hugging Face folders (BERT / MiniLM, GPT-2; one module per
family in ``families/``) read with
``safetensors`` and ``tokenizers`` (the ``models`` extra) and run by tutor.nn's own layers.

The interface a walkthrough or command uses::

    from tutor.pretrained import load_model, resolve_model, available_models
    model = load_model("minilm")                      # or a folder path, or an HF cache name
    ids, tokens = model.tokenize("the cat sat on the mat")
    out = model.forward(ids, trace=trace)             # out.hidden_states, out.attentions
    w_q, b_q, w_k, b_k, w_v, b_v = model.head_weights(layer=2, head=4)   # from 0

    from tutor.pretrained import head_pattern, contextual_similarity

Names are re-exported lazily: importing this package imports neither NumPy nor tokenizers.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "PretrainedConfig": "config", "read_config": "config", "parse_config": "config",
    "Tokenizer": "tokenizer", "Encoding": "tokenizer",
    "PretrainedModel": "model", "ModelOutput": "model", "HeadWeights": "model",
    "load_pretrained": "model", "bert_embeddings": "families.bert",
    "gpt2_embeddings": "families.gpt2", "Family": "families.base", "FAMILIES": "families",
    "resolve_model": "resolve", "available_models": "resolve", "ModelLocation": "resolve",
    "ALIASES": "resolve", "alias_status": "resolve", "find_alias": "resolve",
    "hf_cache_dir": "resolve", "toy_models_dir": "resolve",
    "head_pattern": "analysis", "head_patterns": "analysis", "HeadPattern": "analysis",
    "PATTERN_THRESHOLD": "analysis", "contextual_similarity": "analysis",
    "ContextComparison": "analysis", "similarity_by_stage": "analysis",
    "word_pieces": "analysis",
}

__all__ = sorted(_EXPORTS) + ["load_model"]


def load_model(name_or_path, *, dtype=None):
    """Resolve ``name_or_path`` (:func:`resolve_model`) and read the Hugging Face folder it
    names (:func:`load_pretrained`; float32 unless ``dtype`` says otherwise). A toy model
    trained by ``tutor train`` (kind "toy" or "trained") is not a Hugging Face folder: it is
    read by :func:`tutor.training.load_model`, and this function raises TutorError."""
    from ..errors import TutorError
    from .model import load_pretrained
    from .resolve import resolve_model

    where = resolve_model(name_or_path)
    if where.seq2seq:
        raise TutorError(f"{where.name} is a toy model trained by tutor train ({where.path}), "
                         "not a Hugging Face model; tutor.training.load_model reads it")
    options = {} if dtype is None else {"dtype": dtype}
    return load_pretrained(where.path, name=where.name, **options)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
