#!/usr/bin/env python3
"""Writes the LLM parity fixtures in tests/fixtures/llm (run by hand, never by the tests).

    PY=~/.cache/iwsft/python-parity/bin/python
    $PY python/parity/make_fixtures.py quant     # 1. ggml block vectors
    $PY python/parity/make_fixtures.py hf        # 2. tiny Hugging Face checkpoints + log-probs
    $PY python/parity/make_fixtures.py gguf      # 3. tiny GGUF files + log-probs + tokenizer ids
    $PY python/parity/make_fixtures.py smollm2   # 4. SmolLM2-135M-Instruct reference numbers
    $PY python/parity/make_fixtures.py smollm2-bench   # torch speed on this machine (README note)
    $PY python/parity/make_fixtures.py peft --base DIR --adapter DIR --ids IDS.json --out OUT.json
    $PY python/parity/make_fixtures.py peft-fixture    # the LoRA fixture on hf/llama

See python/README.md and tests/fixtures/llm/README.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("quant", help="ggml block-format vectors (quant/vectors.json)")
    sub.add_parser("hf", help="tiny random Hugging Face checkpoints and their log-probs (hf/)")
    sub.add_parser("gguf", help="tiny GGUF files and transformers' log-probs and token ids (gguf/)")
    p = sub.add_parser("smollm2", help="SmolLM2-135M-Instruct reference numbers (smollm2-reference.json)")
    p.add_argument("--gguf", type=Path, default=None, help="the Q4_1 GGUF (default: fetched into the cache)")
    p = sub.add_parser("smollm2-bench", help="torch forward and full fine-tuning tokens/s on SmolLM2")
    p.add_argument("--gguf", type=Path, default=None)
    p.add_argument("--repeats", type=int, default=3)
    p = sub.add_parser("peft", help="log-probs of an HF folder + PEFT adapter for given token ids")
    p.add_argument("--base", type=Path, required=True, help="exported Hugging Face folder")
    p.add_argument("--adapter", type=Path, required=True, help="PEFT adapter folder")
    p.add_argument("--ids", type=Path, required=True, help='JSON: {"sequences": [[ids], ...]} (or a bare list of lists)')
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--merged-out", type=Path, default=None, help="also save the merged model here")
    sub.add_parser("peft-fixture", help="make a LoRA adapter on hf/llama and record its log-probs (peft/llama-lora/)")
    args = ap.parse_args(argv)

    if args.cmd == "quant":
        import quant_vectors

        quant_vectors.main()
    elif args.cmd == "hf":
        import hf_models

        hf_models.main()
    elif args.cmd == "gguf":
        import gguf_models

        gguf_models.main()
    elif args.cmd == "smollm2":
        import smollm2

        smollm2.main(args.gguf)
    elif args.cmd == "smollm2-bench":
        import smollm2

        smollm2.bench(args.gguf, args.repeats)
    elif args.cmd == "peft":
        import peft_ref

        peft_ref.score_cli(args.base, args.adapter, args.ids, args.out, args.merged_out)
    elif args.cmd == "peft-fixture":
        import peft_ref

        peft_ref.make_fixture()


if __name__ == "__main__":
    main()
