"""DIR/stream.jsonl: one JSON object per line, appended and flushed line by line, written by
rank 0 only (the other ranks get a writer that writes nothing)."""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timezone
from typing import Any


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _finite(x: Any) -> Any:
    """JSON has no NaN/inf: write them as null (the workbench reads a missing value)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    return x


class Stream:
    def __init__(self, path: str | None):
        self._f = open(path, "a", encoding="utf-8") if path else None
        self.ended = False

    def write(self, obj: dict[str, Any]) -> None:
        if self._f is None:
            return
        self._f.write(json.dumps(_finite(obj), allow_nan=False) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def end(self, status: str, error: str | None = None, final: dict | None = None, final_model: str | None = None) -> None:
        """The one `end` line of a run (later calls do nothing)."""
        if self.ended:
            return
        self.ended = True
        row: dict[str, Any] = {"type": "end", "status": status, "time": now_iso()}
        if error is not None:
            row["error"] = error
        row["final"] = final or {}
        if final_model is not None:
            row["final_model"] = final_model
        self.write(row)

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
