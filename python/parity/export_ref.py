"""Issue 14: the engine's exports of a fine-tuned model, read back by transformers and PEFT.

The engine writes tests/fixtures/llm/export/hf (a merged Hugging Face folder) and
tests/fixtures/llm/export/peft (a PEFT LoRA adapter on tests/fixtures/llm/hf/llama) when
tests/integration/llm-export.test.ts runs with IWSFT_WRITE_EXPORT_FIXTURE=1. This script loads
both with transformers / PEFT (never the engine) and records their per-token log-probs of the
hf/llama fixture's sequences into tests/fixtures/llm/export/logprobs.json; the test checks the
engine's reload of its own export against these numbers.

Run with the parity venv, not from the test suite:
    IWSFT_WRITE_EXPORT_FIXTURE=1 npx vitest run tests/integration/llm-export.test.ts
    ~/.cache/iwsft/python-parity/bin/python python/parity/export_ref.py
"""

from __future__ import annotations

import json

import torch

from common import FIXTURES, set_torch_threads, versions, write_json
from logprobs import max_abs_diff, single_reference

EXPORT = FIXTURES / "export"
BASE = FIXTURES / "hf" / "llama"


def main() -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    set_torch_threads()
    seqs = json.loads((BASE / "logprobs.json").read_text())["sequences"]
    load = lambda p: AutoModelForCausalLM.from_pretrained(p, dtype=torch.float32, attn_implementation="eager").eval()  # noqa: E731
    merged = load(EXPORT / "hf")
    hf = single_reference(merged, seqs)
    adapter = PeftModel.from_pretrained(load(BASE), EXPORT / "peft").eval()
    peft = single_reference(adapter, seqs)
    tok = AutoTokenizer.from_pretrained(EXPORT / "hf")
    chat = tok.apply_chat_template([{"role": "user", "content": "What is 12 + 7?"}], tokenize=False, add_generation_prompt=True)
    res = {
        "about": "AutoModelForCausalLM.from_pretrained(export/hf) and PeftModel.from_pretrained(hf/llama, export/peft), float32",
        "versions": versions(),
        "sequences": seqs,
        "hf_logprobs": hf,
        "peft_logprobs": peft,
        "chat_prompt": chat,
        "max_abs_diff": {"hf_vs_peft": max_abs_diff(hf, peft)},
    }
    write_json(EXPORT / "logprobs.json", res)
    print(f"max_abs_diff {res['max_abs_diff']}")


if __name__ == "__main__":
    main()
