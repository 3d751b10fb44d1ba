"""The recorded names are declared once (tutor/walkthroughs/names.py): every walkthrough
records only declared names and every declared name is recorded by some run; the renderers
read only declared names; the lesson files and the lesson views reference only declared
names."""

import re
from pathlib import Path

import numpy as np
import pytest

from tutor.lessons.compute import REGISTRY, SIGNATURES, parse_reference, run_computation
from tutor.lessons.course import load_course
from tutor.nn.model import Transformer
from tutor.render import multihead, norm as norm_render, posenc as posenc_render, \
    scaling as scaling_render, softmax as softmax_render, stack as stack_render
from tutor.render.attention import attention_document
from tutor.render.backward import backward_document
from tutor.render.training import scaling_training_document
from tutor.walkthroughs import attention, backward, names, norm, posenc, softmax, stack, training
from tutor.walkthroughs import feed_forward

DATA = Path(__file__).resolve().parent / "data"
EYE = np.eye(4)
X = np.array([[1.0, 0, 1, 0], [0, 1, 0, 1], [1, 1, 1, 1]])                # THE, CAT, SAT
TOKENS = ["the", "cat", "sat"]


class ReadLog:
    """A trace that remembers every name read from it (by index, ``in`` or iteration)."""

    def __init__(self, trace):
        self._trace, self.read = trace, set()

    def __getitem__(self, name):
        self.read.add(name)
        return self._trace[name]

    def __contains__(self, name):
        self.read.add(name)
        return name in self._trace

    def __iter__(self):
        names_ = list(self._trace)
        self.read.update(names_)
        return iter(names_)

    @property
    def steps(self):
        self.read.update(self._trace.steps)
        return self._trace.steps


def _models():
    return [Transformer.random(4, 2, 2, 2, 8, seed=0, norm_first=first) for first in (False, True)]


def _attention(heads=1, **options):
    w_o = EYE if heads > 1 or options.get("multi_head_form") else None
    recording = attention.self_attention(TOKENS, X, EYE, EYE, EYE, w_o, heads=heads, **options)
    return recording, lambda t: attention_document(t, TOKENS, **recording.info)


def _backward(**options):
    recording = backward.backpropagation(TOKENS, X, EYE, EYE, EYE, **options)
    return recording, lambda t: backward_document(t, TOKENS, **recording.info)


def _scaling_training():
    recording = training.scaling_training([8, 16], d_model=16, steps=25)
    return recording, lambda t: scaling_training_document(t, **recording.info)


def _multihead(heads):
    recording = attention.self_attention(TOKENS, X, EYE, EYE, EYE, EYE, heads=heads,
                                         multi_head_form=True)
    return recording, lambda t: multihead.multihead_document(
        t, TOKENS, precision=2, heads=heads, sources=["notes"] * 3, weight_kinds={})


def _word_order():
    sentences = [["lion", "kills", "tiger"], ["tiger", "kills", "lion"]]
    recording = attention.word_order(sentences, [X, X[[2, 1, 0]]])
    return recording, lambda t: posenc_render.compare_document(
        t, sentences, precision=2, same_without=True, same_with=False)


def _table(**options):
    recording = posenc.positional_table(6, 4, **options)
    return recording, lambda t: posenc_render.posenc_document(
        t, kind=recording.info["kind"], d=4, n=6, precision=2,
        tokens=TOKENS if options.get("x") is not None else None, source="")


def _norms():
    g, b = np.ones(4), np.zeros(4)
    one = norm.layer_norm_steps(np.arange(4.0), g, b, 1e-5)
    batch = norm.batch_beside_layer_norm(np.arange(8.0).reshape(2, 4), g, b, 1e-5)
    added = norm.add_and_norm(np.arange(4.0), np.ones(4), g, b, 1e-5)
    return [(one, lambda t: norm_render.layernorm_document(t, precision=2, eps=1e-5,
                                                            residual=False, has_affine=False)),
            (batch, lambda t: norm_render.batch_document(t, precision=2, eps=1e-5)),
            (added, lambda t: norm_render.layernorm_document(t, precision=2, eps=1e-5,
                                                              residual=True, has_affine=True))]


