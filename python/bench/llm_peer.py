"""The PyTorch side of the llm/train-full and llm/train-lora benchmarks (issue 14): fine-tuning
SmolLM2 in PyTorch on the batch the engine trains on, in the same invocation, so that the
engine's tokens/s can be read as a ratio to PyTorch's measured side by side.

Run by src/main/engine/llm/bench-llm.ts, one process per mode (its own peak memory). The
request is one JSON object on stdin:
  {"model": GGUF path, "mode": "full" | "lora", "tokens": [[id, ...], ...] (the dataset's
   traces), "steps": [[row, ...], ...] (the rows of each step's batch, the first one the
   warm-up), "threads": N | null, "optim": {"lr", "betas", "eps", "weight_decay"},
   "lora": {"rank", "alpha", "dropout", "targets"} (mode lora)}
and the answer one JSON object on stdout:
  {"torch", "threads", "parameters", "load_s", "seconds": [...], "cpu_seconds": [...] (process
   CPU time of each timed step, all threads), "first": {"loss", "grad_norm"} (of the first
   step's batch at the initial weights, before any update), "peak_rss_mb"}
or {"error": message}.

What it mirrors (the engine's llm/train-* entries: bench-llm.ts runTrain):
  * the model: transformers' LlamaForCausalLM from the same GGUF file (its loader dequantises to
    float32 as the engine's does), float32, its default attention, train mode;
  * the loss: SFT, mean next-token NLL over every position after the first of each row (the
    engine's loss_norm "token" with mask 0 at position 0), as `model(ids, labels=ids).loss`;
  * the step: torch.optim.AdamW with the engine's lr, betas, eps and weight decay, no gradient
    clipping (the engine's default), the loss read back every step;
  * full: every weight trained (the tied embedding once); lora: PEFT's LoRA with the same rank,
    alpha, dropout and target linears (q_proj … down_proj), the base frozen.
"""

import json
import resource
import sys
import time

HF_TARGETS = {"q": "q_proj", "k": "k_proj", "v": "v_proj", "o": "o_proj", "gate": "gate_proj", "up": "up_proj", "down": "down_proj"}


def run(req):
    import os

    import torch
    from transformers import AutoModelForCausalLM

    if req.get("threads"):
        torch.set_num_threads(int(req["threads"]))
    torch.manual_seed(0)
    path = req["model"]
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path), dtype=torch.float32)
    load_s = time.perf_counter() - t0
    if req["mode"] == "lora":
        from peft import LoraConfig, get_peft_model

        lo = req["lora"]
        cfg = LoraConfig(r=lo["rank"], lora_alpha=lo["alpha"], lora_dropout=lo["dropout"], target_modules=[HF_TARGETS[t] for t in lo["targets"]], bias="none")
        model = get_peft_model(model, cfg)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    o = req["optim"]
    opt = torch.optim.AdamW(params, lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"], weight_decay=o["weight_decay"])
    tokens = torch.tensor(req["tokens"], dtype=torch.long)

    def loss_of(rows):
        ids = tokens[torch.tensor(rows, dtype=torch.long)]
        return model(input_ids=ids, labels=ids, use_cache=False).loss

    # the first step's batch at the initial weights: loss and gradient norm, no update
    loss = loss_of(req["steps"][0])
    loss.backward()
    grad_norm = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params)).item()
    first = {"loss": loss.item(), "grad_norm": grad_norm}
    opt.zero_grad(set_to_none=True)
    seconds, cpu = [], []
    for i, rows in enumerate(req["steps"]):
        w0, c0 = time.perf_counter(), time.process_time()
        loss = loss_of(rows)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()
        if i > 0:  # the first step warms up (allocator, kernels)
            seconds.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in params),
        "load_s": load_s,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "first": first,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main():
    try:
        res = run(json.loads(sys.stdin.read()))
    except Exception as e:  # an answer, never a silent failure
        res = {"error": f"{type(e).__name__}: {e}"}
    sys.stdout.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
