"""Checkpoints as Hugging Face folders (rank 0): DIR/checkpoints/step-<n>/ holds the full model
(full fine-tuning) or the PEFT adapter (LoRA); DIR/final-model/ a complete HF folder of the
trained model (LoRA merged into the base), with the tokenizer, loadable by `iwsft models add`."""

from __future__ import annotations

import copy
import os
import shutil

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json", "chat_template.jinja", "generation_config.json")


def _atomic_dir(final: str):
    """Write into final + '.tmp', then rename: a folder that exists is complete."""
    tmp = final + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    return tmp


def _commit(tmp: str, final: str) -> None:
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)


def save_checkpoint(model, job_dir: str, step: int, lora: bool) -> tuple[str, str]:
    """The trained model at `step`; returns (path relative to the job folder, "peft" | "hf")."""
    rel = os.path.join("checkpoints", f"step-{step}")
    final = os.path.join(job_dir, rel)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    tmp = _atomic_dir(final)
    model.save_pretrained(tmp, safe_serialization=True)
    _commit(tmp, final)
    return rel, "peft" if lora else "hf"


def save_final_model(model, tokenizer, model_path: str, gguf_file: str | None, job_dir: str, lora: bool) -> str:
    """A complete HF folder of the trained model (LoRA merged), with the start model's tokenizer
    files copied (or, for a GGUF start model, the tokenizer transformers read from it)."""
    rel = "final-model"
    final = os.path.join(job_dir, rel)
    tmp = _atomic_dir(final)
    out = copy.deepcopy(model).merge_and_unload() if lora else model
    out.save_pretrained(tmp, safe_serialization=True)
    copied = False
    if gguf_file is None and os.path.isdir(model_path):
        for name in TOKENIZER_FILES:
            src = os.path.join(model_path, name)
            if os.path.exists(src):
                shutil.copy2(src, os.path.join(tmp, name))
                copied = copied or name.startswith("tokenizer")
    if not copied:
        tokenizer.save_pretrained(tmp)
    _commit(tmp, final)
    return rel