def _toy_model_heads():
    from tutor.training.shipped import load_shipped_model
    from tutor.walkthroughs.heads import toy_model_heads

    from tutor.render.pretrained import toy_heads_document

    from tutor.render.pretrained import model_head_document
    from tutor.walkthroughs.heads import toy_model_head

    reverse = load_shipped_model("reverse")
    heads = toy_model_heads(reverse, "3141")
    runs = [(heads, lambda t, r=heads: toy_heads_document(t, precision=2, info=r.info))]
    for block in ("encoder", "decoder"):                          # mask, masked: decoder only
        head = toy_model_head(reverse, "3141", 1, 1, block)
        runs.append((head, lambda t, r=head: model_head_document(t, r.tokens, precision=2,
                                                                  info=r.info)))
    return runs


def _stacks():
    runs = []
    for model in _models():
        c = model.config
        for detail in ("summary", "full"):
            for kwargs, labels in (({"tokens": TOKENS}, True),
                                   ({"vectors": np.ones((2, 3, 4))}, False)):
                recording = stack.encode(model, **kwargs)
                runs.append((recording, lambda t, r=recording, d=detail, s=labels, c=c:
                             stack_render.encode_document(
                                 t, r.tokens, precision=2, n_layers=c.num_encoder_layers,
                                 norm_first=c.norm_first, detail=d, sentence=s,
                                 settings={"d_model": 4, "heads": 2})))
            for kwargs in ({"src_tokens": TOKENS, "tgt_tokens": ["le", "chat"]},
                           {"src_vectors": np.ones((3, 4)), "tgt_vectors": np.ones((2, 4)),
                            "causal": True},
                           {"src_vectors": np.ones((3, 4)), "tgt_vectors": np.ones((2, 4))}):
                recording = stack.transform(model, **kwargs)
                info = recording.info
                runs.append((recording, lambda t, i=info, d=detail, c=c, s="src_tokens" in kwargs:
                             stack_render.transformer_document(
                                 t, i["src_labels"], i["tgt_labels"], precision=2,
                                 n_enc=c.num_encoder_layers, n_dec=c.num_decoder_layers,
                                 norm_first=c.norm_first, detail=d, sentence=s,
                                 causal=i["causal"], vocab=i["vocab"],
                                 settings={"d_model": 4, "heads": 2})))
        runs.append((stack.norms_in_encoder_layer(model, TOKENS), None))
    return runs


def _feed_forward():
    w1, b1 = np.ones((8, 4)) / 10, np.zeros(8)
    w2, b2 = np.ones((4, 8)) / 10, np.zeros(4)
    return [(feed_forward.position_wise(TOKENS, X, w1, b1, w2, b2, activation), None)
            for activation in ("gelu", "relu")]


def _generation():
    """Greedy with the cache explained, no cache, sampling, beam search, and a decoder-only
    model (a GPT-2 stand-in with the tiny test model)."""
    from pathlib import Path

    from tutor.nn import Seq2Seq
    from tutor.pretrained import load_model
    from tutor.render.generation import generation_document
    from tutor.walkthroughs.generation import generate

    model = Seq2Seq.random(9, 8, 2, 2, 16, seed=0)
    gpt2 = load_model(Path(__file__).resolve().parent / "data" / "hf_tiny_gpt2", dtype=np.float64)
    src = np.array([3, 4, 5])
    runs = [generate(model, src, token_text=str, max_new_tokens=3, bos_id=0, eos_id=1, **options)
            for options in ({"explain_cache": True, "repeats": 1}, {"use_cache": False},
                            {"temperature": 0.7, "top_k": 3, "top_p": 0.9, "seed": 0},
                            {"beam": 2})]
    runs.append(generate(gpt2, [5, 6], token_text=str, max_new_tokens=2))
    return [(rec, lambda t, r=rec: generation_document(
        t, r.info, precision=2, model_name="m", source_labels=r.tokens)) for rec in runs]


