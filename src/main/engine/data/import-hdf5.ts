// Import of offline-RL HDF5 files (D4RL and Minari) into a TraceDataset, with h5wasm.
//
// D4RL layout (one flat buffer of N transitions at the file's root):
//   observations [N, obsDim] (or [N]), actions [N, actDim] (or [N]), rewards [N],
//   terminals [N], timeouts [N]
// Episodes end after step i when terminals[i] or timeouts[i] is non-zero. Steps after the
// last end form a trailing partial episode (a buffer cut mid-episode): it is KEPT, as its
// own trace with meta.partial = true, so no transition of the file is lost; a curation
// step can drop it by that flag. A file with no end at all is refused.
//
// Minari layout: groups episode_0, episode_1, … (imported in numeric order), each with
//   observations [T+1, obsDim] (the last one is the observation after the final step and is
//   dropped), actions [T, actDim], rewards [T], terminations [T], truncations [T].
// Every episode must end with a termination or a truncation at its last step.
// Minari names every file data/main_data.hdf5, so a Minari dataset is named (unless the caller
// names it) by its dataset id: the file's root attribute "dataset_id", else the "dataset_id" of
// the metadata.json beside it, else the folders above data/ (…/door/human-v2/data/main_data.hdf5
// → "door/human-v2").
//
// Reading is streamed: each key is read in chunks of `chunkRows` rows (default 65 536) into
// preallocated typed arrays, with progress after every chunk. Any bad input — a missing key,
// mismatched lengths, a NaN or infinite value, no episode end — throws a DatasetError that
// names the file, the key and the index, and nothing is returned.
//
// HDF5's C library prints its error stack ("HDF5-DIAG: Error detected…", ~40 lines) to stderr
// on every failed call. h5wasm can route that stack into a JS exception instead
// (activate_throwing_error_handler): it is switched on once, and the stack's innermost message
// ("file signature not found", "truncated file: …") goes into our own error. A file without the
// HDF5 signature is refused before the library sees it.
import { readFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs'
import { DatasetError, validateDataset, type TraceDataset } from '../../common/trace.ts'

export interface Hdf5ImportProgress {
  phase: 'read' | 'split'
  done: number
  total: number
}

export interface Hdf5ImportOptions {
  onProgress?: (p: Hdf5ImportProgress) => void
  /** dataset name (default: the file name without extension) */
  name?: string
  /** rows per read (default 65 536) */
  chunkRows?: number
}

type H5 = typeof import('h5wasm')
type H5Dataset = InstanceType<H5['Dataset']>
type H5Group = InstanceType<H5['Group']>
type H5File = InstanceType<H5['File']>

let h5Promise: Promise<H5> | null = null

/** h5wasm's Node build (host file system through NODERAWFS). Electron's main process
 *  defines `navigator`, which makes Emscripten think it runs in a browser: hide it while the
 *  module initialises (the workaround in h5wasm's README). */
export function getH5(): Promise<H5> {
  if (!h5Promise) {
    h5Promise = (async () => {
      const desc = Object.getOwnPropertyDescriptor(globalThis, 'navigator')
      const hide = desc?.configurable === true
      if (hide) Object.defineProperty(globalThis, 'navigator', { value: undefined, configurable: true, writable: true })
      try {
        const mod = (await import('h5wasm/node')) as unknown as H5 & { default?: H5 }
        const h5 = (mod.File ? mod : mod.default) as H5
        const module = await h5.ready
        // HDF5 errors become exceptions (with the error stack as their message), never stderr
        module.activate_throwing_error_handler()
        return h5
      } finally {
        if (hide && desc) Object.defineProperty(globalThis, 'navigator', desc)
      }
    })()
  }
  return h5Promise
}

const D4RL_KEYS = ['observations', 'actions', 'rewards', 'terminals', 'timeouts'] as const

/** What an HDF5 error says, in one line: the innermost frame of its error stack (the cause),
 *  else the message as it is. */
export function hdf5Reason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e)
  const frames = [...msg.matchAll(/#\d+: .* in [\w.]+\(\): (.*)$/gm)]
  return frames.length ? frames[frames.length - 1][1].trim() : msg.split('\n')[0]
}

/** The HDF5 format signature, at offset 0 or (after a user block) at 512, 1024, 2048, … */
const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a])

