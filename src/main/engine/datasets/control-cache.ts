// Made-on-first-use control datasets: an in-process memo plus an on-disk cache (default
// ./.iwsft-cache/control, git-ignored), so that a suite run generates each (task, kind, seed,
// size) once. The cache file is a small binary: a JSON header (format version, generator
// version, the key, names, ids, metadata, array lengths) then the typed arrays. A file whose
// version or key does not match, or that fails validation, is ignored and remade.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { validateDataset, type TraceDataset } from '../../common/trace.ts'
import { ARS_DEFAULTS } from './control-behaviour.ts'
import { EXPERTS } from './control-experts.ts'
import { makeControlDataset, REPLAY_ACTION_NOISE, type ControlDatasetKind, type ControlDatasetOptions } from './control.ts'

/** Bump when generation changes in a way the key does not capture. */
export const CONTROL_DATA_VERSION = 1

const memo = new Map<string, Promise<TraceDataset>>()

export interface CachedOptions extends ControlDatasetOptions {
  /** folder of the disk cache; null = memory only (default ./.iwsft-cache/control) */
  cacheDir?: string | null
  /** make it anew even if cached (the cache file is then overwritten) */
  refresh?: boolean
}

function cacheKey(task: string, kind: ControlDatasetKind, o: ControlDatasetOptions): string {
  const gen = createHash('sha256')
    // the noisy kind adds its noise; the other kinds' keys stay as they were
    .update(JSON.stringify({ v: CONTROL_DATA_VERSION, ars: ARS_DEFAULTS[task], expert: EXPERTS[task], ...(kind === 'replay-noisy-v1' ? { actionNoise: REPLAY_ACTION_NOISE } : {}) }))
    .digest('hex')
    .slice(0, 12)
  return `${task}-${kind}-s${o.seed}-${o.episodes ?? (o.quick ? 'quick' : 'default')}-${gen}`
}

/** The dataset, from memory, from the disk cache, or made now (and cached). */
export function controlCacheDir(): string {
  return join(process.cwd(), '.iwsft-cache', 'control')
}

export function getControlDataset(task: string, kind: ControlDatasetKind, opts: CachedOptions): Promise<TraceDataset> {
  const key = cacheKey(task, kind, opts)
  const hit = opts.refresh ? undefined : memo.get(key)
  if (hit) return hit
  const dir = opts.cacheDir === null ? null : resolve(opts.cacheDir ?? controlCacheDir())
  const { cacheDir: _c, refresh: _r, ...makeOpts } = opts
  const p = (async () => {
    const file = dir ? join(dir, `${key}.bin`) : null
    if (file && !opts.refresh && existsSync(file)) {
      const ds = readCache(file, key)
      if (ds) return ds
    }
    const ds = await makeControlDataset(task, kind, makeOpts)
    if (file && dir) {
      mkdirSync(dir, { recursive: true })
      const tmp = `${file}.${process.pid}.tmp`
      writeFileSync(tmp, encode(ds, key))
      renameSync(tmp, file)
    }
    return ds
  })()
  memo.set(key, p)
  p.catch(() => memo.delete(key))
  return p
}

const MAGIC = 'IWSFTCTL'

export function encode(ds: TraceDataset, key: string): Buffer {
  const arrays = [ds.offsets, ds.obs, ds.actions, ds.mask, ds.rewards ?? new Float32Array(0), ds.scores]
  const header = Buffer.from(
    JSON.stringify({
      version: CONTROL_DATA_VERSION,
      key,
      name: ds.name,
      kind: ds.kind,
      obsDim: ds.obsDim,
      actDim: ds.actDim,
      ids: ds.ids,
      meta: ds.meta,
      rewards: !!ds.rewards,
      lengths: arrays.map((a) => a.length)
    })
  )
  const parts: Buffer[] = [Buffer.from(MAGIC), Buffer.alloc(4)]
  parts[1].writeUInt32LE(header.length)
  parts.push(header)
  let off = 8 + 4 + header.length
  for (const a of arrays) {
    const pad = (8 - (off % 8)) % 8 // keep every array 8-byte aligned
    parts.push(Buffer.alloc(pad))
    off += pad
    parts.push(Buffer.from(a.buffer, a.byteOffset, a.byteLength))
    off += a.byteLength
  }
  return Buffer.concat(parts)
}

export function decode(buf: Buffer, key?: string): TraceDataset | null {
  if (buf.length < 12 || buf.toString('latin1', 0, 8) !== MAGIC) return null
  const hlen = buf.readUInt32LE(8)
  const h = JSON.parse(buf.toString('utf8', 12, 12 + hlen)) as {
    version: number
    key: string
    name: string
    kind: TraceDataset['kind']
    obsDim: number
    actDim: number
    ids: string[]
    meta?: Record<string, unknown>[]
    rewards: boolean
    lengths: number[]
  }
  if (h.version !== CONTROL_DATA_VERSION || (key !== undefined && h.key !== key)) return null
  const ctors = [Int32Array, Float32Array, h.kind === 'continuous' ? Float32Array : Int32Array, Uint8Array, Float32Array, Float64Array] as const
  let off = 12 + hlen
  const ab = new Uint8Array(buf).buffer // a copy with offset 0
  const out = ctors.map((C, i) => {
    off += (8 - (off % 8)) % 8
    const bytes = h.lengths[i] * C.BYTES_PER_ELEMENT
    const a = new C(ab.slice(off, off + bytes))
    off += bytes
    return a
  })
  const ds: TraceDataset = {
    name: h.name,
    kind: h.kind,
    obsDim: h.obsDim,
    actDim: h.actDim,
    offsets: out[0] as Int32Array,
    obs: out[1] as Float32Array,
    actions: out[2] as Float32Array | Int32Array,
    mask: out[3] as Uint8Array,
    rewards: h.rewards ? (out[4] as Float32Array) : undefined,
    scores: out[5] as Float64Array,
    ids: h.ids,
    meta: h.meta
  }
  return ds
}

function readCache(file: string, key: string): TraceDataset | null {
  try {
    const ds = decode(readFileSync(file), key)
    if (!ds) return null
    validateDataset(ds)
    return ds
  } catch {
    return null
  }
}

/** Forget the in-process memo (tests). */
export function clearControlMemo(): void {
  memo.clear()
}
