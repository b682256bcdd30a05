"""The workbench's training step as a TRL SFTTrainer (science.md "Objectives", "Importance weights";
paper Algorithm 1), step for step as src/main/engine/train/trainer.ts does it:
  1. sample   the step's global batch from batches.json (the workbench drew it); rank r takes rows r::W
  2. θ_q      EMA update or periodic copy of the frozen q (and the log-q cache refresh), before the loss
  3. weight   w from log q − log π_ref (eq. 11) over the GLOBAL batch (log w all-gathered)
  4. loss     the weighted NLL of the completion tokens, weights held constant
  5. step     clip the global gradient norm, Adam/AdamW with bias correction (EngineAdam)
DDP averages gradients over W ranks, so each rank returns W × its share of the global loss."""

from __future__ import annotations

import copy
import math
import time
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset
from transformers import TrainerCallback
from trl import SFTTrainer

from .job import QUALITY_BIN_METHODS, Job, Trace
from .weights import clamped_weight, log_weight_raw, loss_weights, per_step_weight, step_weight_stats, weight_stats


# ---- optimizer: src/main/engine/train/optim.ts ----


def learning_rate(o: dict, step: int, total: int) -> float:
    """lr at step `step` (0-based) of `total`: linear warm-up over warmup_steps, then cosine to 0 (or constant)."""
    w = o["warmup_steps"]
    if w > 0 and step < w:
        return o["lr"] * (step + 1) / w
    if o["schedule"] == "constant":
        return o["lr"]
    progress = min(1.0, (step - w) / (total - w)) if total > w else 1.0
    return o["lr"] * 0.5 * (1 + math.cos(math.pi * progress))


class EngineAdam(torch.optim.Optimizer):
    """Adam / AdamW exactly as the engine's AdamOptimizer: the global gradient norm (before
    clipping) is clipped by scale = min(1, c / max(‖g‖, 1e-12)); Adam puts L2 decay λθ into the
    gradient, AdamW decays θ directly (θ ← θ − lr(m̂/(√v̂+ε) + λθ)); m̂, v̂ bias-corrected; the lr
    of step s from learning_rate(). A parameter without a gradient counts as a zero gradient."""

    def __init__(self, params, o: dict, total_steps: int):
        super().__init__(list(params), {"lr": o["lr"]})
        self.o = o
        self.total = total_steps
        self.t = 0
        self.last_grad_norm = 0.0
        self.last_lr = 0.0

    @torch.no_grad()
    def step(self, closure=None):
        o = self.o
        b1, b2 = o["betas"]
        lr = learning_rate(o, self.t, self.total)
        self.t += 1
        params = [p for g in self.param_groups for p in g["params"]]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        norm = torch.sqrt(sum(torch.sum(g * g) for g in grads))
        self.last_grad_norm = float(norm)
        self.last_lr = lr
        scale = None if o["clip_grad_norm"] is None else torch.clamp(o["clip_grad_norm"] / torch.clamp(norm, min=1e-12), max=1.0)
        bc1 = 1 - b1**self.t
        bc2 = 1 - b2**self.t
        wd = o["weight_decay"]
        for p, g in zip(params, grads):
            st = self.state[p]
            if not st:
                st["m"] = torch.zeros_like(p)
                st["v"] = torch.zeros_like(p)
            if scale is not None:
                g = g * scale
            if o["kind"] == "adam" and wd > 0:
                g = g + p * wd
            m = st["m"].mul_(b1).add_(g * (1 - b1))
            v = st["v"].mul_(b2).add_(g * g * (1 - b2))
            update = (m / bc1) / (torch.sqrt(v / bc2) + o["eps"])
            if o["kind"] == "adamw" and wd > 0:
                update = update + p * wd
            p.sub_(update * lr)
        for g in self.param_groups:
            g["lr"] = lr
        return None


# ---- data: the step's rows of this rank ----


