"""Group 1: ggml block-format test vectors (raw block bytes -> gguf-py's dequantised float32)."""

from __future__ import annotations

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

from common import FIXTURES, bytes_b64, f32_b64, versions, write_json
from kquants import QUANTIZERS as K_QUANTIZERS, pack_q5_k, pack_q6_k, pack_scale_min_k4

TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"]

# Byte ranges holding an f16 scale/min in each block (overwritten with finite values in the
# random-bits case so that random bytes cannot make a NaN/Inf scale).
F16_FIELDS = {
    "Q8_0": [0], "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2],
    "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208],
}


def f16_bytes(*vals: float) -> bytes:
    return np.array(vals, dtype="<f2").tobytes()


def u16_bytes(*vals: int) -> bytes:
    return np.array(vals, dtype="<u2").tobytes()


def quantize(values: np.ndarray, name: str) -> np.ndarray:
    qtype = T[name]
    if name in K_QUANTIZERS:
        return K_QUANTIZERS[name](values).reshape(-1)
    out = gguf.quants.quantize(values.reshape(1, -1), qtype)
    return np.ascontiguousarray(out).view(np.uint8).reshape(-1)


def weights_like(rng: np.random.Generator, n: int) -> np.ndarray:
    """Weight-like values: N(0, 0.05) with a few outliers and some blocks at other magnitudes."""
    x = rng.standard_normal(n).astype(np.float32) * 0.05
    x[rng.integers(0, n, size=max(1, n // 64))] *= 20.0
    return x


def random_bits(rng: np.random.Generator, name: str, n_blocks: int) -> np.ndarray:
    block, size = gguf.GGML_QUANT_SIZES[T[name]]
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    if name in ("F32", "F16", "BF16"):
        width = {"F32": 4, "F16": 2, "BF16": 2}[name]
        words = raw.reshape(-1).view({4: "<u4", 2: "<u2"}[width]).copy()
        exp_mask = {"F32": 0x7F800000, "F16": 0x7C00, "BF16": 0x7F80}[name]
        is_special = (words & exp_mask) == exp_mask  # Inf or NaN: knock one exponent bit off
        one_step = {"F32": 0x00800000, "F16": 0x0400, "BF16": 0x0080}[name]
        words[is_special] -= one_step
        return words.view(np.uint8)
    for off in F16_FIELDS[name]:
        scales = (rng.standard_normal(n_blocks) * 0.01).astype("<f2")
        raw[:, off : off + 2] = scales.view(np.uint8).reshape(n_blocks, 2)
    return raw.reshape(-1)


def edge_blocks(rng: np.random.Generator, name: str) -> tuple[bytes, str]:
    """Hand-built blocks: negative scales, min and max codes, extreme and subnormal scales."""
    if name == "F32":
        vals = np.array([0.0, -0.0, 1.0, -1.0, 1e-45, -1e-40, 3.4028234663852886e38, -3.4028234663852886e38,
                         np.inf, -np.inf, 1.17549435e-38, 0.1, -2.5, 65504.0, 1e-8, 123456.789], dtype="<f4")
        return vals.tobytes(), "zeros, +-1, subnormals, +-max float32, +-Inf (no NaN), smallest normal, others"
    if name == "F16":
        words = [0x0000, 0x8000, 0x3C00, 0xBC00, 0x0001, 0x8001, 0x03FF, 0x0400, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00,
                 0x3555, 0x4248, 0xC000, 0x1234]
        return u16_bytes(*words), "+-0, +-1, +-smallest subnormal, largest subnormal, smallest normal, +-65504, +-Inf, others"
    if name == "BF16":
        words = [0x0000, 0x8000, 0x3F80, 0xBF80, 0x0001, 0x8001, 0x007F, 0x0080, 0x7F7F, 0xFF7F, 0x7F80, 0xFF80,
                 0x3DCD, 0x4049, 0xC120, 0x1234]
        return u16_bytes(*words), "+-0, +-1, +-smallest subnormal, largest subnormal, smallest normal, +-max, +-Inf, others"

    blocks: list[bytes] = []
    if name == "Q8_0":
        q1 = np.array([-128, 127, 0, -1, 1] + list(rng.integers(-128, 128, 27)), dtype=np.int8)
        blocks.append(f16_bytes(-0.5) + q1.tobytes())
        blocks.append(u16_bytes(0x0001) + rng.integers(-128, 128, 32).astype(np.int8).tobytes())  # subnormal d
        blocks.append(f16_bytes(65504.0) + np.array([127, -128] * 16, dtype=np.int8).tobytes())
        return b"".join(blocks), "d=-0.5 with codes -128/127/0; subnormal d; d=65504 with codes +-max"
    if name in ("Q4_0", "Q4_1"):
        lo_hi = np.array([0x0F, 0xF0] * 8, dtype=np.uint8)  # values 15/0 alternating, high nibbles 0/15
        allmax = np.full(16, 0xFF, dtype=np.uint8)
        allmin = np.zeros(16, dtype=np.uint8)
        rand = rng.integers(0, 256, 16).astype(np.uint8)
        if name == "Q4_0":
            blocks += [f16_bytes(-1.25) + lo_hi.tobytes(), f16_bytes(0.03125) + allmax.tobytes(),
                       f16_bytes(-65504.0) + allmin.tobytes(), u16_bytes(0x0001) + rand.tobytes()]
            note = "negative d with codes 0/15; all code 15; d=-65504 all code 0; subnormal d"
        else:
            blocks += [f16_bytes(-1.25, -3.0) + lo_hi.tobytes(), f16_bytes(0.03125, 2.5) + allmax.tobytes(),
                       f16_bytes(-65504.0, 65504.0) + allmin.tobytes(), f16_bytes(0.01, -0.0) + rand.tobytes()]
            note = "negative d and m with codes 0/15; all code 15 positive m; extreme d/m all code 0; m=-0"
        return b"".join(blocks), note
    if name in ("Q5_0", "Q5_1"):
        head_a = f16_bytes(-0.75) if name == "Q5_0" else f16_bytes(-0.75, -1.5)
        head_b = f16_bytes(0.0625) if name == "Q5_0" else f16_bytes(0.0625, 4.0)
        head_c = f16_bytes(1000.0) if name == "Q5_0" else f16_bytes(1000.0, -2000.0)
        blocks.append(head_a + u16_bytes(0xFFFF, 0xFFFF) + np.full(16, 0xFF, np.uint8).tobytes())  # all code 31
        blocks.append(head_b + u16_bytes(0, 0) + np.zeros(16, np.uint8).tobytes())  # all code 0
        qh = np.array([0xAAAA5555], dtype="<u4").tobytes()
        blocks.append(head_c + qh + rng.integers(0, 256, 16).astype(np.uint8).tobytes())
        return b"".join(blocks), "negative scale(s) with all code 31; all code 0; alternating high bits, random nibbles"
    if name in ("Q4_K", "Q5_K"):
        nmax = 15 if name == "Q4_K" else 31
        ls1 = np.full((1, 8), 63)
        lm1 = np.zeros((1, 8))
        ls2 = rng.integers(0, 64, (1, 8))
        lm2 = np.array([[0, 63, 1, 62, 31, 32, 15, 48]])
        ls3 = np.array([[63, 0, 63, 0, 63, 0, 63, 0]])
        lm3 = np.full((1, 8), 63)
        q1 = np.tile(np.array([0, nmax]), 128)[None]
        q2 = rng.integers(0, nmax + 1, (1, 256))
        q3 = np.full((1, 256), nmax)
        heads = [f16_bytes(-0.75, -0.5), f16_bytes(0.002, 0.001), f16_bytes(65504.0, -65504.0)]
        for (ls, lm, q), head in zip([(ls1, lm1, q1), (ls2, lm2, q2), (ls3, lm3, q3)], heads):
            d = np.frombuffer(head[:2], np.uint8)[None]
            dmin = np.frombuffer(head[2:], np.uint8)[None]
            scales = pack_scale_min_k4(ls, lm)
            if name == "Q4_K":
                from kquants import _pack_nibbles_k

                blocks.append(np.concatenate([d, dmin, scales, _pack_nibbles_k(q.astype(np.uint8))], axis=1).tobytes())
            else:
                blocks.append(pack_q5_k(d, dmin, scales, q.astype(np.uint8)).tobytes())
        return b"".join(blocks), ("negative d/dmin, 6-bit scales all 63, codes 0/max alternating; "
                                   "random scales, mins 0..63 incl. both bit halves, random codes; "
                                   "d=+65504 dmin=-65504, alternating 63/0 scales, all code max")
    if name == "Q6_K":
        s1 = np.array([-128, 127] * 8, dtype=np.int8)[None]
        s2 = rng.integers(-128, 128, (1, 16)).astype(np.int8)
        q1 = np.tile(np.array([0, 63]), 128)[None].astype(np.uint8)
        q2 = rng.integers(0, 64, (1, 256)).astype(np.uint8)
        q3 = np.full((1, 256), 32, np.uint8)  # value 0 everywhere
        blocks.append(pack_q6_k(q1, s1, np.frombuffer(f16_bytes(-0.01), np.uint8)[None]).tobytes())
        blocks.append(pack_q6_k(q2, s2, np.frombuffer(u16_bytes(0x0001), np.uint8)[None]).tobytes())
        blocks.append(pack_q6_k(q3, s1, np.frombuffer(f16_bytes(500.0), np.uint8)[None]).tobytes())
        return b"".join(blocks), "negative d, scales -128/127, codes 0/63; subnormal d random; all code 32 (value 0)"
    raise ValueError(name)


def dequantize(raw: np.ndarray, name: str) -> np.ndarray:
    """The reference: gguf-py's own numpy dequantiser."""
    out = gguf.quants.dequantize(np.ascontiguousarray(raw, dtype=np.uint8), T[name])
    return np.asarray(out, dtype=np.float32).reshape(-1)


def make_case(case: str, name: str, raw: np.ndarray | bytes, note: str) -> dict:
    raw = np.frombuffer(raw, np.uint8) if isinstance(raw, bytes) else raw
    block, size = gguf.GGML_QUANT_SIZES[T[name]]
    assert raw.size % size == 0
    values = dequantize(raw, name)
    assert values.size == raw.size // size * block
    return {
        "case": case,
        "note": note,
        "n_blocks": raw.size // size,
        "n_values": int(values.size),
        "bytes_b64": bytes_b64(raw),
        "values_f32le_b64": f32_b64(values),
        "finite": bool(np.isfinite(values).all()),
    }


def build(seed: int = 1234) -> dict:
    rng = np.random.default_rng(seed)
    types = []
    for name in TYPES:
        qtype = T[name]
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        n_blocks = 3 if block == 256 else (4 if block == 32 else 96)  # F32/F16/BF16 have block 1
        n_values = n_blocks * block
        cases = []
        x = weights_like(rng, n_values)
        raw = quantize(x, name)
        how = "gguf.quants.quantize" if name not in K_QUANTIZERS else "python/parity/kquants.py (gguf-py cannot quantise K-quants)"
        cases.append(make_case("quantized", name, raw, f"N(0, 0.05) weights with x20 outliers, quantised by {how}"))
        wide = (rng.standard_normal(n_values) * np.repeat(10.0 ** rng.integers(-4, 3, n_blocks), block)).astype(np.float32)
        cases.append(make_case("quantized-wide", name, quantize(wide, name), f"blocks at magnitudes 1e-4..1e2, quantised by {how}"))
        cases.append(make_case("random-bits", name, random_bits(rng, name, n_blocks),
                               "random bytes; f16 scale fields replaced by finite N(0, 0.01) values (both signs)"
                               if name in F16_FIELDS else "random bit patterns with Inf/NaN exponents knocked down one step"))
        raw_edge, note = edge_blocks(rng, name)
        cases.append(make_case("edge", name, raw_edge, note))
        types.append({"type": name, "ggml_type": int(qtype), "block_size": block, "type_size": size, "cases": cases})
    return {
        "about": "ggml block bytes and the float32 values gguf-py's numpy dequantiser (gguf.quants.dequantize) gives for them",
        "seed": seed,
        "versions": versions(),
        "types": types,
    }


def main(seed: int = 1234) -> None:
    write_json(FIXTURES / "quant" / "vectors.json", build(seed), indent=1)
