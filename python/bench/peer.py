"""The PyTorch side of `iwsft bench --peer` (issue 17): the engine's benchmark shapes, trained
in PyTorch in the same invocation, so that each entry's ms/step can be compared as a ratio
measured side by side on the same CPU.

Driven over stdin/stdout, one JSON object a line each way (bench-peer.ts is the other end):
  {"cmd": "hello", "threads": N?}           -> {"python", "torch", "threads"} (N: torch.set_num_threads)
  {"cmd": "setup", "entries": [spec, ...]}  -> {"ok": true, "entries": [names]}
  {"cmd": "check", "name", "idx": [...]}    -> {"loss", "grad_norm"} of one batch at the
                                               initial weights (no update)
  {"cmd": "run", "name", "steps", "seed"}   -> {"ms_per_step", "cpu_ms_per_step" (process CPU
                                               time, all threads), "loss"}
  {"cmd": "quit"}
Errors answer {"error": message}.

What it mirrors (so that the comparison is fair: same arithmetic, same data, same loss):
  * the engine's data: the spec carries the dataset (flat steps + offsets, as TraceDataset), the
    reference log-probs and the initial parameters; batches are B traces drawn uniformly with
    replacement, padded to the longest trace of the batch (data/batch.ts gatherBatch), gathered
    on the device from tensors made once;
  * the policies: the Gaussian MLP of policies/gaussian-mlp.ts (tanh mean, ReLU MLP, one
    state-independent log-std clamped to [log_std_min, log_std_max], log-prob summed over action
    dimensions) and the causal transformer of policies/transformer.ts (pre-LN GPT: token +
    learned position embeddings, BOS in front, fused q/k/v, additive causal + key-padding mask of
    -1e9, tanh GELU, LayerNorm eps 1e-5, head tied to the token embedding);
  * the objective: objectives/loss.ts weightedNll, "trace" (per-trace mean over masked steps,
    then the batch mean) or "token" (sum over masked steps / their count) normalisation, with
    the trace weights of weights.ts for iw-SFT: log w = temp * mean_t (log q - log pi_ref)
    (aggregate "mean") or the sum ("sum"), clamp of w as a clip of log w, batch
    self-normalisation via log-sum-exp; q = current is pi_theta under stop-gradient (detach);
  * the step: train/optim.ts, Adam or AdamW with the same betas, eps, weight decay, linear
    warm-up then cosine schedule, global gradient-norm clipping. PyTorch's own torch.optim.Adam /
    AdamW and clip_grad_norm_ with their defaults, as a PyTorch user would write it; the loss
    is read back every step (loss.item()), as the engine reads its loss every step.
"""

import base64
import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
NEG = -1e9
LN_EPS = 1e-5


def b64(arr, dtype):
    return np.frombuffer(base64.b64decode(arr), dtype=dtype).copy()


def learning_rate(o, step, total):
    """train/optim.ts learningRate: linear warm-up, then cosine to 0 (or constant)."""
    w = o["warmup_steps"]
    if w > 0 and step < w:
        return o["lr"] * (step + 1) / w
    if o["schedule"] == "constant":
        return o["lr"]
    progress = min(1.0, (step - w) / (total - w)) if total > w else 1.0
    return o["lr"] * 0.5 * (1 + math.cos(math.pi * progress))


class PaddedData:
    """The dataset as padded [N, Tmax, ...] tensors made once; a batch is one gather."""

    def __init__(self, d):
        offsets = b64(d["offsets"], np.int32)
        n = len(offsets) - 1
        lengths = offsets[1:] - offsets[:-1]
        tmax = int(lengths.max())
        self.lengths = torch.from_numpy(lengths.astype(np.int64))
        mask = b64(d["mask"], np.uint8).astype(np.float32)
        grid = np.zeros((n, tmax), np.float32)
        valid = np.zeros((n, tmax), np.float32)
        for i in range(n):
            s, e = offsets[i], offsets[i + 1]
            grid[i, : e - s] = mask[s:e]
            valid[i, : e - s] = 1
        self.mask = torch.from_numpy(grid)
        self.valid = torch.from_numpy(valid)
        self.ref = None
        if d.get("ref"):
            ref = b64(d["ref"], np.float32)
            g = np.zeros((n, tmax), np.float32)
            for i in range(n):
                s, e = offsets[i], offsets[i + 1]
                g[i, : e - s] = ref[s:e]
            self.ref = torch.from_numpy(g)
        self.obs = None
        if d["kind"] == "continuous":
            od, ad = d["obsDim"], d["actDim"]
            obs = b64(d["obs"], np.float32)
            act = b64(d["actions"], np.float32)
            o = np.zeros((n, tmax, od), np.float32)
            a = np.zeros((n, tmax, ad), np.float32)
            for i in range(n):
                s, e = offsets[i], offsets[i + 1]
                o[i, : e - s] = obs[s * od : e * od].reshape(-1, od)
                a[i, : e - s] = act[s * ad : e * ad].reshape(-1, ad)
            self.obs = torch.from_numpy(o)
            self.actions = torch.from_numpy(a)
        else:
            act = b64(d["actions"], np.int32)
            a = np.zeros((n, tmax), np.int64)
            for i in range(n):
                s, e = offsets[i], offsets[i + 1]
                a[i, : e - s] = act[s:e]
            self.actions = torch.from_numpy(a)
        self.n = n

    def batch(self, idx):
        t = int(self.lengths[idx].max())
        out = {
            "mask": self.mask[idx, :t],
            "valid": self.valid[idx, :t],
            "actions": self.actions[idx, :t],
            "ref": self.ref[idx, :t] if self.ref is not None else None,
        }
        if self.obs is not None:
            out["obs"] = self.obs[idx, :t]
        return out