/** What a file that is not HDF5 looks like, from its first bytes (for the message). */
function looksLike(head: Buffer): string {
  const starts = (s: string | number[]): boolean => head.subarray(0, typeof s === 'string' ? s.length : s.length).equals(Buffer.from(s as never))
  if (starts('PK\x03\x04') || starts('PK\x05\x06')) return 'a zip archive (an .npz or a zipped folder?)'
  if (starts([0x1f, 0x8b])) return 'a gzip file; unpack it first'
  if (starts('PAR1')) return 'a Parquet file; import it as .parquet'
  if (starts('\x93NUMPY')) return 'a NumPy .npy array'
  if (starts('SQLite format 3')) return 'a SQLite database'
  if (head.length > 0 && head.subarray(0, Math.min(head.length, 64)).every((c) => c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127))) return 'text'
  return 'something else'
}

/** Null when the file carries the HDF5 signature, else what it looks like. */
function notHdf5(file: string): string | null {
  const fd = openSync(file, 'r')
  try {
    const size = statSync(file).size
    const buf = Buffer.alloc(8)
    for (let at = 0; at + 8 <= size; at = at === 0 ? 512 : at * 2) {
      readSync(fd, buf, 0, 8, at)
      if (buf.equals(HDF5_SIGNATURE)) return null
    }
    const head = Buffer.alloc(Math.min(size, 64))
    readSync(fd, head, 0, head.length, 0)
    return looksLike(head)
  } finally {
    closeSync(fd)
  }
}

function isDataset(h5: H5, e: unknown): e is H5Dataset {
  return e instanceof h5.Dataset
}
function isGroup(h5: H5, e: unknown): e is H5Group {
  return e instanceof h5.Group
}

/** A Minari dataset's id (see the file comment), or null when nothing names it. */
export function minariName(f: H5File, file: string): string | null {
  const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v.trim().slice(0, 200) : null)
  try {
    const id = text((f.attrs as Record<string, { value?: unknown }> | undefined)?.dataset_id?.value)
    if (id) return id
  } catch {
    // an unreadable attribute: try the other sources
  }
  try {
    const id = text((JSON.parse(readFileSync(join(dirname(file), 'metadata.json'), 'utf8')) as { dataset_id?: unknown }).dataset_id)
    if (id) return id
  } catch {
    // no metadata.json, or not JSON
  }
  const dir = dirname(file)
  if (!/^main_data\.(h5|hdf5)$/i.test(basename(file)) || basename(dir) !== 'data') return null
  const ds = dirname(dir)
  const parent = basename(dirname(ds))
  return parent && dirname(ds) !== ds ? `${parent}/${basename(ds)}` : basename(ds) || null
}

/** Read an HDF5 file of D4RL or Minari layout. */
export async function importHdf5(file: string, opts: Hdf5ImportOptions = {}): Promise<TraceDataset> {
  const h5 = await getH5()
  const fail = (msg: string): never => {
    throw new DatasetError(`${file}: ${msg}`)
  }
  if (!existsSync(file)) fail('no such file')
  const other = notHdf5(file)
  if (other !== null) fail(`is not an HDF5 file: it has no HDF5 signature and looks like ${other}; choose a D4RL or Minari .hdf5 file`)
  let f: H5File
  let keys: string[]
  try {
    f = new h5.File(file, 'r')
  } catch (e) {
    return fail(`is not a readable HDF5 file (${hdf5Reason(e)})`)
  }
  try {
    // h5wasm opens some non-HDF5 files without complaint and fails on the first read
    keys = f.keys()
  } catch (e) {
    try {
      f.close()
    } catch {
      /* ignore */
    }
    return fail(`is not a readable HDF5 file (${hdf5Reason(e)})`)
  }
  try {
    const name = opts.name ?? basename(file).replace(/\.(h5|hdf5|he5)$/i, '')
    if (keys.includes('observations')) return await readD4rl(h5, f, file, name, opts, fail)
    const episodes = keys.filter((k) => /^episode_\d+$/.test(k))
    if (episodes.length) return await readMinari(h5, f, file, opts.name ?? minariName(f, file) ?? name, episodes, opts, fail)
    return fail(`missing key "observations": neither a D4RL file (root keys ${D4RL_KEYS.join(', ')}) nor a Minari file (episode_N groups); root keys are [${keys.join(', ')}]`)
  } catch (e) {
    // an HDF5 error part-way (a damaged or truncated file): its cause, in one line
    if (e instanceof DatasetError) throw e
    return fail(`could not be read to the end (${hdf5Reason(e)}); the file may be damaged or truncated`)
  } finally {
    try {
      f.close()
    } catch {
      /* ignore */
    }
  }
}