def pad_rows(traces: list[Trace], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded [b, T] token ids, mask (scored tokens) and valid (real tokens)."""
    T = max(len(t.input_ids) for t in traces)
    ids = torch.full((len(traces), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(traces), T), dtype=torch.float32)
    valid = torch.zeros((len(traces), T), dtype=torch.float32)
    for i, t in enumerate(traces):
        n = len(t.input_ids)
        ids[i, :n] = torch.tensor(t.input_ids, dtype=torch.long)
        mask[i, :n] = torch.tensor(t.mask, dtype=torch.float32)
        valid[i, :n] = 1
    return {"input_ids": ids, "mask": mask, "valid": valid, "trace_index": torch.tensor([t.index for t in traces], dtype=torch.long)}


class StepBatches(Dataset):
    """Item s = this rank's rows of global batch s: batches[s][rank::world]."""

    def __init__(self, job: Job, rank: int, world: int, pad_id: int):
        self.job, self.rank, self.world, self.pad_id = job, rank, world, pad_id

    def __len__(self) -> int:
        return len(self.job.batches)

    def __getitem__(self, s: int) -> dict[str, Any]:
        rows = self.job.batches[s][self.rank :: self.world]
        return pad_rows([self.job.by_index[i] for i in rows], self.pad_id)


# ---- log-probs: src/main/engine/llm/policy.ts's token convention ----


def token_logprobs(model, ids: torch.Tensor, prepend_bos: bool, bos: int) -> torch.Tensor:
    """logp[b, t] = log π(token_t | token_<t), [B, T]. With prepend_bos the BOS is fed before
    position 0; otherwise position 0 gets 0. Right padding under causal attention never reaches a
    real token, so no attention mask is needed (the engine uses none)."""
    if prepend_bos:
        inp = torch.cat([torch.full_like(ids[:, :1], bos), ids[:, :-1]], dim=1)
        logits = model(input_ids=inp, use_cache=False).logits.float()
        return torch.log_softmax(logits, dim=-1).gather(-1, ids.unsqueeze(-1)).squeeze(-1)
    logits = model(input_ids=ids, use_cache=False).logits.float()
    lp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return torch.cat([torch.zeros_like(lp[:, :1]), lp], dim=1)


@torch.no_grad()
def score_traces(model, traces: list[Trace], device, prepend_bos: bool, bos: int, pad_id: int, chunk: int = 8) -> dict[int, torch.Tensor]:
    """log π(token_t|token_<t) of every token of the given traces (eval mode, no gradient)."""
    was_training = model.training
    model.eval()
    out: dict[int, torch.Tensor] = {}
    try:
        for c in range(0, len(traces), chunk):
            part = traces[c : c + chunk]
            b = pad_rows(part, pad_id)
            lp = token_logprobs(model, b["input_ids"].to(device), prepend_bos, bos).cpu()
            for i, t in enumerate(part):
                out[t.index] = lp[i, : len(t.input_ids)].clone()
    finally:
        model.train(was_training)
    return out


def gather_rows(values: dict[int, torch.Tensor], trace_index: torch.Tensor, T: int, device) -> torch.Tensor:
    rows = torch.zeros((len(trace_index), T), dtype=torch.float32)
    for i, idx in enumerate(trace_index.tolist()):
        v = values[idx]
        rows[i, : len(v)] = v
    return rows.to(device)


# ---- distributed helpers (no-ops for one process) ----


def world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def all_sum(x: torch.Tensor) -> torch.Tensor:
    if world()[1] > 1:
        x = x.clone()
        dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x


def all_cat(x: torch.Tensor) -> torch.Tensor:
    """Rank 0's rows, then rank 1's, … (every rank holds the same number of rows)."""
    _, W = world()
    if W == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(W)]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=0)


