"""Group 3: tiny Llama GGUF v3 files written as llama.cpp's convert_hf_to_gguf.py writes Llama,
and transformers' log-probs / token ids after loading them with `gguf_file=`.

Conversion, as in convert_hf_to_gguf.py (LlamaModel + Model.prepare_tensors/_set_vocab_gpt2):
- tensor names from gguf-py's tensor map (`blk.N.attn_q.weight`, `token_embd.weight`, ...);
- rows of q_proj / k_proj permuted for llama.cpp's RoPE layout: per head group (n_head for q,
  n_kv_head for k) view rows as [n, 2, d/2] and swap to [n, d/2, 2];
- 1-D tensors and `*_norm.weight` always F32; every 2-D weight in the file's type;
- metadata `llama.*` from config.json, `general.file_type`, `tokenizer.ggml.model = gpt2`,
  `tokenizer.ggml.pre`, tokens (byte-alphabet strings), token_type (CONTROL for special added
  tokens), merges, bos/eos/pad ids, add_bos_token and `tokenizer.chat_template` (gguf-py's
  SpecialVocab reads them from the HF folder, as the converter does).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
import gguf
from gguf import GGMLQuantizationType as T, LlamaFileType

from common import FIXTURES, f32_list, sha256_file, set_torch_threads, versions, write_json
from hf_models import HF_DIR, SPECS, SPECIAL_IDS, TOKENIZATION_STRINGS, make_config, randomize, test_sequences
from kquants import QUANTIZERS as K_QUANTIZERS
from logprobs import max_abs_diff, padded_reference, single_reference

GGUF_DIR = FIXTURES / "gguf"
SMALL_SOURCE = "llama"  # hf/llama is converted to the F32 .. Q4_1 files

SMALL_FILES = {
    "tiny-llama-F32.gguf": (T.F32, LlamaFileType.ALL_F32),
    "tiny-llama-F16.gguf": (T.F16, LlamaFileType.MOSTLY_F16),
    "tiny-llama-BF16.gguf": (T.BF16, LlamaFileType.MOSTLY_BF16),
    "tiny-llama-Q8_0.gguf": (T.Q8_0, LlamaFileType.MOSTLY_Q8_0),
    "tiny-llama-Q4_0.gguf": (T.Q4_0, LlamaFileType.MOSTLY_Q4_0),
    "tiny-llama-Q4_1.gguf": (T.Q4_1, LlamaFileType.MOSTLY_Q4_1),
}

# K-quants need rows of 256: a separate random Llama with hidden 256 and feed-forward 256.
KQ_FILE = "tiny-llama256-Kquants.gguf"
KQ_SPEC = dict(
    arch="LlamaForCausalLM", dtype="float32", tokenizer="bytelevel", seed=201, matrix_std=0.075,
    config=dict(hidden_size=256, intermediate_size=256, num_hidden_layers=1, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-5, rope_theta=10000.0,
                tie_word_embeddings=False),
)
# a Q4_K_M-like mix so each K type appears
KQ_TYPES = {
    "token_embd.weight": T.Q4_K, "output.weight": T.Q6_K,
    "attn_q.weight": T.Q4_K, "attn_k.weight": T.Q4_K, "attn_v.weight": T.Q6_K, "attn_output.weight": T.Q5_K,
    "ffn_gate.weight": T.Q4_K, "ffn_up.weight": T.Q5_K, "ffn_down.weight": T.Q6_K,
}


def permute_rows(w: np.ndarray, n_head: int) -> np.ndarray:
    """convert_hf_to_gguf.py LlamaModel.permute: HF rotate-half row order -> llama.cpp pairs."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def encode_tensor(data: np.ndarray, qtype: T) -> np.ndarray:
    if qtype == T.F32:
        return data.astype(np.float32)
    if qtype == T.F16:
        return data.astype(np.float16)
    if qtype.name in K_QUANTIZERS:
        rows = data.reshape(-1, data.shape[-1])
        return K_QUANTIZERS[qtype.name](rows).reshape(rows.shape[0], -1)
    return gguf.quants.quantize(data.astype(np.float32), qtype)


def tensor_type_for(gguf_name: str, n_dims: int, default: T, per_name: dict[str, T] | None) -> T:
    if n_dims <= 1 or gguf_name.endswith("_norm.weight"):
        return T.F32
    if per_name:
        suffix = gguf_name.split(".", 2)[-1] if gguf_name.startswith("blk.") else gguf_name
        return per_name[suffix]
    return default