def _pretrained():
    """The real-model walkthroughs on the tiny BERT and GPT-2 folders (skipped without the
    models extra: then they are not run and their names are not checked)."""
    try:
        from tutor.pretrained import load_pretrained
        from tutor.render import pretrained as pretrained_render
        from tutor.walkthroughs import pretrained
        bert, gpt2 = (load_pretrained(DATA / name) for name in ("hf_tiny_bert", "hf_tiny_gpt2"))
    except Exception:                                                  # no tokenizers/safetensors
        return []
    runs = []
    for model in (bert, gpt2):
        head = pretrained.model_head(model, "the cat sat", 1, 2)
        runs.append((head, lambda t, r=head: pretrained_render.model_head_document(
            t, r.tokens, precision=2, info=r.info)))
        heads = pretrained.model_heads(model, "the cat sat")
        runs.append((heads, lambda t, r=heads: pretrained_render.heads_document(
            t, r.tokens, precision=2, info=r.info)))
    context = pretrained.model_context(bert, "the dog sat on the bank", "the bank of the river",
                                       "bank")
    runs.append((context, lambda t, r=context: pretrained_render.context_document(
        t, precision=2, info=r.info)))
    return runs


def _glove():
    """The GloVe walkthroughs (the word-vector lesson)."""
    from tutor.walkthroughs import glove

    return [(glove.similarity_table(["cat", "dog", "car"]), None),
            (glove.nearest_words("cat", 3), None)]


def _learning():
    """The teacher-forced pass of the shipped reverse model (the learning lesson)."""
    from tutor.training import load_shipped_model
    from tutor.walkthroughs import learning

    reverse = load_shipped_model("reverse")
    src, tgt = learning.task_example(reverse, "271")
    return [(learning.teacher_forcing(reverse.model, src, tgt,
                                      token_text=lambda i: reverse.vocab[i]), None)]


def _modern():
    """Today's calculators (rmsnorm, rope on numbers and on words, gqa, the three ffn kinds,
    quantize Q8_0 and Q4_1, flash)."""
    from tutor.render import modern as modern_render
    from tutor.walkthroughs import modern

    rng = np.random.default_rng(0)
    runs = [(modern.rmsnorm_beside_layer_norm(np.arange(1.0, 5), np.ones(4), 1e-5),
             lambda t: modern_render.rmsnorm_document(t, precision=2, eps=1e-5))]
    for tokens in (None, TOKENS):
        q = np.tile(rng.normal(size=4), (3, 1)) if tokens is None else X
        rec = modern.rope_beside_sinusoidal(q, q, tokens=tokens)
        runs.append((rec, lambda t, s=tokens: modern_render.rope_document(
            t, s or [], precision=2, base=10000.0, sentence=s is not None)))
    rec = modern.grouped_query(TOKENS, X, rng.normal(size=(4, 12)), rng.normal(size=(4, 4)),
                               rng.normal(size=(4, 4)), 6, 2)
    runs.append((rec, lambda t: modern_render.gqa_document(t, TOKENS, precision=2, heads=6,
                                                           kv_heads=2)))
    for kind in ("relu", "gelu", "swiglu"):
        rec = modern.gated_feed_forward(TOKENS, X, kind, rng.normal(size=(4, 6)),
                                        rng.normal(size=(6, 4)), rng.normal(size=(4, 6)))
        runs.append((rec, lambda t, k=kind: modern_render.ffn_document(t, TOKENS, precision=2,
                                                                       kind=k)))
    for kind in ("Q8_0", "Q4_1"):
        rec = modern.quantize_block(np.array([0.12, -0.5, 0.9]), kind)
        runs.append((rec, lambda t, k=kind: modern_render.quantize_document(t, precision=2,
                                                                            kind=k)))
    from tutor.gguf import read_gguf
    raw = read_gguf(DATA / "tiny_llama.gguf").raw("blk.0.attn_q.weight")[:20]   # a Q4_1 block
    rec = modern.stored_block(raw, "Q4_1", tensor="blk.0.attn_q.weight", block=1, source="t")
    runs.append((rec, lambda t, r=rec: modern_render.quantize_document(
        t, precision=2, kind="Q4_1", stored=r.info)))
    rec = modern.online_softmax(TOKENS, X, EYE[:, :2], EYE[:, :2], EYE[:, :2], 2)
    runs.append((rec, lambda t: modern_render.flash_document(t, TOKENS, precision=2, block=2)))
    return runs


