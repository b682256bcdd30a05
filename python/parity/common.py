"""Shared helpers for the parity fixture generator: paths, versions, seeds, lossless float storage."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "llm"
CACHE = Path(os.environ.get("IWSFT_CACHE_DIR", Path.home() / ".cache" / "iwsft"))


def set_torch_threads() -> None:
    """2 cores are shared by every helper on this machine: never take more than 2."""
    import torch

    torch.set_num_threads(2)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set (it may only be set once per process)
        pass


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:
        pass


def versions() -> dict[str, str]:
    """Versions of every library that shapes the numbers in a fixture."""
    import importlib.metadata as md
    import platform

    out = {"python": platform.python_version()}
    for pkg in ["torch", "transformers", "gguf", "tokenizers", "safetensors", "numpy", "peft"]:
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def f32_b64(values: np.ndarray) -> str:
    """Little-endian float32, base64: the lossless encoding the TS tests decode."""
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f4").tobytes()).decode("ascii")


def bytes_b64(raw: bytes | np.ndarray) -> str:
    if isinstance(raw, np.ndarray):
        raw = np.ascontiguousarray(raw).tobytes()
    return base64.b64encode(raw).decode("ascii")


def f32_list(values: Any) -> list:
    """float32 values as JSON numbers. A float32 widened to a double prints (repr) with enough
    digits to round-trip to the same float32, so the JSON is lossless."""
    arr = np.asarray(values, dtype=np.float32)
    return [float(v) for v in arr.reshape(-1)] if arr.ndim <= 1 else [f32_list(r) for r in arr]


def write_json(path: Path, obj: Any, indent: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, indent=indent, ensure_ascii=False, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path} ({path.stat().st_size} bytes)")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
