"""`tutor backward`: backpropagation through one attention head, step by step -- the six
forward steps, a loss against a target, every gradient back to Wq, Wk, Wv and X, and one
step of gradient descent. Thin: parse the inputs (as `tutor attention` does), run the
walkthrough, render what it recorded, show it."""

from __future__ import annotations

import click

from tutor.limits import MAX_DIM, MAX_TOKENS

from .attention_inputs import head_inputs, head_options
from .common import calculator_options, tutor_command
from .matrix_specs import MATRIX
from .output import Output, show_document
from .usage import TEXT, shape_text, usage_error
from .values import check_finite, rng_for

DEFAULT_LR = 0.05           # tutor.walkthroughs.backward.DEFAULT_LR (not imported: no NumPy at --help)

EPILOG = f"""\b
The loss is L = ½‖Z − T‖², Z the head's output and T the target. Without
--target, T is the head's own input (X, or X + PE with --posenc): each token
should come out as the vector it went in as (zeros when Z and X differ in
width, e.g. with --dk 2).
--target takes a SPEC like --wq: an n×dv matrix, one row per word.

\b
The gradients go back through every forward step; then Wq, Wk and Wv move
one step against their gradients (W ← W − lr·dL/dW) and the loss is computed
again. If it did not go down, the output says so: try a smaller --lr.

\b
Limits: at most {MAX_TOKENS} words, --dim and --dk at most {MAX_DIM}; one head.

\b
Examples:
  tutor backward "the cat sat"                 the worked example, T = X
  tutor backward "the cat sat" --step 8        only dL/dZ
  tutor backward "the cat sat" --target "0,0,1,1;1,0,0,1;0,1,1,0"
  tutor backward "the cat sat" --lr 1          a step too long
  tutor backward "the cat sat" --wq random --wk random --seed 3
  tutor backward "the cat sat" --causal --posenc sinusoidal
  tutor backward "the cat sat on the mat" --embeddings glove --lr 0.005
  tutor backward "the cat sat" --no-scale      the gradient without ÷√dk
  tutor backward "the cat sat" --format json > backward.json
"""


@tutor_command(EPILOG)
@click.argument("sentence", type=TEXT)
@head_options
@click.option("--dk", type=int, default=None, metavar="N",
              help="Width of queries and keys (columns of Wq, Wk; also of Wv unless --wv "
                   "says otherwise). [default: d_model]")
@click.option("--no-scale", is_flag=True, help="Skip the ÷√dk (forward and back).")
@click.option("--target", type=MATRIX, default=None,
              help="The target T [n×dv] of the loss ½‖Z − T‖². [default: the head's input]")
@click.option("--lr", type=float, default=DEFAULT_LR, show_default=True, metavar="RATE",
              help="Learning rate of the gradient-descent step.")
@calculator_options(pause=True)
def backward(sentence, dim, embeddings, embed, causal, posenc, wq, wk, wv, dk, no_scale,
             target, lr, step, pause, seed, output: Output):
    """Show backpropagation through one attention head on SENTENCE, step by step.

    The six steps of self-attention, a loss against a target, every gradient on the way
    back (dL/dZ, the weights, the softmax, the scale, Q, K, V, Wq, Wk, Wv, X), then one
    step of gradient descent and the new loss.
    """
    from tutor.render.backward import backward_document
    from tutor.walkthroughs.backward import backpropagation

    lr = check_finite("--lr", lr, positive=True)
    inputs = head_inputs(sentence, dim, dk, embeddings, embed, wq, wk, wv, seed)
    n, d_v = len(inputs.tokens), inputs.w_v.shape[1]
    target_array, target_kind = None, None
    if target is not None:
        if target.array is not None:
            if target.array.shape != (n, d_v):
                raise usage_error("--target", f"expected a {n}×{d_v} matrix like Z (one row per "
                                              f"word, d_v = {d_v} columns), got a "
                                              f"{shape_text(target.array.shape)} matrix")
            target_array = target.array
        else:
            target_array = target.resolve(n, d_v, rng_for(seed, "--target"))  # [n, d_v]
        target_kind = f"--target {target.describe()}"

    kinds = {k: v for k, v in inputs.kinds.items() if k != "w_o"}
    recording = backpropagation(inputs.tokens, inputs.x, inputs.w_q, inputs.w_k, inputs.w_v,
                                target_array, lr=lr, causal=causal, scaled=not no_scale,
                                posenc=posenc.lower(), sources=inputs.sources,
                                weight_kinds=kinds, target_kind=target_kind)
    doc = backward_document(recording, precision=output.precision)
    show_document(output, doc, step=step, pause=pause)
