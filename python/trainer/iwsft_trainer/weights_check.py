"""The weight recipe on given log-probs, for the cross-implementation parity test
(tests/integration/trl-weights.test.ts): python -m iwsft_trainer.weights_check IN.json OUT.json

IN.json:  {"cases": [{"settings": <weights settings>, "traces": [{"logq": [...], "logref": [...], "mask": [...]}]}]}
          settings as the RunConfig's `weights` (temp, aggregate, per_step, clamp, normalize), or
          {"variant": "per_step", "step_clip": [lo, hi]} for the per-step variant
OUT.json: {"cases": [{"log_w_raw": [...], "w": [...]}  or  {"w_per_step": [[...] per trace]}]}
Traces of different lengths are right-padded with mask 0, as the trainer's batches are.
Computed in float32, as the trainer (and the engine) computes them.
"""

from __future__ import annotations

import json
import sys

import torch

from .weights import clamped_weight, log_weight_raw, per_step_weight


def padded(traces: list[dict], key: str) -> torch.Tensor:
    T = max(len(t[key]) for t in traces)
    return torch.tensor([list(t[key]) + [0.0] * (T - len(t[key])) for t in traces], dtype=torch.float32)


def run_case(case: dict) -> dict:
    s = case["settings"]
    traces = case["traces"]
    logq, logref, mask = padded(traces, "logq"), padded(traces, "logref"), padded(traces, "mask")
    if s.get("variant") == "per_step":
        w = per_step_weight(logq, logref, mask, s["step_clip"])
        return {"w_per_step": [w[i, : len(t["mask"])].tolist() for i, t in enumerate(traces)]}
    raw = log_weight_raw(logq, logref, mask, s)
    return {"log_w_raw": raw.tolist(), "w": clamped_weight(raw, s).tolist()}


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit("usage: python -m iwsft_trainer.weights_check IN.json OUT.json")
    with open(argv[0], encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    out = {"cases": [run_case(c) for c in cases]}
    with open(argv[1], "w", encoding="utf-8") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main(sys.argv[1:])