def all_runs():
    """(walkthrough name, recording, render function or None) for every walkthrough, with
    the options that change what it records."""
    runs = [_attention(), _attention(causal=True, scaled=False),
            _attention(scaled=False, posenc="sinusoidal"),
            _attention(heads=2, causal=True, scaled=False, posenc="sinusoidal"),
            _attention(multi_head_form=True), _multihead(1), _multihead(2), _word_order(),
            _table(), _table(x=X), _table(learned=True, rng=np.random.default_rng(0)),
            (posenc.sinusoidal_beside_learned(4, 4, np.random.default_rng(0)), None),
            *_norms(),
            (softmax.softmax_steps(np.array([6.0, 4.0]), scale=0.5),
             lambda t: softmax_render.softmax_document(t, precision=2, scale=0.5, temperature=1)),
            (softmax.softmax_rows(np.array([[6.0, 4.0]])), None),
            (softmax.scaling([4, 64], np.random.default_rng(0), 20, 4),
             lambda t: scaling_render.scaling_document(t, precision=2, samples=20, keys=4, seed=0)),
            *_stacks(), *_pretrained(), _backward(), _backward(causal=True, scaled=False),
            _backward(posenc="sinusoidal", target=np.ones((3, 4))), _scaling_training(),
            *_feed_forward(), *_generation(), *_toy_model_heads(), *_glove(),
            *_learning(), *_modern()]
    return [(recording.walkthrough, recording, render) for recording, render in runs]


RUNS = all_runs()


def test_every_walkthrough_is_declared_and_run_here():
    run = {name for name, _, _ in RUNS}
    if not any(name.startswith("pretrained.") for name in run):        # no models extra
        run |= {name for name in names.RECORDED if name.startswith("pretrained.")}
    assert run == set(names.RECORDED)


@pytest.mark.parametrize("walkthrough", sorted(names.RECORDED))
def test_a_walkthrough_records_only_declared_names_and_every_declared_name(walkthrough):
    recorded = {n for name, rec, _ in RUNS if name == walkthrough for n in rec.trace}
    undeclared = sorted(n for n in recorded if not names.declared(n, walkthrough))
    assert undeclared == []
    never = [pattern for pattern in names.RECORDED[walkthrough]
             if not any(re.fullmatch(names._pattern(pattern), n) for n in recorded)]
    assert never == []


def test_every_declared_name_has_a_shape_and_a_meaning():
    for name, (shape, meaning) in names.ALL.items():
        assert shape and meaning, name


def test_the_renderers_read_only_declared_names():
    for walkthrough, recording, render in RUNS:
        if render is None:
            continue
        log = ReadLog(recording.trace)
        render(log)
        assert log.read, walkthrough
        undeclared = sorted(n for n in log.read if not names.declared(n, walkthrough))
        assert undeclared == [], walkthrough


def test_lesson_files_and_views_reference_declared_names():
    course = load_course()
    referenced = set()
    for lesson in course.lessons:
        for step in lesson.steps:
            if step.is_question and step.kind != "choice":
                referenced.add(parse_reference(step.answer).name)
    for name in REGISTRY:
        result = run_computation(name, {})
        referenced.update(view.key for view in result.views)
        assert all(names.declared(n) for n in result.trace), name
    assert referenced and sorted(n for n in referenced if not names.declared(n)) == []


def test_a_renamed_name_would_be_caught():
    assert not names.declared("sin.pe")
    assert not names.declared("encoder.layers.0.attn.weights")
    assert names.declared("encoder.layers.11.self_attn.weights")
    assert not names.declared("head0.q", "stack.encode")