interface Column {
  key: string
  rows: number
  /** values per row (1 for [N]) */
  width: number
  ds: H5Dataset
}

function column(h5: H5, g: H5Group, key: string, path: string, fail: (m: string) => never): Column {
  const e = g.get(key)
  if (e === null || e === undefined) return fail(`missing key "${path}"`)
  if (!isDataset(h5, e)) return fail(`key "${path}" is a ${isGroup(h5, e) ? 'group (dictionary spaces are not supported)' : 'link or type'}, expected an array`)
  const shape = e.shape
  if (!shape || shape.length === 0) return fail(`key "${path}" is a scalar, expected an array of rows`)
  if (shape.length > 2) return fail(`key "${path}" has shape [${shape.join(', ')}]; only [N] or [N, dim] arrays are supported`)
  const meta = e.metadata as { type: number; size: number }
  // h5wasm type classes: 0 integer, 1 float, 8 enum (h5py booleans)
  if (![0, 1, 8].includes(meta.type)) return fail(`key "${path}" does not hold numbers (HDF5 type class ${meta.type})`)
  return { key: path, rows: shape[0], width: shape.length === 2 ? shape[1] : 1, ds: e }
}

/** Stream rows [0, rows) of a column into out (row-major, width values a row), checking that
 *  every value is finite. */
async function readColumn(c: Column, rows: number, out: Float32Array | Uint8Array, chunkRows: number, fail: (m: string) => never, onChunk: (n: number) => void): Promise<void> {
  for (let start = 0; start < rows; start += chunkRows) {
    const end = Math.min(rows, start + chunkRows)
    const ranges = c.width === 1 && (c.ds.shape?.length ?? 1) === 1 ? [[start, end]] : [[start, end], []]
    const raw = c.ds.slice(ranges as never) as unknown as ArrayLike<number | bigint | boolean>
    const n = (end - start) * c.width
    if (!raw || raw.length !== n) fail(`key "${c.key}": reading rows ${start}..${end - 1} gave ${raw?.length ?? 0} values, expected ${n}`)
    const o = start * c.width
    if (out instanceof Uint8Array) {
      for (let i = 0; i < n; i++) out[o + i] = Number(raw[i]) !== 0 ? 1 : 0
    } else if (typeof raw[0] === 'number' || n === 0) {
      const src = raw as ArrayLike<number>
      for (let i = 0; i < n; i++) {
        const v = src[i]
        if (!Number.isFinite(v)) {
          const row = start + Math.floor(i / c.width)
          fail(`key "${c.key}" has ${v} at index ${row}${c.width > 1 ? `, column ${i % c.width}` : ''}`)
        }
        out[o + i] = v
      }
    } else {
      for (let i = 0; i < n; i++) out[o + i] = Number(raw[i])
    }
    onChunk(end - start)
    // let progress listeners (an IPC channel, a progress bar) run between chunks
    await yieldToEventLoop()
  }
}

const yieldToEventLoop = (): Promise<void> => new Promise((r) => setImmediate(r))

