"""Generate the golden file of `tutor generate` on a decoder-only model, with `transformers`.

Run from the repository root (the only place transformers and torch are imported for it):

    python tests/golden/make_generate_golden.py

Reads the tiny random GPT-2 of ``tests/data/hf_tiny_gpt2`` (made by make_hf_golden.py) as a
``GPT2LMHeadModel`` (its ``lm_head`` tied to ``wte``, as the folder's config says), in float64,
and writes ``tests/golden/generate/hf_tiny_gpt2_greedy.npz``: for the prompt ``PROMPT``,
``prompt_ids`` [n0] (transformers' tokenizer), ``ids`` [n0 + N] from
``model.generate(do_sample=False, num_beams=1, max_new_tokens=N)`` (greedy, with the model's
own key/value cache) and ``logits`` [N, V], the float64 logits of each step from one forward
pass over the output (``generate``'s own scores are cast to float32);
``meta`` is a 0-d string of JSON {"prompt", "transformers_version", "torch_version"}.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import transformers

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "tests" / "data" / "hf_tiny_gpt2"
OUT = ROOT / "tests" / "golden" / "generate" / "hf_tiny_gpt2_greedy.npz"
PROMPT = "The cat sat"
NEW_TOKENS = 8


def main() -> None:
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_file=str(FOLDER / "tokenizer.json"))
    model = transformers.GPT2LMHeadModel.from_pretrained(FOLDER, attn_implementation="eager")
    model = model.double().eval()
    assert torch.equal(model.lm_head.weight, model.transformer.wte.weight)   # tied
    prompt = tokenizer(PROMPT, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        out = model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False,
                             num_beams=1, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
                             eos_token_id=None, pad_token_id=0, return_dict_in_generate=True)
        n0 = prompt.shape[1]
        logits = model(out.sequences[:, :-1]).logits[0, n0 - 1:].numpy()  # [N, V]
    meta = {"prompt": PROMPT, "transformers_version": transformers.__version__,
            "torch_version": torch.__version__}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, prompt_ids=prompt[0].numpy().astype(np.int64),
                        ids=out.sequences[0].numpy().astype(np.int64),
                        logits=logits.astype(np.float64), meta=np.array(json.dumps(meta)))
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes): {out.sequences[0].tolist()}")


if __name__ == "__main__":
    main()
