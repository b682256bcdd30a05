"""Run a workbench job folder with TRL: python trainer/train.py DIR
(or torchrun --standalone --nproc_per_node N DIR/trainer/train.py DIR, or accelerate launch …).

Reads DIR (job.json, config.json, data.jsonl, batches.json, ref_logprobs.jsonl, model, init_adapter),
trains with the workbench's recipe (iwsft_trainer/trainer.py) and writes DIR/stream.jsonl (rank 0),
DIR/checkpoints/step-<n>/ and DIR/final-model/. SIGTERM/SIGINT: `end` cancelled; an error: `end`
failed with the message and exit code 1. See python/trainer/README.md."""

from __future__ import annotations

import os
import platform
import signal
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from iwsft_trainer.job import JobError, read_job  # noqa: E402
from iwsft_trainer.stream import Stream, now_iso  # noqa: E402

# the last logged metrics, shared with the signal handler (an `end` row carries them)
FINAL: dict = {}

LORA_TARGETS = {"q": "q_proj", "k": "k_proj", "v": "v_proj", "o": "o_proj", "gate": "gate_proj", "up": "up_proj", "down": "down_proj"}


def log(msg: str) -> None:
    rank = os.environ.get("RANK")
    print(f"iwsft-trainer{f'[rank {rank}]' if rank else ''}: {msg}", flush=True)


def load_model(job):
    """The start model (= π_ref) in float32: an HF folder, or a GGUF file dequantised by transformers."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kw = {"gguf_file": job.gguf_file} if job.gguf_file else {}
    model = AutoModelForCausalLM.from_pretrained(job.model_path, dtype=torch.float32, **kw)
    if job.gguf_file:
        # transformers dequantises GGUF tensors to float32 on load but keeps a GGUF "quantizer",
        # which the Trainer refuses to train: the weights are plain float32, so drop the marker
        model.hf_quantizer = None
        model.is_quantized = False
        model.config.quantization_config = None
        if hasattr(model.config, "__dict__"):
            model.config.__dict__.pop("quantization_config", None)
    tokenizer = AutoTokenizer.from_pretrained(job.model_path, **kw)
    return model, tokenizer


def wrap_lora(job, model):
    """LoRA through PEFT: the engine's initial adapters from DIR/init_adapter when present (so both
    implementations start equal), else PEFT's initialisation (B = 0: the start is the model)."""
    from peft import LoraConfig, PeftModel, get_peft_model

    init = job.path("init_adapter")
    if os.path.isdir(init):
        return PeftModel.from_pretrained(model, init, is_trainable=True), "init_adapter"
    lc = job.config["policy"].get("lora") or {}
    cfg = LoraConfig(
        r=lc.get("rank", 8),
        lora_alpha=lc.get("alpha", 16),
        lora_dropout=lc.get("dropout", 0.05),
        target_modules=[LORA_TARGETS[t] for t in lc.get("targets", list(LORA_TARGETS))],
        use_rslora=bool(lc.get("rslora", False)),
        bias="none",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, cfg), "fresh (PEFT init)"


def sharded_launch() -> bool:
    """accelerate launch with a DeepSpeed or FSDP config (it sets these for the processes)."""
    return any(os.environ.get(k, "").lower() in ("true", "1") for k in ("ACCELERATE_USE_DEEPSPEED", "ACCELERATE_USE_FSDP"))


def versions() -> dict[str, str]:
    import accelerate
    import peft
    import torch
    import transformers
    import trl

    return {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__, "accelerate": accelerate.__version__, "peft": peft.__version__}


