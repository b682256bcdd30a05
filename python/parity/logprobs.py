"""Per-token log-probs of token-id sequences with a transformers causal LM (the reference).

logprob[t] = log_softmax(logits[t - 1])[ids[t]] for t >= 1, computed in float32.
Padded batches pass an explicit attention mask and explicit position ids:
right padding: position t = t; left padding: position = (cumsum(mask) - 1) clamped at 0,
as transformers' generate() does, so each real token keeps the position it has unpadded.
"""

from __future__ import annotations

from typing import Sequence

import torch

from common import f32_list


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int, side: str) -> dict[str, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        if side == "right":
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s)] = 1
        else:
            ids[i, width - len(s) :] = torch.tensor(s)
            mask[i, width - len(s) :] = 1
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    return {"input_ids": ids, "attention_mask": mask, "position_ids": pos}


@torch.no_grad()
def forward_logits(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    out = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        position_ids=batch["position_ids"],
        use_cache=False,
    )
    return out.logits.float()


def token_logprobs(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """[B, L, V] logits, [B, L] ids -> [B, L] where [:, t] = log p(ids[t] | ids[<t]); [:, 0] = nan."""
    lp = torch.log_softmax(logits.float(), dim=-1)
    out = torch.full(ids.shape, float("nan"), dtype=torch.float32)
    out[:, 1:] = lp[:, :-1].gather(-1, ids[:, 1:, None])[..., 0]
    return out


def padded_reference(model, seqs: Sequence[Sequence[int]], pad_id: int, side: str) -> tuple[dict, list[list[float]]]:
    """The fixture's padded-batch block and the per-sequence (unpadded-order) log-probs it gives."""
    batch = pad_batch(seqs, pad_id, side)
    logits = forward_logits(model, batch)
    lp = token_logprobs(logits, batch["input_ids"])
    mask = batch["attention_mask"]
    both = torch.zeros_like(mask, dtype=torch.bool)
    both[:, 1:] = (mask[:, 1:] == 1) & (mask[:, :-1] == 1)
    padded = [[float(v) if ok else None for v, ok in zip(f32_list(row), okrow)] for row, okrow in zip(lp, both.tolist())]
    per_seq = []
    for i, s in enumerate(seqs):
        start = 0 if side == "right" else mask.shape[1] - len(s)
        per_seq.append(f32_list(lp[i, start + 1 : start + len(s)]))
    block = {
        "input_ids": batch["input_ids"].tolist(),
        "attention_mask": mask.tolist(),
        "position_ids": batch["position_ids"].tolist(),
        "logprobs": padded,
        "logprobs_per_sequence": per_seq,
    }
    return block, per_seq


def single_reference(model, seqs: Sequence[Sequence[int]]) -> list[list[float]]:
    """Each sequence alone, no padding: the plainest reference."""
    out = []
    for s in seqs:
        batch = pad_batch([s], 0, "right")
        lp = token_logprobs(forward_logits(model, batch), batch["input_ids"])
        out.append(f32_list(lp[0, 1:]))
    return out


def max_abs_diff(a: list[list[float]], b: list[list[float]]) -> float:
    return max((abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb)), default=0.0)
