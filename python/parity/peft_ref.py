"""Group 5: log-probs of an exported Hugging Face folder + a PEFT (LoRA) adapter, by transformers/PEFT.

`score(base, adapter, sequences)` is what the engine's export (issue 14) is checked against:
the engine writes a merged HF folder and/or a PEFT adapter, this loads them with
transformers + PEFT and records per-token log-probs of the given token ids.
`make_fixture()` builds a LoRA adapter on hf/llama itself (seeded, non-zero A and B) and
records its log-probs as a fixture.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from common import FIXTURES, REPO_ROOT, f32_list, seed_everything, set_torch_threads, versions, write_json
from logprobs import max_abs_diff, padded_reference, single_reference

PEFT_DIR = FIXTURES / "peft" / "llama-lora"
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def load_base(base: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32, attn_implementation="eager").eval()


def score(base: Path, adapter: Path, sequences: list[list[int]], pad_id: int | None = None,
          merged_out: Path | None = None) -> dict:
    from peft import PeftModel

    set_torch_threads()
    if pad_id is None:
        cfg = json.loads((base / "config.json").read_text())
        pad_id = cfg.get("pad_token_id") if cfg.get("pad_token_id") is not None else 0
    model = PeftModel.from_pretrained(load_base(base), adapter).eval()
    adapter_cfg = json.loads((adapter / "adapter_config.json").read_text())
    single = single_reference(model, sequences)
    right, right_seq = padded_reference(model, sequences, pad_id, "right")
    left, left_seq = padded_reference(model, sequences, pad_id, "left")
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([sequences[0]]), use_cache=False).logits[0, -1].float()
    merged = model.merge_and_unload().eval()  # W + (alpha / r) B A folded into the base weights
    merged_single = single_reference(merged, sequences)
    if merged_out is not None:
        merged.save_pretrained(merged_out)
    base_single = single_reference(load_base(base), sequences)
    return {
        "about": "PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype=float32), adapter)",
        "versions": versions(),
        "adapter_config": {k: sorted(adapter_cfg[k]) if k == "target_modules" else adapter_cfg.get(k) for k in ("peft_type", "r", "lora_alpha", "lora_dropout",
                                                             "target_modules", "bias", "use_rslora", "fan_in_fan_out")},
        "pad_id": pad_id,
        "sequences": sequences,
        "logprobs": single,
        "right_padded": right,
        "left_padded": left,
        "last_logits": {"sequence": 0, "position": len(sequences[0]) - 1, "values": f32_list(logits)},
        "merged_logprobs": merged_single,
        "base_logprobs": base_single,
        "max_abs_diff": {
            "merged_vs_adapter": max_abs_diff(merged_single, single),
            "right_padded_vs_single": max_abs_diff(right_seq, single),
            "left_padded_vs_single": max_abs_diff(left_seq, single),
            "adapter_vs_base": max_abs_diff(single, base_single),
        },
    }


def score_cli(base: Path, adapter: Path, ids_file: Path, out: Path, merged_out: Path | None) -> None:
    data = json.loads(ids_file.read_text())
    seqs = data["sequences"] if isinstance(data, dict) else data
    pad_id = data.get("pad_id") if isinstance(data, dict) else None
    res = score(base, adapter, seqs, pad_id, merged_out)
    res["base"], res["adapter"] = str(base), str(adapter)
    write_json(out, res)
    print(f"max_abs_diff {res['max_abs_diff']}")


def make_fixture(seed: int = 301) -> None:
    from peft import LoraConfig, get_peft_model

    set_torch_threads()
    base_dir = FIXTURES / "hf" / "llama"
    seed_everything(seed)
    model = get_peft_model(load_base(base_dir), LoraConfig(
        r=4, lora_alpha=8, lora_dropout=0.0, target_modules=TARGETS, bias="none", task_type="CAUSAL_LM"))
    # PEFT initialises B to zero (the adapter would be a no-op): make A and B random, seeded.
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if "lora_A" in name or "lora_B" in name:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
    if PEFT_DIR.exists():
        shutil.rmtree(PEFT_DIR)
    model.save_pretrained(PEFT_DIR)
    (PEFT_DIR / "README.md").unlink(missing_ok=True)  # PEFT's model-card template
    cfg_path = PEFT_DIR / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["base_model_name_or_path"] = str(base_dir.relative_to(REPO_ROOT))  # not this machine's absolute path
    cfg["target_modules"] = sorted(cfg["target_modules"])  # PEFT writes a set: order varies run to run
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    seqs = json.loads((base_dir / "logprobs.json").read_text())["sequences"]
    res = score(base_dir, PEFT_DIR, seqs, pad_id=0)
    res["base"] = "tests/fixtures/llm/hf/llama"
    res["adapter"] = "tests/fixtures/llm/peft/llama-lora"
    write_json(PEFT_DIR / "logprobs.json", res)
    print(f"max_abs_diff {res['max_abs_diff']}")