async function readD4rl(h5: H5, f: H5File, file: string, name: string, opts: Hdf5ImportOptions, fail: (m: string) => never): Promise<TraceDataset> {
  const cols = Object.fromEntries(D4RL_KEYS.map((k) => [k, column(h5, f, k, k, fail)])) as Record<(typeof D4RL_KEYS)[number], Column>
  const N = cols.observations.rows
  for (const k of D4RL_KEYS) {
    const c = cols[k]
    if (c.rows !== N) {
      fail(`key "${k}" has ${c.rows} rows but "observations" has ${N}: index ${Math.min(c.rows, N)} is missing from "${c.rows < N ? k : 'observations'}"`)
    }
    if (k !== 'observations' && k !== 'actions' && c.width !== 1) fail(`key "${k}" has shape [${N}, ${c.width}], expected [${N}]`)
  }
  if (N === 0) fail('key "observations" has no rows')
  const obsDim = cols.observations.width
  const actDim = cols.actions.width
  const chunk = opts.chunkRows ?? 65536
  const total = N * 5
  let done = 0
  const tick = (n: number): void => {
    done += n
    opts.onProgress?.({ phase: 'read', done, total })
  }
  const obs = new Float32Array(N * obsDim)
  const actions = new Float32Array(N * actDim)
  const rewards = new Float32Array(N)
  const terminals = new Uint8Array(N)
  const timeouts = new Uint8Array(N)
  await readColumn(cols.observations, N, obs, chunk, fail, tick)
  await readColumn(cols.actions, N, actions, chunk, fail, tick)
  await readColumn(cols.rewards, N, rewards, chunk, fail, tick)
  await readColumn(cols.terminals, N, terminals, chunk, fail, tick)
  await readColumn(cols.timeouts, N, timeouts, chunk, fail, tick)
  // split into episodes
  const ends: number[] = []
  for (let i = 0; i < N; i++) if (terminals[i] || timeouts[i]) ends.push(i + 1)
  if (ends.length === 0) fail(`no episode ends: "terminals" and "timeouts" are 0 at every index 0..${N - 1}`)
  const partial = ends[ends.length - 1] < N
  if (partial) ends.push(N)
  const E = ends.length
  const offsets = new Int32Array(E + 1)
  for (let e = 0; e < E; e++) offsets[e + 1] = ends[e]
  const scores = new Float64Array(E)
  const ids: string[] = new Array(E)
  const meta: Record<string, unknown>[] = new Array(E)
  for (let e = 0; e < E; e++) {
    let s = 0
    for (let t = offsets[e]; t < offsets[e + 1]; t++) s += rewards[t]
    scores[e] = s
    ids[e] = `${name}-${e}`
    const last = offsets[e + 1] - 1
    const isPartial = partial && e === E - 1
    meta[e] = {
      source: 'd4rl',
      file: basename(file),
      episode: e,
      start: offsets[e],
      terminated: !isPartial && terminals[last] === 1,
      truncated: !isPartial && terminals[last] === 0,
      partial: isPartial
    }
  }
  opts.onProgress?.({ phase: 'split', done: E, total: E })
  const ds: TraceDataset = { name, kind: 'continuous', obsDim, actDim, offsets, obs, actions, mask: new Uint8Array(N).fill(1), rewards, scores, ids, meta }
  validateOrFail(ds, fail)
  return ds
}