def write_gguf(model, tok_dir: Path, out: Path, default: T, file_type: LlamaFileType, name: str,
               per_name: dict[str, T] | None = None) -> dict[str, str]:
    cfg = model.config
    n_head, n_kv = cfg.num_attention_heads, cfg.num_key_value_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // n_head
    tmap = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, cfg.num_hidden_layers)
    w = gguf.GGUFWriter(str(out), arch="llama")
    types: dict[str, str] = {}
    n_params = 0
    for hf_name, t in model.state_dict().items():
        if cfg.tie_word_embeddings and hf_name == "lm_head.weight":
            continue  # tied: the file has no output.weight
        data = t.detach().to(torch.float32).numpy()
        if hf_name.endswith(("q_proj.weight", "q_proj.bias")):
            data = permute_rows(data, n_head)
        if hf_name.endswith(("k_proj.weight", "k_proj.bias")):
            data = permute_rows(data, n_kv)
        new_name = tmap.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        assert new_name is not None, hf_name
        qtype = tensor_type_for(new_name, data.ndim, default, per_name)
        enc = encode_tensor(data, qtype)
        w.add_tensor(new_name, enc, raw_dtype=qtype if enc.dtype == np.uint8 else None)
        types[new_name] = qtype.name
        n_params += data.size
    # metadata in the converter's order: general, model parameters, vocabulary, quantisation version
    w.add_type(gguf.GGUFType.MODEL)
    w.add_name(name)
    w.add_size_label(gguf.size_label(n_params, 0, 0, 0))
    w.add_block_count(cfg.num_hidden_layers)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_rope_freq_base(float(cfg.rope_parameters["rope_theta"]))
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_file_type(file_type)
    w.add_vocab_size(cfg.vocab_size)
    w.add_rope_dimension_count(head_dim)
    add_vocab(w, tok_dir, cfg.vocab_size)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return types