class GaussianMlp(torch.nn.Module):
    """policies/gaussian-mlp.ts: mean tanh(MLP(s)), state-independent clamped log-std."""

    def __init__(self, spec, weights):
        super().__init__()
        self.spec = spec
        layers = []
        for l in range(len(spec["hidden"]) + 1):
            w, b = weights[2 * l], weights[2 * l + 1]
            lin = torch.nn.Linear(w.shape[0], w.shape[1])
            with torch.no_grad():
                lin.weight.copy_(w.T)  # the engine multiplies x @ W with W [in, out]
                lin.bias.copy_(b)
            layers.append(lin)
        self.layers = torch.nn.ModuleList(layers)
        self.log_std = torch.nn.Parameter(weights[-1].clone())

    def log_probs(self, b):
        obs, a = b["obs"], b["actions"]
        B, T, od = obs.shape
        h = obs.reshape(B * T, od)
        for i, lin in enumerate(self.layers):
            h = lin(h)
            if i < len(self.layers) - 1:
                h = F.relu(h)
        mu = torch.tanh(h)
        ls = self.log_std.clamp(self.spec["logStdMin"], self.spec["logStdMax"])
        z = (a.reshape(B * T, -1) - mu) / ls.exp()
        lp = (-0.5 * z.square()).sum(1) - (ls.sum() + mu.shape[1] * HALF_LOG_2PI)
        return lp.reshape(B, T)


class Transformer(torch.nn.Module):
    """policies/transformer.ts: pre-LN causal transformer, BOS in front, tied head."""

    def __init__(self, spec, weights):
        super().__init__()
        self.spec = spec
        ws = iter(weights)
        P = lambda: torch.nn.Parameter(next(ws).clone())  # noqa: E731
        self.wte, self.wpe = P(), P()
        self.blocks = torch.nn.ModuleList()
        for _ in range(spec["nLayers"]):
            blk = torch.nn.Module()
            for name in ["ln1g", "ln1b", "wqkv", "bqkv", "wo", "bo", "ln2g", "ln2b", "wfc", "bfc", "wproj", "bproj"]:
                setattr(blk, name, P())
            self.blocks.append(blk)
        self.lnfg, self.lnfb = P(), P()
        self.head = None if spec["tied"] else P()

    def log_probs(self, b):
        tokens, valid = b["actions"], b["valid"]
        B, T = tokens.shape
        d, H = self.spec["dModel"], self.spec["nHeads"]
        dh = d // H
        bos = torch.full((B, 1), self.spec["bos"], dtype=tokens.dtype)
        inp = torch.cat([bos, tokens[:, : T - 1]], 1)
        key_valid = torch.cat([torch.ones(B, 1), valid[:, : T - 1]], 1)
        causal = torch.triu(torch.full((T, T), NEG), 1)
        bias = causal[None, None] + ((1 - key_valid) * NEG)[:, None, None, :]
        x = self.wte[inp] + self.wpe[:T]
        for blk in self.blocks:
            h = F.layer_norm(x, (d,), blk.ln1g, blk.ln1b, LN_EPS)
            qkv = h @ blk.wqkv + blk.bqkv
            q, k, v = (t.reshape(B, T, H, dh).transpose(1, 2) for t in qkv.split(d, -1))
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
            x = x + o.transpose(1, 2).reshape(B, T, d) @ blk.wo + blk.bo
            h2 = F.layer_norm(x, (d,), blk.ln2g, blk.ln2b, LN_EPS)
            x = x + F.gelu(h2 @ blk.wfc + blk.bfc, approximate="tanh") @ blk.wproj + blk.bproj
        hf = F.layer_norm(x, (d,), self.lnfg, self.lnfb, LN_EPS)
        logits = hf @ (self.head if self.head is not None else self.wte.T)
        return torch.log_softmax(logits, -1).gather(-1, tokens[..., None])[..., 0]


