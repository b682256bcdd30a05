"""Importance weights, exactly as the engine forms them (src/main/engine/weights.ts; science.md,
"Importance weights"; paper eq. 11). Everything is in log space and exponentiated last, so a
trace whose log ratio sums to +1200 gives the clamp's upper bound, never inf or NaN. Weights are
never differentiated: callers pass detached log-probs.

Settings are the workbench's `weights` section of the RunConfig (a dict): temp, aggregate
("mean" | "sum"), per_step (None | {"clip_rho": [lo, hi]} | {"clip_ratio": [lo, hi]}),
clamp [w_min, w_max], normalize, step_clip [lo, hi].
"""

from __future__ import annotations

import math
from typing import Any

import torch

Settings = dict[str, Any]


def rho(logq: torch.Tensor, logref: torch.Tensor, per_step: dict | None) -> torch.Tensor:
    """ρ_t = log π_q − log π_ref with the optional per-step transform g: a clip of ρ_t, or a clip
    of the ratio exp(ρ_t) to [α_min, α_max] (= ρ_t to [log α_min, log α_max])."""
    r = logq - logref
    if not per_step:
        return r
    if "clip_rho" in per_step:
        lo, hi = per_step["clip_rho"]
    else:
        lo, hi = (math.log(per_step["clip_ratio"][0]), math.log(per_step["clip_ratio"][1]))
    return torch.clamp(r, lo, hi)


def log_weight_raw(logq: torch.Tensor, logref: torch.Tensor, mask: torch.Tensor, s: Settings) -> torch.Tensor:
    """Raw log w per trace [B]: k · Σ_t mask_t g(ρ_t), k = temp/|τ| ("mean", |τ| = masked steps) or temp ("sum")."""
    g = rho(logq, logref, s.get("per_step"))
    total = (g * mask).sum(dim=1)
    if s["aggregate"] == "sum":
        return total * s["temp"]
    length = torch.clamp(mask.sum(dim=1), min=1)
    return total / length * s["temp"]


def clamped_weight(log_w_raw: torch.Tensor, s: Settings, normalize: bool | None = None) -> torch.Tensor:
    """w = clamp(exp(log w_raw), w_min, w_max) as a clip of log w, then (normalize) batch
    self-normalisation w_i · B / Σ_j w_j by log-sum-exp, B = the rows given (the GLOBAL batch)."""
    w_min, w_max = s["clamp"]
    logw = torch.clamp(log_w_raw, max=math.log(w_max))
    if w_min > 0:
        logw = torch.clamp(logw, min=math.log(w_min))
    if s["normalize"] if normalize is None else normalize:
        logw = logw - torch.logsumexp(logw, dim=0) + math.log(log_w_raw.shape[0])
    return torch.exp(logw)


def per_step_weight(logq: torch.Tensor, logref: torch.Tensor, mask: torch.Tensor, step_clip: list[float]) -> torch.Tensor:
    """Per-step variant: w_t = clamp(exp(ρ_t), lo, hi) on masked steps, 0 elsewhere; no temperature."""
    lo, hi = step_clip
    lr = torch.clamp(logq - logref, max=math.log(hi))
    if lo > 0:
        lr = torch.clamp(lr, min=math.log(lo))
    return torch.exp(lr) * mask


def loss_weights(w_clamped: torch.Tensor, mass: torch.Tensor, normalize: bool) -> torch.Tensor:
    """w as the loss uses it over the whole curated set (engine scoring.ts lossWeights): self-normalised
    under the sampling mass μ, w_i · Σμ / Σ μ w, when `normalize`."""
    if not normalize:
        return w_clamped.clone()
    m = mass.double().sum()
    mw = (mass.double() * w_clamped.double()).sum()
    return (w_clamped.double() * m / mw).float() if mw > 0 else torch.zeros_like(w_clamped)


# ---- diagnostics, as src/shared/weight-stats.ts computes them ----

LOG_FLOOR_W = 1e-30


def _median(x: list[float]) -> float:
    s = sorted(x)
    n = len(s)
    if n == 0:
        return float("nan")
    return s[(n - 1) // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def clamp_fraction(log_values: list[float], clamp: list[float], mask: list[float] | None = None) -> float:
    """Share of the (masked) values strictly outside the clamp [lo, hi] (judged on the log)."""
    lo, hi = clamp
    llo = math.log(lo) if lo > 0 else -math.inf
    lhi = math.log(hi) if hi > 0 else -math.inf
    n = clipped = 0
    for i, v in enumerate(log_values):
        if mask is not None and not mask[i]:
            continue
        n += 1
        if v < llo or v > lhi:
            clipped += 1
    return clipped / n if n else 0.0


def weight_stats(log_w_raw: list[float], w: list[float], clamp: list[float]) -> dict[str, float]:
    """weightStats of src/shared/weight-stats.ts: raw and final log w min/median/max, ESS, ESS/N, clamp fraction."""
    n = len(w)
    logw = [math.log(max(v, LOG_FLOOR_W)) for v in w]
    s = sum(w)
    s2 = sum(v * v for v in w)
    ess = s * s / s2 if s2 > 0 else 0.0
    return {
        "logw_raw_min": min(log_w_raw),
        "logw_raw_median": _median(log_w_raw),
        "logw_raw_max": max(log_w_raw),
        "logw_min": min(logw),
        "logw_median": _median(logw),
        "logw_max": max(logw),
        "ess": ess,
        "ess_fraction": ess / n if n else 0.0,
        "clamp_fraction": clamp_fraction(log_w_raw, clamp),
    }


def step_weight_stats(w: torch.Tensor, rho_t: torch.Tensor, mask: torch.Tensor, step_clip: list[float]) -> dict[str, float]:
    """Mean w_t over masked steps and the share of them the step clip changed (engine stepWeightStats)."""
    m = mask.flatten().tolist()
    n = sum(1 for v in m if v)
    total = float((w * mask).sum())
    frac = clamp_fraction(rho_t.flatten().tolist(), step_clip, m)
    return {"step_w_mean": total / n if n else 0.0, "step_clip_fraction": frac}