def run(job_dir: str, stream: Stream) -> dict:
    job = read_job(job_dir)  # every check before anything heavy is loaded
    import torch
    from datasets import Dataset
    from transformers import set_seed
    from trl import SFTConfig

    from iwsft_trainer.checkpoint import save_checkpoint, save_final_model
    from iwsft_trainer.trainer import IwSftTrainer, StreamCallback

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # progress is ours: one line per step on stdout
    cuda = torch.cuda.is_available()
    seed = int(job.config["seed"])
    set_seed(seed)
    args = SFTConfig(
        output_dir=job.path(".trainer-state"),
        max_steps=job.config["train"]["steps"],
        per_device_train_batch_size=1,
        gradient_accumulation_steps=1,
        learning_rate=job.config["optim"]["lr"],
        # EngineAdam clips as the engine does; under DeepSpeed/FSDP (sharded gradients) the Trainer clips
        max_grad_norm=float(job.config["optim"]["clip_grad_norm"] or 0.0) if sharded_launch() else 0.0,
        bf16=False,
        fp16=False,
        gradient_checkpointing=False,
        report_to="none",
        save_strategy="no",
        eval_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        seed=seed,
        data_seed=seed,
        use_cpu=not cuda,
        # on the CPU several processes (torchrun) talk through gloo; one process needs no group
        ddp_backend="gloo" if not cuda and int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,
        ddp_find_unused_parameters=False,
        dataset_kwargs={"skip_prepare_dataset": True},
        remove_unused_columns=False,
        dataloader_num_workers=0,
        max_length=None,
        packing=False,
        padding_free=False,
    )
    device = "cuda" if cuda else "cpu"
    rank, world = args.process_index, args.world_size
    log(f"rank {rank} of world size {world}, device {device}")
    B = job.config["train"]["batch_size"]
    if B % world:
        raise JobError(f"{job.path('config.json')}: train.batch_size {B} is not divisible by the world size {world}: use a batch size that is a multiple of the number of processes")
    stream.write({"type": "start", "job_id": job.manifest.get("job_id"), "world_size": world, "device": device, "total_steps": job.config["train"]["steps"], "time": now_iso(), "versions": versions()})

    log(f"start model: {os.path.join(job.model_path, job.gguf_file) if job.gguf_file else job.model_path}")
    model, tokenizer = load_model(job)
    lora = job.manifest["finetune"] == "lora"
    if lora:
        model, how = wrap_lora(job, model)
        log(f"LoRA adapters: {how}")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    prepend_bos = bool(job.manifest.get("prepend_bos", False))
    bos = int(job.manifest.get("bos", tokenizer.bos_token_id if tokenizer.bos_token_id is not None else 0))
    # SFTTrainer wants a dataset; the batches come from batches.json (IwSftTrainer.get_train_dataloader)
    dataset = Dataset.from_dict({"input_ids": [t.input_ids for t in job.traces]})
    trainer = IwSftTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer, data_collator=lambda rows: rows, job=job, prepend_bos=prepend_bos, bos=bos, pad_id=pad_id)
    log(f"π_ref log-probs: {trainer.prepare_reference()}")
    cb = StreamCallback(trainer, stream, lambda m, step: save_checkpoint(m, job.dir, step, lora), final=FINAL)
    trainer.add_callback(cb)
    trainer.train()
    final_model = None
    if rank == 0:
        try:
            os.rmdir(args.output_dir)  # the Trainer's own output folder, unused (save_strategy "no")
        except OSError:
            pass
        final_model = save_final_model(trainer.accelerator.unwrap_model(trainer.model), tokenizer, job.model_path, job.gguf_file, job.dir, lora)
        log(f"final model: {job.path(final_model)}")
    return {"final": cb.final, "final_model": final_model}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python trainer/train.py JOB_DIR", file=sys.stderr)
        return 2
    job_dir = os.path.abspath(argv[0])
    rank = int(os.environ.get("RANK", "0"))
    stream = Stream(os.path.join(job_dir, "stream.jsonl") if rank == 0 and os.path.isdir(job_dir) else None)

    def cancel(signum, _frame):
        # stop at once (a rank waiting in a collective would never see a flag): `end` cancelled, then exit
        stream.end("cancelled", final=FINAL)
        log(f"cancelled by signal {signum}")
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, cancel)
    signal.signal(signal.SIGINT, cancel)
    try:
        out = run(job_dir, stream)
    except JobError as e:
        stream.end("failed", error=str(e))
        print(f"iwsft-trainer: error: {e}", file=sys.stderr, flush=True)
        return 1
    except Exception as e:  # noqa: BLE001 — any failure ends the stream with its message
        traceback.print_exc()
        stream.end("failed", error=f"{type(e).__name__}: {e}", final=FINAL)
        return 1
    stream.end("completed", final=out["final"], final_model=out["final_model"])
    stream.close()
    log("completed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
