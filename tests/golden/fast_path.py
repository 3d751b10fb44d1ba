"""Measure where PyTorch's inference fast path differs from its standard path (the one the
golden files, and tutor, match), and two standard-path behaviours a user comparing numbers
meets (items 6 and 7). Needs torch; the README quotes what this prints.

    python tests/golden/fast_path.py

"Standard" = eval mode with autograd enabled (what make_golden.py runs); "fast" = eval mode
under ``torch.no_grad()``, where nn.TransformerEncoder / nn.TransformerEncoderLayer /
nn.MultiheadAttention take their fused kernels (and nested tensors for padding) when the
model qualifies (batch_first=True, an even number of heads, bias=True, relu or gelu, ...).
Everything is float64, seeds fixed, so the numbers are the same on every run.
"""

from __future__ import annotations

import functools
import math
import warnings

import torch
from torch import nn
from torch.nn import functional as F

warnings.filterwarnings("ignore")
torch.manual_seed(0)
DTYPE = torch.float64
E, H, FF, B, S = 8, 2, 16, 2, 5


def randomized(module: nn.Module) -> nn.Module:
    """float64, eval mode, every parameter redrawn (norm biases too, so they show)."""
    module = module.double().eval()
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(-0.5, 0.5) if p.dim() == 1 else p.uniform_(-math.sqrt(3 / p.shape[1]),
                                                                   math.sqrt(3 / p.shape[1]))
    return module


def both(module, *args, **kwargs):
    standard = module(*args, **kwargs)
    with torch.no_grad():
        fast = module(*args, **kwargs)
    return standard.detach(), fast


def encoder(norm=True, activation="relu"):
    layer = nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, batch_first=True,
                                       activation=activation)
    return randomized(nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(E) if norm else None))


def main() -> None:
    print(f"torch {torch.__version__}, float64, d_model={E}, nhead={H}, 2 encoder layers, "
          f"batch {B}, {S} positions")
    x = torch.randn(B, S, E, dtype=DTYPE)

    model = encoder()
    standard, fast = both(model, x)
    print(f"1. no mask: max |fast - standard| = {(fast - standard).abs().max().item():.1e}")

    pad = torch.zeros(B, S, dtype=torch.bool)
    pad[1, 3:] = True                                  # item 1: last 2 positions are padding
    standard, fast = both(model, x, src_key_padding_mask=pad)
    real, padded = ~pad, pad
    bias = model.norm.bias.detach()
    print(f"2. bool padding mask: real positions max |fast - standard| = "
          f"{(fast - standard)[real].abs().max().item():.1e}; padded positions: fast = norm.bias "
          f"exactly ({(fast[padded] - bias).abs().max().item():.1e} off), standard differs from "
          f"it by up to {(standard[padded] - bias).abs().max().item():.2f}")

    float_pad = torch.zeros(B, S, dtype=DTYPE)
    float_pad[1, 4] = -1.0                              # a finite penalty, not padding
    standard, fast = both(model, x, src_key_padding_mask=float_pad)
    finite = float_pad == -1.0
    others = (float_pad == 0) & torch.tensor([[False] * S, [True] * S])
    print(f"3. float padding mask with a finite -1.0 at item 1, position 4 (standard: added to "
          f"the scores): the fast path treats every nonzero as padding: that position comes out "
          f"as norm.bias (off by {(fast[finite] - bias).abs().max().item():.1e}; standard is "
          f"{(standard[finite] - bias).abs().max().item():.2f} from it) and item 1's other "
          f"positions change by up to {(fast - standard)[others].abs().max().item():.1e}")

    layer = randomized(nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, batch_first=True))
    mask = torch.zeros(S, S, dtype=torch.bool)
    mask[2, :] = True                                   # query 2 may see no key
    standard, fast = both(layer, x, src_mask=mask)
    print(f"4. a query with every key masked (src_mask row all True), one encoder layer: "
          f"standard gives finite values (attention output 0, as tutor): "
          f"{bool(torch.isfinite(standard).all())}; fast gives NaN in that row: "
          f"{int(torch.isnan(fast[:, 2]).all(dim=-1).sum())} of {B} items "
          f"(and NaN elsewhere: {bool(torch.isnan(fast[:, [0, 1, 3, 4]]).any())})")
    mha = layer.self_attn
    with_weights, _ = mha(x, x, x, attn_mask=mask, need_weights=True)
    print(f"   nn.MultiheadAttention(need_weights=True) on the same mask, standard path: NaN in "
          f"that row: {bool(torch.isnan(with_weights[:, 2]).all())}")

    model = encoder(activation=nn.GELU(approximate="tanh"))
    standard, fast = both(model, x)
    exact = encoder(activation="gelu")
    exact.load_state_dict(model.state_dict())
    print(f"5. activation=nn.GELU(approximate='tanh'): max |fast - standard| = "
          f"{(fast - standard).abs().max().item():.1e}; max |fast - exact-GELU model| = "
          f"{(fast - exact(x).detach()).abs().max().item():.1e} (the fused kernel uses exact GELU)")

    memory, tgt = torch.randn(B, S, E, dtype=DTYPE), torch.randn(B, 3, E, dtype=DTYPE)
    made, state = {}, None
    for name, activation in (("module", nn.GELU(approximate="tanh")),
                             ("function", functools.partial(F.gelu, approximate="tanh")),
                             ("relu", "relu")):
        dec_layer = nn.TransformerDecoderLayer(E, H, FF, dropout=0.0, batch_first=True,
                                               activation=activation)
        decoder = randomized(nn.TransformerDecoder(dec_layer, 1))
        if state is None:
            state = decoder.state_dict()
        decoder.load_state_dict(state)                  # the same weights for all three
        made[name] = decoder(tgt, memory).detach()
    print(f"6. nn.TransformerDecoder(layer with activation=nn.GELU(approximate='tanh')), standard "
          f"path: max |out - ReLU model| = {(made['module'] - made['relu']).abs().max().item():.1e},"
          f" max |out - functools.partial(F.gelu, approximate='tanh') model| = "
          f"{(made['module'] - made['function']).abs().max().item():.2f} (its copies compute ReLU)")

    layer = randomized(nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, batch_first=True))
    wrong = torch.zeros(S, S, dtype=torch.bool)
    wrong[0, 3] = True                                  # not causal
    hinted = layer(x, src_mask=wrong, is_causal=True).detach()
    causal = layer(x, src_mask=torch.triu(torch.ones(S, S, dtype=torch.bool), 1)).detach()
    given = layer(x, src_mask=wrong).detach()
    print(f"7. is_causal=True with a mask that is not causal, standard path: max |out - causal "
          f"mask's| = {(hinted - causal).abs().max().item():.1e}, max |out - given mask's| = "
          f"{(hinted - given).abs().max().item():.2f} (the hint replaces the mask)")


if __name__ == "__main__":
    main()
