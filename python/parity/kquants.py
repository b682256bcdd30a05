"""Simple quantisers for the K-quant block formats gguf-py cannot quantise (Q4_K, Q5_K, Q6_K).

gguf-py 0.19 dequantises these types but raises NotImplementedError when asked to quantise
them. These produce valid, realistic blocks (finite f16 scales, codes spread over the range);
they are NOT llama.cpp's optimising quantisers (no iterative scale search), which does not
matter: the fixtures test DEquantisation, and the expected values always come from gguf-py's
own `gguf.quants.dequantize` on the bytes written here.

Layouts (ggml-quants.c, block_q4_K / block_q5_K / block_q6_K; QK_K = 256):
- Q4_K: f16 d, f16 dmin, 12 bytes of packed 6-bit (scale, min) for 8 sub-blocks of 32,
  128 bytes of nibbles. x = d*sc_j*q - dmin*m_j.  (144 bytes)
- Q5_K: as Q4_K plus 32 bytes qh (bit j of byte l = 5th bit of value l of sub-block j)
  placed before the nibbles.  (176 bytes)
- Q6_K: 128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits), 16 int8 scales (one per
  16 values), f16 d. x = d*scale_i*(q - 32).  (210 bytes)
"""

from __future__ import annotations

import numpy as np

QK_K = 256


def _round(x: np.ndarray) -> np.ndarray:
    return np.floor(x + 0.5)


def pack_scale_min_k4(ls: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Pack 8 six-bit scales and 8 six-bit mins (each [n, 8], 0..63) into [n, 12] bytes."""
    ls = ls.astype(np.uint8)
    lm = lm.astype(np.uint8)
    out = np.zeros((ls.shape[0], 12), dtype=np.uint8)
    for j in range(4):
        out[:, j] = (ls[:, j] & 63) | ((ls[:, j + 4] >> 4) << 6)
        out[:, j + 4] = (lm[:, j] & 63) | ((lm[:, j + 4] >> 4) << 6)
        out[:, j + 8] = (ls[:, j + 4] & 0xF) | ((lm[:, j + 4] & 0xF) << 4)
    return out


def _pack_nibbles_k(q: np.ndarray) -> np.ndarray:
    """[n, 256] codes 0..15 -> [n, 128]: in each 64-value chunk byte l = q[l] | q[l+32] << 4."""
    n = q.shape[0]
    q = q.astype(np.uint8).reshape(n, 4, 2, 32)
    return (q[:, :, 0, :] | (q[:, :, 1, :] << 4)).reshape(n, 128)


def _f16(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float16).reshape(-1, 1).view(np.uint8)


def _affine_k(blocks: np.ndarray, nmax: int):
    """Shared by Q4_K/Q5_K: per-32 scale and min, then 6-bit quantised against d and dmin."""
    n = blocks.shape[0]
    sub = blocks.reshape(n, 8, 32)
    mn = np.minimum(sub.min(axis=-1), 0.0)  # ggml keeps min <= 0
    mx = sub.max(axis=-1)
    scale = (mx - mn) / nmax
    minv = -mn
    d = (scale.max(axis=-1) / 63).astype(np.float16)
    dmin = (minv.max(axis=-1) / 63).astype(np.float16)
    d32 = d.astype(np.float32)[:, None]
    dmin32 = dmin.astype(np.float32)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        ls = np.where(d32 > 0, np.clip(_round(scale / d32), 0, 63), 0)
        lm = np.where(dmin32 > 0, np.clip(_round(minv / dmin32), 0, 63), 0)
        eff_s = (d32 * ls)[:, :, None]
        eff_m = (dmin32 * lm)[:, :, None]
        q = np.where(eff_s > 0, np.clip(_round((sub + eff_m) / eff_s), 0, nmax), 0)
    return d, dmin, ls, lm, q.reshape(n, QK_K)


def quantize_q4_k(x: np.ndarray) -> np.ndarray:
    blocks = np.asarray(x, dtype=np.float32).reshape(-1, QK_K)
    d, dmin, ls, lm, q = _affine_k(blocks, 15)
    return np.concatenate([_f16(d), _f16(dmin), pack_scale_min_k4(ls, lm), _pack_nibbles_k(q)], axis=1)


def quantize_q5_k(x: np.ndarray) -> np.ndarray:
    blocks = np.asarray(x, dtype=np.float32).reshape(-1, QK_K)
    d, dmin, ls, lm, q = _affine_k(blocks, 31)
    return pack_q5_k(_f16(d), _f16(dmin), pack_scale_min_k4(ls, lm), q.astype(np.uint8))


def pack_q5_k(d: np.ndarray, dmin: np.ndarray, scales: np.ndarray, q: np.ndarray) -> np.ndarray:
    """q: [n, 256] codes 0..31."""
    n = q.shape[0]
    low = q & 0xF
    high = (q >> 4).reshape(n, 8, 32)  # sub-block j, value l
    qh = np.zeros((n, 32), dtype=np.uint8)
    for j in range(8):
        qh |= (high[:, j, :] << j).astype(np.uint8)
    return np.concatenate([d, dmin, scales, qh, _pack_nibbles_k(low)], axis=1)


def quantize_q6_k(x: np.ndarray) -> np.ndarray:
    blocks = np.asarray(x, dtype=np.float32).reshape(-1, QK_K)
    n = blocks.shape[0]
    sub = blocks.reshape(n, 16, 16)
    imax = np.abs(sub).argmax(axis=-1)[..., None]
    amax = np.take_along_axis(sub, imax, axis=-1)[..., 0]
    scale = amax / -32  # the largest-magnitude value maps to code -32
    jmax = np.abs(scale).argmax(axis=-1)[:, None]
    smax = np.take_along_axis(scale, jmax, axis=-1)
    d = (smax / -128).astype(np.float16)
    d32 = d.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        ls = np.where(d32 != 0, np.clip(_round(scale / d32), -128, 127), 0)
        eff = (d32 * ls)[:, :, None]
        q = np.where(eff != 0, np.clip(_round(sub / eff), -32, 31), 0) + 32
    return pack_q6_k(q.reshape(n, QK_K).astype(np.uint8), ls.astype(np.int8), d.reshape(-1, 1).view(np.uint8))


def pack_q6_k(q: np.ndarray, scales: np.ndarray, d: np.ndarray) -> np.ndarray:
    """q: [n, 256] codes 0..63 (value = code - 32); scales: [n, 16] int8; d: [n, 2] f16 bytes."""
    n = q.shape[0]
    q = q.reshape(n, 2, 4, 32)  # half h, quarter k, lane l -> value h*128 + k*32 + l
    low = q & 0xF
    high = q >> 4
    # ql: half h byte l (0..63) = low[h*128 + l] | low[h*128 + 64 + l] << 4
    low64 = low.reshape(n, 2, 2, 64)
    ql = (low64[:, :, 0, :] | (low64[:, :, 1, :] << 4)).reshape(n, 128)
    # qh: half h byte l (0..31) = high of quarters 0..3 at bits 0,2,4,6
    qh = (high[:, :, 0, :] | (high[:, :, 1, :] << 2) | (high[:, :, 2, :] << 4) | (high[:, :, 3, :] << 6)).reshape(n, 64)
    return np.concatenate([ql.astype(np.uint8), qh.astype(np.uint8), scales.view(np.uint8), d], axis=1)


QUANTIZERS = {"Q4_K": quantize_q4_k, "Q5_K": quantize_q5_k, "Q6_K": quantize_q6_k}