def to_global_order(x: list, W: int) -> list:
    """Rows gathered rank by rank back to the batch's order: global row r + j·W is rank r's row j."""
    b = len(x) // W
    return [x[(p % W) * b + p // W] for p in range(len(x))]


# ---- the trainer ----


class IwSftTrainer(SFTTrainer):
    """SFTTrainer with the workbench's batches, weights, loss and optimizer. `job` is the read
    job folder; `step_info` collects what the callback logs after each optimizer step."""

    def __init__(self, *args, job: Job, prepend_bos: bool, bos: int, pad_id: int, **kw):
        self.job = job
        self.prepend_bos = prepend_bos
        self.bos = bos
        self.pad_id = pad_id
        ws = job.config["weights"]
        self.q_model = None
        if job.importance_weighted and ws["q"]["kind"] != "current":
            # θ_q: a frozen copy of θ (LoRA: the adapters are copied with the base), made BEFORE the
            # Trainer wraps the model: the Trainer and accelerate replace model.forward on the
            # instance, and a deepcopy after that would still run θ's forward
            self.q_model = copy.deepcopy(kw["model"])
            self.q_model.eval()
            for p in self.q_model.parameters():
                p.requires_grad_(False)
        super().__init__(*args, **kw)
        self.rank, self.world_size = self.args.process_index, self.args.world_size
        self.ws = ws
        self.q_cache: dict[int, torch.Tensor] | None = None
        self.ref: dict[int, torch.Tensor] | None = None
        self.step_info: dict[str, Any] = {}
        if self.q_model is not None:
            self.q_model.to(self.args.device)

    # π_ref: the start model (θ before any step), scored once; or the workbench's cached log-probs
    def prepare_reference(self) -> str:
        if not self.job.uses_reference:
            return "none"
        if self.job.ref_logprobs is not None:
            self.ref = {i: torch.tensor(v, dtype=torch.float32) for i, v in self.job.ref_logprobs.items()}
            return "ref_logprobs.jsonl"
        self.ref = score_traces(self.model, self.job.traces, self.args.device, self.prepend_bos, self.bos, self.pad_id)
        return "start model"

    def get_train_dataloader(self) -> DataLoader:
        # batch_size=None: item s is already the step's batch; no sampler, no accelerate sharding
        return DataLoader(StepBatches(self.job, self.rank, self.world_size, self.pad_id), batch_size=None, shuffle=False, num_workers=0)

    @property
    def sharded(self) -> bool:
        """DeepSpeed ZeRO or FSDP: parameters (and gradients) are split across ranks, so an
        optimizer that sees only its shard cannot take the global gradient norm itself."""
        return bool(self.is_deepspeed_enabled or self.is_fsdp_enabled)

    def create_optimizer(self, model=None):
        if self.optimizer is None:
            params = [p for p in (model or self.model).parameters() if p.requires_grad]
            o = self.job.config["optim"]
            if not self.sharded:
                self.optimizer = EngineAdam(params, o, self.job.config["train"]["steps"])
            elif o["kind"] == "adamw":
                # the same update as EngineAdam; the Trainer clips (train.py sets max_grad_norm), with
                # torch's c / (‖g‖ + 1e-6) instead of the engine's c / ‖g‖
                self.optimizer = torch.optim.AdamW(params, lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"], weight_decay=o["weight_decay"])
            else:
                self.optimizer = torch.optim.Adam(params, lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"], weight_decay=o["weight_decay"])
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        if self.lr_scheduler is None:
            o, total = self.job.config["optim"], self.job.config["train"]["steps"]
            # EngineAdam applies learning_rate() itself; torch's optimizers get it through the scheduler
            factor = (lambda _: 1.0) if not self.sharded else (lambda s: learning_rate(o, s, total) / o["lr"])
            self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer or self.optimizer, factor)
            self._created_lr_scheduler = True
        return self.lr_scheduler

    def _get_grad_norm(self, model, grad_norm=None):
        # sharded runs: the Trainer's global norm (before clipping) is the logged grad_norm
        self.trainer_grad_norm = super()._get_grad_norm(model, grad_norm=grad_norm)
        return self.trainer_grad_norm

    def step_grad_norm_and_lr(self) -> tuple[float, float]:
        """The step's gradient norm before clipping and its learning rate, for the metrics."""
        opt = self.optimizer.optimizer if hasattr(self.optimizer, "optimizer") else self.optimizer
        if isinstance(opt, EngineAdam):
            return opt.last_grad_norm, opt.last_lr
        g = getattr(self, "trainer_grad_norm", float("nan"))
        o = self.job.config["optim"]
        return float(g.item() if hasattr(g, "item") else g), learning_rate(o, self.state.global_step - 1, self.job.config["train"]["steps"])

    def _trainable_pairs(self):
        theta = dict(self.accelerator.unwrap_model(self.model).named_parameters())
        return [(pq, theta[n]) for n, pq in self.q_model.named_parameters() if theta[n].requires_grad]

    @torch.no_grad()
    def _begin_step(self, s: int) -> None:
        """θ_q's update before the weights (log-q.ts), then the log-q cache refresh."""
        q = self.ws["q"]
        if self.q_model is not None:
            if q["kind"] == "ema":
                beta = q["beta"]
                for pq, p in self._trainable_pairs():
                    pq.copy_(pq * beta + p * (1 - beta))
            elif s % q["every"] == 0:
                for pq, p in self._trainable_pairs():
                    pq.copy_(p)
        k = self.ws.get("q_refresh")
        if k is not None and s % k == 0:
            qm = self.q_model if self.q_model is not None else self.accelerator.unwrap_model(self.model)
            self.q_cache = score_traces(qm, self.job.traces, self.args.device, self.prepend_bos, self.bos, self.pad_id)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        job, ws = self.job, self.ws
        cfg_train = job.config["train"]
        s = self.state.global_step
        ids, mask, trace_index = inputs["input_ids"], inputs["mask"], inputs["trace_index"].cpu()
        b, T = ids.shape
        W = self.world_size
        B = b * W
        info: dict[str, Any] = {"rows": trace_index.tolist()}
        trace_w = step_w = None
        if job.importance_weighted:
            self._begin_step(s)
        logp = token_logprobs(model, ids, self.prepend_bos, self.bos)
        if job.importance_weighted:
            logref = gather_rows(self.ref, trace_index, T, ids.device)
            if self.q_cache is not None:
                logq = gather_rows(self.q_cache, trace_index, T, ids.device)
            elif self.q_model is not None:
                logq = token_logprobs(self.q_model, ids, self.prepend_bos, self.bos).detach()
            else:
                logq = logp.detach()  # q = current: π_θ under stop-gradient
            with torch.no_grad():
                if job.per_step:
                    step_w = per_step_weight(logq, logref, mask, ws["step_clip"])
                    # the step weights' statistics over the global batch: n, Σw, clipped (engine stepWeightStats)
                    st = step_weight_stats(step_w, logq - logref, mask, ws["step_clip"])
                    n = float(mask.sum())
                    tot = all_sum(torch.tensor([n, st["step_w_mean"] * n, st["step_clip_fraction"] * n], dtype=torch.float64, device=ids.device))
                    info["step_stats"] = {"step_w_mean": float(tot[1] / tot[0]) if tot[0] else 0.0, "step_clip_fraction": float(tot[2] / tot[0]) if tot[0] else 0.0}
                else:
                    raw = log_weight_raw(logq, logref, mask, ws)
                    raw_all = all_cat(raw)
                    w_all = clamped_weight(raw_all, ws)  # batch normalisation over the GLOBAL batch
                    trace_w = w_all[self.rank * b : (self.rank + 1) * b]
                    info["raw"] = to_global_order(raw_all.tolist(), W)
                    info["w"] = to_global_order(w_all.tolist(), W)
        # the weighted NLL (objectives/loss.ts): L = Σ c · log π, c formed from the mask and the weights
        if cfg_train["loss_norm"] == "token":
            count = all_sum(mask.sum().detach())
            coef = (-1.0 / torch.clamp(count, min=1)) * (trace_w if trace_w is not None else torch.ones(b, device=ids.device))
        else:
            coef = (-1.0 / B) * (trace_w if trace_w is not None else torch.ones(b, device=ids.device))
            coef = coef / torch.clamp(mask.sum(dim=1), min=1)
        c = coef.reshape(b, 1)
        if step_w is not None:
            c = c * step_w
        c = c * mask
        part = torch.sum(c * logp)
        info["loss"] = float(all_sum(part.detach()))
        info["tokens"] = float(all_sum(inputs["valid"].sum().detach()))
        if not math.isfinite(info["loss"]):
            raise RuntimeError(diagnose(s + 1, info))
        self.step_info = info
        # DDP averages the W ranks' gradients: W × this rank's share gives the global loss's gradient
        return part * W


def diagnose(step: int, info: dict) -> str:
    where = f"training stopped at step {step}"
    for i, v in enumerate(info.get("w", [])):
        if not math.isfinite(v):
            return f"{where}: importance weight of batch row {i} is {v} (raw log w {info['raw'][i]}). Lower weights.temp, tighten weights.clamp, or check the reference log-probs."
    return f"{where}: the loss is {info['loss']}. Lower optim.lr or set optim.clip_grad_norm; check the data for extreme values."


class StreamCallback(TrainerCallback):
    """After each optimizer step (rank 0 writes): metrics at train.log_every and the last step,
    weight snapshots at train.snapshot_every and the last step, checkpoints at
    train.checkpoint_every and the last step, a progress line on stdout."""

    def __init__(self, trainer: IwSftTrainer, stream, save_checkpoint, final: dict | None = None):
        self.t = trainer
        self.stream = stream
        self.save_checkpoint = save_checkpoint
        # the last logged value of every metric (the `end` row's "final", as the engine's TrainResult)
        self.final: dict[str, float] = final if final is not None else {}
        self.window_tokens = 0.0
        self.window_start = time.perf_counter()

    def on_step_end(self, args, state, control, **kw):
        t, job = self.t, self.t.job
        tc = job.config["train"]
        step = state.global_step  # updates done (1-based)
        total = tc["steps"]
        last = step == total
        info = t.step_info
        self.window_tokens += info["tokens"]
        grad_norm, lr = t.step_grad_norm_and_lr()
        if not math.isfinite(grad_norm):
            raise RuntimeError(f"training stopped at step {step}: the gradient norm is {grad_norm}. Lower optim.lr or set optim.clip_grad_norm.")
        rank0 = t.rank == 0
        if step % tc["log_every"] == 0 or last:
            m: dict[str, float] = {"loss": info["loss"], "lr": lr, "grad_norm": grad_norm}
            m["tokens_per_s"] = self.window_tokens / max(1e-6, time.perf_counter() - self.window_start)
            if "raw" in info:
                m.update(weight_stats(info["raw"], info["w"], job.config["weights"]["clamp"]))
            if "step_stats" in info:
                m.update(info["step_stats"])
            self.final.update(m)
            self.stream.write({"type": "metrics", "step": step, "metrics": m})
            self.window_tokens = 0.0
            self.window_start = time.perf_counter()
        if rank0 and job.uses_reference and (step % tc["snapshot_every"] == 0 or last):
            self.stream.write(self.snapshot(step, info))
        every = tc.get("checkpoint_every")
        if rank0 and ((every is not None and step % every == 0) or last):
            path, fmt = self.save_checkpoint(t.accelerator.unwrap_model(t.model), step)
            self.stream.write({"type": "checkpoint", "step": step, "path": path, "format": fmt})
        if rank0:
            print(f"step {step}/{total} loss {info['loss']:.6f} grad_norm {grad_norm:.4f}", flush=True)
        return control

    def snapshot(self, step: int, info: dict) -> dict:
        """weightSnapshot() of src/main/engine/train/scoring.ts: every curated trace's raw log w under q
        (after this step's update), its clamped w, sampling mass and w as the loss uses it, plus the
        step's batch as the loss weighted it."""
        t, job = self.t, self.t.job
        ws = job.config["weights"]
        qm = t.q_model if t.q_model is not None else t.accelerator.unwrap_model(t.model)
        logq = score_traces(qm, job.traces, t.args.device, t.prepend_bos, t.bos, t.pad_id)
        raws = []
        for tr in job.traces:
            m = torch.tensor(tr.mask, dtype=torch.float32).unsqueeze(0)
            raws.append(float(log_weight_raw(logq[tr.index].unsqueeze(0), t.ref[tr.index].unsqueeze(0), m, ws)[0]))
        raw = torch.tensor(raws, dtype=torch.float32)
        w_clamped = clamped_weight(raw, ws, normalize=False)
        mass = torch.tensor([float(tr.multiplicity) if job.method in QUALITY_BIN_METHODS else 1.0 for tr in job.traces])
        batch = None
        if "w" in info:
            batch = {"trace_index": job.batches[step - 1], "w": info["w"]}
        return {
            "type": "weights",
            "step": step,
            "trace_index": [tr.index for tr in job.traces],
            "log_w_raw": raw.tolist(),
            "w_clamped": w_clamped.tolist(),
            "mass": mass.tolist(),
            "w": loss_weights(w_clamped, mass, ws["normalize"]).tolist(),
            "batch": batch,
        }