def add_vocab(w: gguf.GGUFWriter, tok_dir: Path, vocab_size: int) -> None:
    """convert_hf_to_gguf.py get_vocab_base + _set_vocab_gpt2."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tok_dir)
    reverse = {i: t for t, i in tokenizer.get_vocab().items()}
    added = tokenizer.get_added_vocab()
    tokens, toktypes = [], []
    for i in range(vocab_size):
        if i not in reverse:
            tokens.append(f"[PAD{i}]")
            toktypes.append(gguf.TokenType.UNUSED)
            continue
        tok = reverse[i]
        if tok in added:
            special = tokenizer.added_tokens_decoder[i].special or (tok.startswith("<|") and tok.endswith("|>"))
            toktypes.append(gguf.TokenType.CONTROL if special else gguf.TokenType.USER_DEFINED)
        else:
            toktypes.append(gguf.TokenType.NORMAL)
        tokens.append(tok)
    w.add_tokenizer_model("gpt2")
    # The converter names the pre-tokenizer by hashing known models' outputs; this vocabulary
    # is new, and its pre-tokenizer is GPT-2's ByteLevel regex, which llama.cpp calls "gpt-2".
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(toktypes)
    special = gguf.SpecialVocab(tok_dir, load_merges=True)
    special.add_to_gguf(w)


def load_gguf(path: Path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32,
                                                 attn_implementation="eager")
    return model.eval()


def gguf_reference(path: Path, seqs, pad_id: int, float_model=None) -> dict:
    model = load_gguf(path)
    right, right_seq = padded_reference(model, seqs, pad_id, "right")
    left, _ = padded_reference(model, seqs, pad_id, "left")
    single = single_reference(model, seqs)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([seqs[0]]), use_cache=False).logits[0, -1].float()
    reader = gguf.GGUFReader(path)
    out = {
        "file": path.name,
        "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
        "tensor_types": {t.name: t.tensor_type.name for t in reader.tensors},
        "tensor_shapes": {t.name: [int(x) for x in t.shape] for t in reader.tensors},  # GGUF order: dims[0] fastest
        "logprobs": single,
        "right_padded": right,
        "left_padded": left,
        "last_logits": {"sequence": 0, "position": len(seqs[0]) - 1, "values": f32_list(logits)},
        "max_abs_diff": {"right_padded_vs_single": max_abs_diff(right_seq, single)},
    }
    if float_model is not None:
        out["max_abs_diff"]["vs_float32_source_model"] = max_abs_diff(single, single_reference(float_model, seqs))
    return out, model


def metadata_summary(path: Path) -> dict:
    """The file's key-value metadata (arrays shortened), for the README and the TS reader's tests."""
    reader = gguf.GGUFReader(path)
    out = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            n = len(field.data)
            items = [field.contents(i) for i in range(min(n, 5))] if hasattr(field, "contents") else []
            out[key] = {"type": "array", "item_type": field.types[-1].name, "count": n, "first": items}
        else:
            val = field.contents() if hasattr(field, "contents") else field.parts[field.data[0]].tolist()
            out[key] = {"type": vtype.name, "value": val}
    return out


def main() -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    set_torch_threads()
    if GGUF_DIR.exists():
        shutil.rmtree(GGUF_DIR)
    GGUF_DIR.mkdir(parents=True)
    src_dir = HF_DIR / SMALL_SOURCE
    spec = SPECS[SMALL_SOURCE]
    src = AutoModelForCausalLM.from_pretrained(src_dir, dtype=torch.float32, attn_implementation="eager").eval()
    hf_ref = json.loads((src_dir / "logprobs.json").read_text())
    seqs = hf_ref["sequences"]
    pad_id = SPECIAL_IDS["bytelevel"]["pad"]

    files: dict[str, dict] = {}
    loaded_tokenizers: dict[str, object] = {}
    for fname, (qtype, ftype) in SMALL_FILES.items():
        path = GGUF_DIR / fname
        write_gguf(src, src_dir, path, qtype, ftype, name=f"tiny llama {qtype.name}")
        ref, _ = gguf_reference(path, seqs, pad_id, float_model=src)
        ref["source"] = f"hf/{SMALL_SOURCE} (the same random model), every 2-D tensor {qtype.name}, norms F32"
        files[fname] = ref
        print(f"  {fname}: {path.stat().st_size} bytes, vs float32 model {ref['max_abs_diff']}")

    # K-quant file from its own random model (rows of 256)
    cfg = make_config(KQ_SPEC, hf_ref["config"]["vocab_size"])
    kq_model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32, attn_implementation="eager")
    randomize(kq_model, KQ_SPEC["seed"], matrix_std=KQ_SPEC["matrix_std"])
    kq_model.eval()
    path = GGUF_DIR / KQ_FILE
    write_gguf(kq_model, src_dir, path, T.Q4_K, LlamaFileType.MOSTLY_Q4_K_M, name="tiny llama256 Q4_K_M-like",
               per_name=KQ_TYPES)
    ref, loaded = gguf_reference(path, seqs, pad_id, float_model=kq_model)
    # sanity: transformers' dequantised weights are close to the float ones (the layouts agree)
    ref["relative_weight_error"] = {
        k: float((loaded.state_dict()[k] - v).norm() / v.norm()) for k, v in kq_model.state_dict().items() if v.ndim == 2}
    ref["source"] = ("its own random Llama (hidden 256, feed-forward 256, 1 layer, 4 heads / 2 KV heads, head dim 64, "
                     "vocab 384, untied; seed 201, matrices 0.075·N), quantised by python/parity/kquants.py: " +
                     ", ".join(f"{k} {v.name}" for k, v in KQ_TYPES.items()))
    ref["config"] = {k: v for k, v in cfg.to_dict().items() if k in (
        "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
        "head_dim", "rms_norm_eps", "rope_parameters", "vocab_size", "tie_word_embeddings", "max_position_embeddings")}
    files[KQ_FILE] = ref
    print(f"  {KQ_FILE}: {path.stat().st_size} bytes, vs float32 model {ref['max_abs_diff']}")

    write_json(GGUF_DIR / "logprobs.json", {
        "about": "transformers' log-probs after AutoModelForCausalLM.from_pretrained(dir, gguf_file=NAME, "
                 "dtype=torch.float32) (dequantised, q/k permutation undone)",
        "versions": versions(),
        "pad_id": pad_id,
        "sequences": seqs,
        "float32_source_logprobs": {"hf/llama": hf_ref["logprobs"]},
        "files": files,
    })

    # tokenizer: transformers builds it from each file's metadata
    tok_ids: list[list[int]] | None = None
    same_files = []
    hf_tok = AutoTokenizer.from_pretrained(src_dir)
    for fname in list(SMALL_FILES) + [KQ_FILE]:
        at = AutoTokenizer.from_pretrained(GGUF_DIR, gguf_file=fname)
        ids = [at.encode(s) for s in TOKENIZATION_STRINGS]
        if tok_ids is None:
            tok_ids, tok0 = ids, at
        assert ids == tok_ids, f"{fname}: tokenizer differs from the first file's"
        same_files.append(fname)
    cases = []
    for s, ids in zip(TOKENIZATION_STRINGS, tok_ids):
        hf_ids = hf_tok.encode(s)
        cases.append({"text": s, "ids": ids, "tokens": tok0.convert_ids_to_tokens(ids),
                      "decoded": tok0.decode(ids, skip_special_tokens=False),
                      "same_as_hf_tokenizer_json": ids == hf_ids})
    chat = []
    for c in [dict(messages=[{"role": "user", "content": "What is 12 + 7?"}], add_generation_prompt=True),
              dict(messages=[{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Hi!"}],
                   add_generation_prompt=True)]:
        text = tok0.apply_chat_template(c["messages"], add_generation_prompt=c["add_generation_prompt"], tokenize=False)
        chat.append({**c, "text": text, "ids": tok0.encode(text, add_special_tokens=False)})
    write_json(GGUF_DIR / "tokenization.json", {
        "about": "AutoTokenizer.from_pretrained(dir, gguf_file=NAME).encode(text) (default add_special_tokens)",
        "versions": versions(),
        "files": same_files,
        "tokenizer_class": type(tok0).__name__,
        "bos_token": tok0.bos_token, "eos_token": tok0.eos_token, "pad_token": tok0.pad_token,
        "cases": cases,
        "chat": chat,
        "metadata": {f: metadata_summary(GGUF_DIR / f) for f in [list(SMALL_FILES)[0], KQ_FILE]},
    }, indent=1)
