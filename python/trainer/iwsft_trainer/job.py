"""Read and check a job folder (python/trainer/README.md, "The job folder"). Every problem is a
JobError naming the file, the line or field, and what is wrong, before any model is loaded."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Iterator

FORMAT = "iwsft-job/1"
IW_METHODS = {"iw-sft", "iw-sft-q", "iw-sft-step", "iw-sft-q-step"}
PER_STEP_METHODS = {"iw-sft-step", "iw-sft-q-step"}
QUALITY_BIN_METHODS = {"sft-q", "iw-sft-q", "iw-sft-q-step"}
METHODS = {"bc", "sft", *QUALITY_BIN_METHODS, *IW_METHODS}


class JobError(Exception):
    """A job folder that cannot be run as it is; the message says where and what to do."""


@dataclass
class Trace:
    index: int
    input_ids: list[int]
    mask: list[int]
    multiplicity: int
    score: float
    id: str = ""


@dataclass
class Job:
    dir: str
    manifest: dict[str, Any]
    config: dict[str, Any]
    traces: list[Trace]
    """curated traces, sorted by workbench index"""
    by_index: dict[int, Trace]
    batches: list[list[int]]
    ref_logprobs: dict[int, list[float]] | None
    model_path: str = ""
    gguf_file: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return self.config["method"]

    @property
    def importance_weighted(self) -> bool:
        return self.method in IW_METHODS

    @property
    def per_step(self) -> bool:
        return self.method in PER_STEP_METHODS

    @property
    def uses_reference(self) -> bool:
        """π_ref is needed by every method but BC (weights; the snapshots of SFT runs)."""
        return self.method != "bc"

    def path(self, *parts: str) -> str:
        return os.path.join(self.dir, *parts)


def _load_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise JobError(f"{path}: missing; a job folder needs job.json, config.json, data.jsonl and batches.json") from None
    except json.JSONDecodeError as e:
        raise JobError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None


def _jsonl_objects(path: str) -> Iterator[tuple[str, dict]]:
    """(where, row) for each non-blank line of a JSONL file, where = "FILE line N"; a line that is
    not a JSON object is an error naming it."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path} line {n}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise JobError(f"{where}: not valid JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise JobError(f"{where}: must be a JSON object")
            yield where, row


def _need(obj: dict, key: str, kind: type | tuple, where: str) -> Any:
    if key not in obj:
        raise JobError(f"{where}: field '{key}' is missing")
    v = obj[key]
    if not isinstance(v, kind) or (kind in (int, float, (int, float)) and isinstance(v, bool)):
        raise JobError(f"{where}: field '{key}' must be {getattr(kind, '__name__', kind)}, got {json.dumps(v)[:60]}")
    return v


def _load_object(p: str, what: str = "") -> dict:
    """A JSON file that must hold one object."""
    v = _load_json(p)
    if not isinstance(v, dict):
        raise JobError(f"{p}: must be a JSON object{what}")
    return v


def _read_manifest(d: str) -> dict:
    p = os.path.join(d, "job.json")
    m = _load_object(p)
    if m.get("format") != FORMAT:
        raise JobError(f"{p}: field 'format' is {json.dumps(m.get('format'))}; this trainer reads {FORMAT!r}")
    _need(m, "total_steps", int, p)
    model = _need(m, "model", dict, p)
    if model.get("format") not in ("hf", "gguf"):
        raise JobError(f"{p}: field 'model.format' must be \"hf\" or \"gguf\", got {json.dumps(model.get('format'))}")
    _need(model, "path", str, p + " model")
    if model["format"] == "gguf" and not isinstance(model.get("gguf_file"), str):
        raise JobError(f"{p}: a GGUF model needs 'model.gguf_file' (the .gguf file name in model.path)")
    if m.get("finetune") not in ("lora", "full"):
        raise JobError(f"{p}: field 'finetune' must be \"lora\" or \"full\", got {json.dumps(m.get('finetune'))}")
    return m


def _read_config(d: str) -> dict:
    p = os.path.join(d, "config.json")
    c = _load_object(p, " (the workbench's resolved RunConfig)")
    for key in ("method", "weights", "optim", "train", "seed", "policy"):
        if key not in c:
            raise JobError(f"{p}: field '{key}' is missing (write the resolved RunConfig)")
    if c["method"] not in METHODS:
        raise JobError(f"{p}: field 'method' is {json.dumps(c['method'])}; one of {sorted(METHODS)}")
    o, t, w = c["optim"], c["train"], c["weights"]
    for k in ("kind", "lr", "betas", "eps", "weight_decay", "warmup_steps", "schedule", "clip_grad_norm"):
        if k not in o:
            raise JobError(f"{p}: field 'optim.{k}' is missing")
    if o["kind"] not in ("adam", "adamw"):
        raise JobError(f"{p}: 'optim.kind' must be \"adam\" or \"adamw\"")
    for k in ("steps", "batch_size", "loss_norm", "log_every", "snapshot_every"):
        if k not in t:
            raise JobError(f"{p}: field 'train.{k}' is missing")
    if t.get("step_sample") is not None:
        raise JobError(f"{p}: 'train.step_sample' needs a Markov policy; a language model needs whole sequences: set it to null")
    for k in ("temp", "aggregate", "per_step", "clamp", "normalize", "step_clip", "q"):
        if k not in w:
            raise JobError(f"{p}: field 'weights.{k}' is missing")
    if c["policy"].get("kind") != "llm":
        raise JobError(f"{p}: 'policy.kind' is {json.dumps(c['policy'].get('kind'))}; the Python trainer fine-tunes language models (\"llm\")")
    return c


