"""Group 2: tiny random Hugging Face checkpoints of each architecture and transformers' log-probs.

Each model is written to tests/fixtures/llm/hf/<name>/ as a Hugging Face folder, then loaded
BACK from that folder with `AutoModelForCausalLM.from_pretrained(dir, dtype=torch.float32)`:
the reference numbers are what transformers computes from the files on disk (float32 compute,
even for the bfloat16 / float16 folders, whose weights are upcast).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from common import FIXTURES, f32_list, seed_everything, set_torch_threads, versions, write_json
from logprobs import max_abs_diff, padded_reference, single_reference
import tiny_tokenizers

HF_DIR = FIXTURES / "hf"

CHATML_DEFAULT_SYSTEM = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\n" "{SYSTEM}" "<|im_end|>\\n' }}"
    "{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
# SmolLM2's template shape with another default system text.
LLAMA_TEMPLATE = CHATML_DEFAULT_SYSTEM.replace("{SYSTEM}", "You are a tiny test model.")
# Qwen2's template shape.
QWEN2_TEMPLATE = CHATML_DEFAULT_SYSTEM.replace("{SYSTEM}", "You are a helpful assistant.")
# Mistral-7B-Instruct-v0.1's template.
MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)
# A plain template without special tokens (filters, a set variable).
GPT2_TEMPLATE = (
    "{% set sep = '\\n' %}{% for message in messages %}"
    "{{ message['role'] | upper }}: {{ message['content'] | trim }}{{ sep }}"
    "{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)

# name -> (architecture, config kwargs, stored dtype, tokenizer kind, template, seed, extras)
SPECS: dict[str, dict] = {
    "llama": dict(
        arch="LlamaForCausalLM", dtype="float32", tokenizer="bytelevel", template=LLAMA_TEMPLATE, seed=101,
        config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-5, rope_theta=10000.0,
                    tie_word_embeddings=False),
        note="GQA 4 query heads / 2 KV heads (head dim 16), separate lm_head",
    ),
    "llama-tied-rope-scaled": dict(
        arch="LlamaForCausalLM", dtype="float32", tokenizer="bytelevel", template=LLAMA_TEMPLATE, seed=102,
        config=dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=1, max_position_embeddings=128, rms_norm_eps=1e-6, rope_theta=10000.0,
                    rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                      original_max_position_embeddings=32),
                    tie_word_embeddings=True),
        note="tied embeddings (no lm_head.weight in the file), MQA (1 KV head), llama3 rope scaling whose "
             "original context 32 puts the 8 frequencies in all three bands (kept, smoothed, divided by 8)",
    ),
    "llama-bf16": dict(
        arch="LlamaForCausalLM", dtype="bfloat16", tokenizer="bytelevel", template=LLAMA_TEMPLATE, seed=103,
        config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-5, rope_theta=10000.0,
                    rope_scaling=dict(rope_type="linear", factor=2.0), tie_word_embeddings=False),
        note="weights stored as bfloat16; linear rope scaling factor 2",
    ),
    "qwen2": dict(
        arch="Qwen2ForCausalLM", dtype="float32", tokenizer="bytelevel", template=QWEN2_TEMPLATE, seed=104,
        config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-6, rope_theta=1000000.0,
                    tie_word_embeddings=False, use_sliding_window=False),
        note="q/k/v biases (random, non-zero), no o_proj bias",
    ),
    "qwen2-fp16": dict(
        arch="Qwen2ForCausalLM", dtype="float16", tokenizer="bytelevel", template=QWEN2_TEMPLATE, seed=105,
        config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-6, rope_theta=1000000.0,
                    tie_word_embeddings=True, use_sliding_window=False),
        legacy_config=False,
        note="weights stored as float16, tied embeddings; config.json kept in transformers 5's own format "
             "(`rope_parameters`) instead of the hub's `rope_theta`/`rope_scaling`",
    ),
    "mistral": dict(
        arch="MistralForCausalLM", dtype="float32", tokenizer="metaspace", template=MISTRAL_TEMPLATE, seed=106,
        config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, head_dim=16, max_position_embeddings=128, rms_norm_eps=1e-5,
                    rope_theta=10000.0, sliding_window=None, tie_word_embeddings=False),
        shard="150KB",
        note="sharded: model-0000x-of-0000y.safetensors + model.safetensors.index.json; Mistral-style "
             "Metaspace/byte-fallback tokenizer that adds <s>; sliding_window null",
    ),
    "gpt2": dict(
        arch="GPT2LMHeadModel", dtype="float32", tokenizer="bytelevel", template=GPT2_TEMPLATE, seed=107,
        config=dict(n_embd=64, n_layer=2, n_head=4, n_positions=64, n_inner=None, layer_norm_epsilon=1e-5,
                    activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                    bos_token_id=0, eos_token_id=0),
        note="learned absolute positions (n_positions 64), Conv1D weights stored [in, out], tied head, gelu_new",
    ),
}

TOKENIZER_CONFIG = {
    "bytelevel": dict(bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token=None,
                      add_prefix_space=False, add_bos_token=False),
    "metaspace": dict(bos_token="<s>", eos_token="</s>", pad_token=None, unk_token="<unk>",
                      add_bos_token=True, add_eos_token=False),
}
SPECIAL_IDS = {"bytelevel": dict(pad=0, bos=1, eos=2), "metaspace": dict(pad=0, bos=1, eos=2)}


def build_tokenizer(kind: str):
    return tiny_tokenizers.train_bytelevel() if kind == "bytelevel" else tiny_tokenizers.train_metaspace()


def make_config(spec: dict, vocab_size: int):
    from transformers import AutoConfig

    model_type = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2", "MistralForCausalLM": "mistral",
                  "GPT2LMHeadModel": "gpt2"}[spec["arch"]]
    ids = SPECIAL_IDS[spec["tokenizer"]]
    kw = dict(spec["config"])
    if model_type != "gpt2":
        kw.setdefault("bos_token_id", ids["bos"])
        kw.setdefault("eos_token_id", ids["eos"])
        kw.setdefault("pad_token_id", ids["pad"])
        kw["hidden_act"] = "silu"
        kw["attention_dropout"] = 0.0
    cfg = AutoConfig.for_model(model_type, vocab_size=vocab_size, **kw)
    cfg.architectures = [spec["arch"]]
    return cfg


@torch.no_grad()
def randomize(model: torch.nn.Module, seed: int, matrix_std: float = 0.15) -> None:
    """Every parameter random (transformers zero-initialises biases and sets norms to 1, which
    would leave bias and norm code untested). Scales keep attention scores O(1) and the
    next-token distribution far from uniform."""
    g = torch.Generator().manual_seed(seed)
    for name, p in sorted(model.named_parameters()):
        shape = p.shape
        if "norm" in name or name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
            val = 1.0 + 0.2 * torch.randn(shape, generator=g) if name.endswith("weight") else 0.1 * torch.randn(shape, generator=g)
        elif name.endswith("bias"):
            val = 0.1 * torch.randn(shape, generator=g)
        elif "embed_tokens" in name or name.endswith("wte.weight"):
            val = 0.5 * torch.randn(shape, generator=g)
        elif name.endswith("wpe.weight"):
            val = 0.2 * torch.randn(shape, generator=g)
        else:
            val = matrix_std * torch.randn(shape, generator=g)
        p.copy_(val)


def legacy_config(path: Path) -> None:
    """transformers 5 writes `rope_parameters`; hub configs (SmolLM2, Qwen2, Mistral) carry
    `rope_theta` and `rope_scaling` and `torch_dtype`. Rewrite to that form (transformers 5 reads it)."""
    cfg = json.loads(path.read_text())
    rp = cfg.pop("rope_parameters", None)
    if rp is not None:
        rp = dict(rp)
        cfg["rope_theta"] = rp.pop("rope_theta")
        if rp.get("rope_type", "default") != "default":
            cfg["rope_scaling"] = rp
        else:
            cfg["rope_scaling"] = None
    if "dtype" in cfg:
        cfg["torch_dtype"] = cfg.pop("dtype")
    path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def write_folder(name: str, spec: dict, tok) -> tuple[Path, torch.nn.Module]:
    from transformers import AutoModelForCausalLM

    out = HF_DIR / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    cfg = make_config(spec, tok.get_vocab_size())
    seed_everything(spec["seed"])
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    randomize(model, spec["seed"])
    if cfg.tie_word_embeddings:
        model.tie_weights()
    model = model.to(getattr(torch, spec["dtype"]))
    kw = {"max_shard_size": spec["shard"]} if "shard" in spec else {}
    model.save_pretrained(out, **kw)
    (out / "generation_config.json").unlink(missing_ok=True)
    if spec.get("legacy_config", True):
        legacy_config(out / "config.json")
    tok.save(str(out / "tokenizer.json"))
    tcfg = dict(TOKENIZER_CONFIG[spec["tokenizer"]])
    # PreTrainedTokenizerFast: transformers uses tokenizer.json as written. With a model-specific
    # class (LlamaTokenizer, Qwen2Tokenizer) transformers 5 rebuilds the pre-tokenizer from the
    # class and its ids differ from tokenizer.json's (checked: Qwen2Tokenizer splits every digit,
    # LlamaTokenizer merges a leading double space differently).
    tcfg.update(tokenizer_class="PreTrainedTokenizerFast", model_max_length=cfg.max_position_embeddings
                if hasattr(cfg, "max_position_embeddings") else 64, chat_template=spec["template"],
                clean_up_tokenization_spaces=False)
    (out / "tokenizer_config.json").write_text(json.dumps(tcfg, indent=2, ensure_ascii=False) + "\n")
    return out, model.float().eval()


def test_sequences(tok, kind: str, vocab: int, seed: int) -> list[list[int]]:
    """Four sequences of different lengths (one of 2 tokens): a real tokenised chat text
    (specials included) and random ids over the whole vocabulary. The first is the longest."""
    g = torch.Generator().manual_seed(seed)
    if kind == "bytelevel":
        text = "<|im_start|>user\nWhat is 12 + 7?<|im_end|>\n<|im_start|>assistant\n19<|im_end|>"
    else:
        text = "[INST] What is 12 + 7? [/INST] 19</s>"
    first = tok.encode(text).ids[:26]
    lens = [len(first) - 11, 2, len(first) - 5]
    rest = [torch.randint(0, vocab, (n,), generator=g).tolist() for n in lens]
    return [first] + rest


def reference(name: str, spec: dict, folder: Path, tok, written: torch.nn.Module) -> dict:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    assert all(p.dtype == torch.float32 for p in model.parameters())
    # The reload must hold exactly the weights written (no silently re-initialised tensor).
    written_sd, loaded_sd = written.state_dict(), model.state_dict()
    assert written_sd.keys() == loaded_sd.keys(), written_sd.keys() ^ loaded_sd.keys()
    for k in written_sd:
        assert torch.equal(written_sd[k], loaded_sd[k]), f"{name}: {k} differs after reload"
    vocab = model.config.vocab_size
    seqs = test_sequences(tok, spec["tokenizer"], vocab, spec["seed"] + 1000)
    pad_id = SPECIAL_IDS[spec["tokenizer"]]["pad"]
    right, right_seq = padded_reference(model, seqs, pad_id, "right")
    left, left_seq = padded_reference(model, seqs, pad_id, "left")
    single = single_reference(model, seqs)
    # head check: full logits at the last position of sequence 0 (alone, unpadded)
    with torch.no_grad():
        ids = torch.tensor([seqs[0]])
        logits = model(input_ids=ids, use_cache=False).logits[0, -1].float()
    files = sorted(p.name for p in folder.iterdir())
    return {
        "model": name,
        "architecture": spec["arch"],
        "note": spec["note"],
        "stored_dtype": spec["dtype"],
        "compute_dtype": "float32",
        "attn_implementation": "eager",
        "files": files,
        "config": {k: v for k, v in json.loads((folder / "config.json").read_text()).items()},
        "versions": versions(),
        "pad_id": pad_id,
        "sequences": seqs,
        "logprobs": single,
        "right_padded": right,
        "left_padded": left,
        "last_logits": {"sequence": 0, "position": len(seqs[0]) - 1, "values": f32_list(logits)},
        "max_abs_diff": {
            "right_padded_vs_single": max_abs_diff(right_seq, single),
            "left_padded_vs_single": max_abs_diff(left_seq, single),
        },
    }


TOKENIZATION_STRINGS = [
    "", " ", "a", "Hello world", "Hello  world", "  leading spaces", "trailing spaces   ",
    "What is 12 + 7?", "12345 678901 3.14159 -42 1e-5", "I'll go, you'd stay; don't, won't, it's, we're, they've",
    "tabs\tand\ttabs\t\tdouble", "new\nline\n\ntwo\r\nwindows", "   \n  \t  mixed whitespace runs \n\n\n",
    "def f(x):\n    return x * 2  # comment\n", "if (a && b) { return [1, 2, 3]; }",
    "café naïve façade Größe", "Привет мир", "你好，世界", "こんにちは", "مرحبا", "Καλημέρα",
    "emoji 🙂 🚀 👍🏽 ❤️ 🦙", "🙂🙂🙂", "<|im_start|>user\nhi<|im_end|>\n", "text <|endoftext|> inside",
    "<s>[INST] hi [/INST] ok</s>", "<unk> and <0x41> as text", "UPPER lower MiXeD", "a.b,c;d:e!f?g",
    "\u00a0non-breaking\u2009thin\u3000ideographic spaces", "zero\u200bwidth", "ｆｕｌｌｗｉｄｔｈ",
]

CHAT_CASES = {
    "chatml": [
        dict(messages=[{"role": "user", "content": "What is 12 + 7?"}], add_generation_prompt=True),
        dict(messages=[{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Hi!"},
                       {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "2 + 2?"}],
             add_generation_prompt=True),
        dict(messages=[{"role": "user", "content": "Say ok."}, {"role": "assistant", "content": "ok"}],
             add_generation_prompt=False),
    ],
    "mistral": [
        dict(messages=[{"role": "user", "content": "What is 12 + 7?"}], add_generation_prompt=True),
        dict(messages=[{"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello."},
                       {"role": "user", "content": "2 + 2?"}], add_generation_prompt=False),
    ],
}


def tokenization_reference() -> dict:
    from transformers import AutoTokenizer

    out: dict = {"versions": versions(), "tokenizers": {}, "chat": {}}
    used_by: dict[str, list[str]] = {}
    for name, spec in SPECS.items():
        used_by.setdefault(spec["tokenizer"], []).append(name)
    for kind, names in used_by.items():
        at = AutoTokenizer.from_pretrained(HF_DIR / names[0])
        cases = []
        for s in TOKENIZATION_STRINGS:
            ids = at.encode(s)  # add_special_tokens=True: <s> for metaspace, nothing for bytelevel
            cases.append({"text": s, "ids": ids, "ids_no_special": at.encode(s, add_special_tokens=False),
                          "tokens": at.convert_ids_to_tokens(ids),
                          "decoded": at.decode(ids, skip_special_tokens=False)})
        out["tokenizers"][kind] = {"folders": names, "vocab_size": len(at), "cases": cases}
    for name, spec in SPECS.items():
        at = AutoTokenizer.from_pretrained(HF_DIR / name)
        cases = CHAT_CASES["mistral" if spec["tokenizer"] == "metaspace" else "chatml"]
        renders = []
        for c in cases:
            text = at.apply_chat_template(c["messages"], add_generation_prompt=c["add_generation_prompt"], tokenize=False)
            renders.append({**c, "text": text, "ids": at.encode(text, add_special_tokens=False)})
        out["chat"][name] = renders
    return out


def main() -> None:
    set_torch_threads()
    toks = {"bytelevel": build_tokenizer("bytelevel"), "metaspace": build_tokenizer("metaspace")}
    for name, spec in SPECS.items():
        tok = toks[spec["tokenizer"]]
        folder, written = write_folder(name, spec, tok)
        ref = reference(name, spec, folder, tok, written)
        write_json(folder / "logprobs.json", ref)
        print(f"  {name}: files {ref['files']}, padded-vs-single max diff {ref['max_abs_diff']}")
    write_json(HF_DIR / "tokenization.json", tokenization_reference(), indent=1)