async function readMinari(h5: H5, f: H5File, file: string, name: string, groups: string[], opts: Hdf5ImportOptions, fail: (m: string) => never): Promise<TraceDataset> {
  groups.sort((a, b) => Number(a.slice(8)) - Number(b.slice(8)))
  interface Ep {
    g: string
    T: number
    cols: Record<string, Column>
  }
  const eps: Ep[] = []
  let obsDim = -1
  let actDim = -1
  for (const g of groups) {
    const grp = f.get(g)
    if (!isGroup(h5, grp)) fail(`key "${g}" is not a group`)
    const keys = ['observations', 'actions', 'rewards', 'terminations', 'truncations']
    const cols = Object.fromEntries(keys.map((k) => [k, column(h5, grp as H5Group, k, `${g}/${k}`, fail)]))
    const T = cols.actions.rows
    if (T === 0) fail(`key "${g}/actions" has no rows`)
    if (cols.observations.rows !== T + 1) {
      fail(`key "${g}/observations" has ${cols.observations.rows} rows, expected ${T + 1} (one more than "${g}/actions"): index ${Math.min(cols.observations.rows, T + 1)} is missing`)
    }
    for (const k of ['rewards', 'terminations', 'truncations']) {
      if (cols[k].rows !== T)
        fail(`key "${g}/${k}" has ${cols[k].rows} rows but "${g}/actions" has ${T}: index ${Math.min(cols[k].rows, T)} is missing from "${g}/${cols[k].rows < T ? k : 'actions'}"`)
    }
    if (obsDim < 0) {
      obsDim = cols.observations.width
      actDim = cols.actions.width
    } else if (cols.observations.width !== obsDim || cols.actions.width !== actDim) {
      fail(`key "${g}": observation/action widths ${cols.observations.width}/${cols.actions.width} differ from the first episode's ${obsDim}/${actDim}`)
    }
    eps.push({ g, T, cols })
  }
  const N = eps.reduce((s, e) => s + e.T, 0)
  const E = eps.length
  const offsets = new Int32Array(E + 1)
  eps.forEach((e, i) => (offsets[i + 1] = offsets[i] + e.T))
  const obs = new Float32Array(N * obsDim)
  const actions = new Float32Array(N * actDim)
  const rewards = new Float32Array(N)
  const scores = new Float64Array(E)
  const ids: string[] = new Array(E)
  const meta: Record<string, unknown>[] = new Array(E)
  const chunk = opts.chunkRows ?? 65536
  const total = N * 5
  let done = 0
  const tick = (n: number): void => {
    done += n
    opts.onProgress?.({ phase: 'read', done, total })
  }
  for (let i = 0; i < E; i++) {
    const e = eps[i]
    const o = offsets[i]
    await readColumn(e.cols.observations, e.T, obs.subarray(o * obsDim, (o + e.T) * obsDim), chunk, fail, tick)
    // the final observation (row T) is still checked for NaN
    const lastObs = new Float32Array(obsDim)
    readRow(e.cols.observations, e.T, lastObs, fail)
    await readColumn(e.cols.actions, e.T, actions.subarray(o * actDim, (o + e.T) * actDim), chunk, fail, tick)
    await readColumn(e.cols.rewards, e.T, rewards.subarray(o, o + e.T), chunk, fail, tick)
    const term = new Uint8Array(e.T)
    const trunc = new Uint8Array(e.T)
    await readColumn(e.cols.terminations, e.T, term, chunk, fail, tick)
    await readColumn(e.cols.truncations, e.T, trunc, chunk, fail, tick)
    if (!term[e.T - 1] && !trunc[e.T - 1]) {
      fail(`no episode end in "${e.g}": "${e.g}/terminations" and "${e.g}/truncations" are 0 at its last index ${e.T - 1}`)
    }
    let s = 0
    for (let t = o; t < o + e.T; t++) s += rewards[t]
    scores[i] = s
    ids[i] = `${name}-${e.g}`
    meta[i] = { source: 'minari', file: basename(file), episode: Number(e.g.slice(8)), terminated: term[e.T - 1] === 1, truncated: term[e.T - 1] === 0 }
  }
  const ds: TraceDataset = { name, kind: 'continuous', obsDim, actDim, offsets, obs, actions, mask: new Uint8Array(N).fill(1), rewards, scores, ids, meta }
  validateOrFail(ds, fail)
  return ds
}

function readRow(c: Column, row: number, out: Float32Array, fail: (m: string) => never): void {
  const ranges = c.width === 1 && (c.ds.shape?.length ?? 1) === 1 ? [[row, row + 1]] : [[row, row + 1], []]
  const raw = c.ds.slice(ranges as never) as unknown as ArrayLike<number>
  for (let i = 0; i < c.width; i++) {
    const v = Number(raw[i])
    if (!Number.isFinite(v)) fail(`key "${c.key}" has ${v} at index ${row}${c.width > 1 ? `, column ${i}` : ''}`)
    out[i] = v
  }
}

function validateOrFail(ds: TraceDataset, fail: (m: string) => never): void {
  try {
    validateDataset(ds)
  } catch (e) {
    fail((e as Error).message)
  }
}