def _read_data(d: str) -> list[Trace]:
    p = os.path.join(d, "data.jsonl")
    if not os.path.exists(p):
        raise JobError(f"{p}: missing; a job folder needs the curated traces as JSONL")
    traces: list[Trace] = []
    seen: set[int] = set()
    for where, row in _jsonl_objects(p):
        idx = _need(row, "index", int, where)
        ids = _need(row, "input_ids", list, where)
        mask = _need(row, "mask", list, where)
        mult = row.get("multiplicity", 1)
        if idx in seen:
            raise JobError(f"{where}: trace index {idx} appears twice")
        if not ids or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in ids):
            raise JobError(f"{where}: 'input_ids' must be a non-empty list of token ids (integers ≥ 0)")
        if len(mask) != len(ids) or not all(x in (0, 1) for x in mask):
            raise JobError(f"{where}: 'mask' must be {len(ids)} values of 0 or 1 (one per input id), got {len(mask)}")
        if not isinstance(mult, int) or isinstance(mult, bool) or mult < 1:
            raise JobError(f"{where}: 'multiplicity' must be an integer ≥ 1 (data.jsonl holds curated traces only)")
        seen.add(idx)
        traces.append(Trace(idx, ids, mask, mult, float(row.get("score", 0.0)), str(row.get("id", ""))))
    if not traces:
        raise JobError(f"{p}: no traces")
    return sorted(traces, key=lambda t: t.index)


def _read_batches(d: str, by_index: dict[int, Trace], steps: int, batch_size: int) -> list[list[int]]:
    p = os.path.join(d, "batches.json")
    b = _load_json(p)
    if not isinstance(b, dict):
        raise JobError(f"{p}: must be {{\"steps\", \"batch_size\", \"batches\"}}")
    if b.get("steps") != steps or b.get("batch_size") != batch_size:
        raise JobError(f"{p}: steps {b.get('steps')} × batch_size {b.get('batch_size')} do not match config.json train.steps {steps} × train.batch_size {batch_size}")
    batches = b.get("batches")
    if not isinstance(batches, list) or len(batches) != steps:
        raise JobError(f"{p}: 'batches' must hold {steps} batches")
    for s, batch in enumerate(batches):
        if not isinstance(batch, list) or len(batch) != batch_size:
            raise JobError(f"{p}: batch {s} must hold {batch_size} trace indices")
        for i in batch:
            if i not in by_index:
                raise JobError(f"{p}: batch {s} names trace {i}, which is not in data.jsonl")
    return batches


def _read_ref(d: str, by_index: dict[int, Trace]) -> dict[int, list[float]] | None:
    p = os.path.join(d, "ref_logprobs.jsonl")
    if not os.path.exists(p):
        return None
    out: dict[int, list[float]] = {}
    for where, row in _jsonl_objects(p):
        idx = _need(row, "index", int, where)
        lp = _need(row, "logprobs", list, where)
        if idx not in by_index:
            continue  # a cache may cover more of the dataset than was curated
        if len(lp) != len(by_index[idx].input_ids):
            raise JobError(f"{where}: trace {idx} has {len(by_index[idx].input_ids)} tokens in data.jsonl but {len(lp)} log-probs")
        out[idx] = [float(x) for x in lp]
    missing = [i for i in by_index if i not in out]
    if missing:
        raise JobError(f"{p}: no log-probs for trace(s) {missing[:5]}; delete the file to score π_ref from the start model instead")
    return out


def read_job(d: str) -> Job:
    d = os.path.abspath(d)
    if not os.path.isdir(d):
        raise JobError(f"{d}: not a folder (give the job folder: python trainer/train.py DIR)")
    manifest = _read_manifest(d)
    config = _read_config(d)
    steps, B = config["train"]["steps"], config["train"]["batch_size"]
    if manifest["total_steps"] != steps:
        raise JobError(f"{os.path.join(d, 'job.json')}: total_steps {manifest['total_steps']} differs from config.json train.steps {steps}")
    traces = _read_data(d)
    by_index = {t.index: t for t in traces}
    batches = _read_batches(d, by_index, steps, B)
    ref = _read_ref(d, by_index)
    model = manifest["model"]
    model_path = model["path"] if os.path.isabs(model["path"]) else os.path.join(d, model["path"])
    if not os.path.exists(model_path):
        raise JobError(f"{os.path.join(d, 'job.json')}: model.path {model_path} does not exist")
    return Job(d, manifest, config, traces, by_index, batches, ref, model_path, model.get("gguf_file"))