def trace_weights(logq, logref, mask, ws):
    """weights.ts logWeightRaw + clampedWeight (q = current: logq is detached)."""
    rho = (logq - logref) * mask
    s = rho.sum(1)
    raw = s * ws["temp"] if ws["aggregate"] == "sum" else s / mask.sum(1).clamp_min(1) * ws["temp"]
    w_min, w_max = ws["clamp"]
    logw = raw.clamp_max(math.log(w_max))
    if w_min > 0:
        logw = logw.clamp_min(math.log(w_min))
    if ws["normalize"]:
        logw = logw - torch.logsumexp(logw, 0) + math.log(logw.shape[0])
    return logw.exp()


def weighted_nll(logp, mask, w, norm):
    """objectives/loss.ts weightedNll."""
    per_trace = (logp * mask).sum(1)
    if norm == "trace":
        per_trace = per_trace / mask.sum(1).clamp_min(1)
        if w is not None:
            per_trace = per_trace * w
        return -per_trace.mean()
    if w is not None:
        per_trace = per_trace * w
    return -per_trace.sum() / mask.sum().clamp_min(1)


class Entry:
    def __init__(self, spec):
        self.spec = spec
        self.data = PaddedData(spec["data"])
        self.initial = [torch.from_numpy(b64(w["data"], np.float32).reshape(w["shape"])) for w in spec["weights"]]
        self.model = self.make_model()
        self.opt = self.make_opt(self.model)

    def make_model(self):
        p = self.spec["policy"]
        return GaussianMlp(p, self.initial) if p["kind"] == "gaussian-mlp" else Transformer(p, self.initial)

    def make_opt(self, model):
        o = self.spec["optim"]
        cls = torch.optim.AdamW if o["kind"] == "adamw" else torch.optim.Adam
        return cls(model.parameters(), lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"], weight_decay=o["weight_decay"])

    def loss(self, model, b):
        logp = model.log_probs(b)
        w = None
        if self.spec["method"] == "iw-sft":
            w = trace_weights(logp.detach(), b["ref"], b["mask"], self.spec["weights_settings"])
        return weighted_nll(logp, b["mask"], w, self.spec["train"]["loss_norm"])

    def check(self, idx):
        model = self.make_model()
        loss = self.loss(model, self.data.batch(torch.tensor(idx)))
        loss.backward()
        gn = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in model.parameters()))
        return {"loss": loss.item(), "grad_norm": gn.item()}

    def run(self, steps, seed):
        gen = torch.Generator().manual_seed(seed)
        o, B = self.spec["optim"], self.spec["train"]["batch_size"]
        clip = o["clip_grad_norm"]
        t0 = time.perf_counter()
        c0 = time.process_time()
        loss_v = float("nan")
        for s in range(steps):
            lr = learning_rate(o, s, steps)
            for g in self.opt.param_groups:
                g["lr"] = lr
            idx = torch.randint(0, self.data.n, (B,), generator=gen)
            loss = self.loss(self.model, self.data.batch(idx))
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            self.opt.step()
            loss_v = loss.item()
        return {
            "ms_per_step": (time.perf_counter() - t0) * 1000 / steps,
            "cpu_ms_per_step": (time.process_time() - c0) * 1000 / steps,
            "loss": loss_v,
        }


def main():
    entries = {}
    out = sys.stdout
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            cmd = req["cmd"]
            if cmd == "hello":
                if req.get("threads"):
                    torch.set_num_threads(int(req["threads"]))
                res = {"python": sys.version.split()[0], "torch": torch.__version__, "threads": torch.get_num_threads()}
            elif cmd == "setup":
                for spec in req["entries"]:
                    entries[spec["name"]] = Entry(spec)
                res = {"ok": True, "entries": list(entries)}
            elif cmd == "check":
                res = entries[req["name"]].check(req["idx"])
            elif cmd == "run":
                res = entries[req["name"]].run(int(req["steps"]), int(req.get("seed", 0)))
            elif cmd == "quit":
                out.write(json.dumps({"ok": True}) + "\n")
                out.flush()
                return
            else:
                res = {"error": f"unknown command {cmd!r}"}
        except Exception as e:  # an answer, never a hung pipe
            res = {"error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(res) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
