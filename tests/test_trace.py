"""tutor.trace: the recorder, and a recorder kept to one scope (``only``) that leaves the
rest of a forward pass on the fast path."""

from pathlib import Path

import numpy as np

from tutor.pretrained import load_pretrained
from tutor.trace import NULL_TRACE, Trace

DATA = Path(__file__).resolve().parent / "data"


def test_a_trace_kept_to_one_scope_records_only_under_it():
    t = Trace(only="layers.1.")
    assert t.scope("layers").scope("1").enabled
    assert t.scope("layers").scope("10") is NULL_TRACE                 # "layers.10." is not "layers.1."
    assert t.scope("embeddings") is NULL_TRACE
    t.record("logits", np.zeros(2))                                    # outside: dropped
    t.scope("layers").scope("1").record("out", np.ones(3))
    assert list(t) == ["layers.1.out"]
    np.testing.assert_array_equal(t["layers.1.out"], np.ones(3))


def test_a_forward_pass_kept_to_one_layer_records_that_layer_as_the_whole_trace_does():
    model = load_pretrained(DATA / "hf_tiny_gpt2")
    ids = np.asarray(model.encode("the cat sat").ids)
    whole, one = Trace(), Trace(only="layers.1.")
    model.forward(ids, output_attentions=False, trace=whole)
    model.forward(ids, output_attentions=False, trace=one)
    layer = [name for name in whole if name.startswith("layers.1.")]
    assert list(one) == layer and len(layer) > 20
    for name in layer:
        np.testing.assert_allclose(one[name], whole[name], rtol=1e-5, atol=1e-6, err_msg=name)
