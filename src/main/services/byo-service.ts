// "Bring your own log-probs" for the services (byo.ts, datasets.ts) and the tests: import traces that
// carry per-token log π_ref and log π_policy, inspect their importance weights under any weight
// settings (no model, no training), shade one trace's tokens by ρ_t, and follow a JSONL log that
// an external job keeps appending to. Plain functions over a ProjectStore; results are plain
// JSON (typed arrays become number arrays, NaN becomes null).
//
// Storage: the dataset (source "byo:<abs path>") and its imported log-probs (both arrays and the
// tokenizer's spec, so the per-token text can be shown later) go in with ONE putImportedDataset:
// one transaction, all or nothing. The file is parsed and checked completely before anything is
// written. Deleting the dataset deletes its imported log-probs.
//
// The dataset hash covers tokens, masks, scores and ids but not log-probs: importing the same
// traces again with different log-probs (e.g. the policy at a later checkpoint) replaces the
// stored log-probs of that dataset; importByo then reports `replacedLogProbs: true`.
//
// Following (followByo): new complete lines are parsed and checked with the same mapping as the
// first row (a bad line is reported through onError, naming the line and field, and skipped;
// following goes on). At most every `minUpdateMs` the rows so far are stored as a NEW DATASET
// VERSION (offsets change, so its hash and id change) — the rows are appended in memory, not
// re-read or re-tokenized. By default the version the follower stored before is deleted (with its
// log-probs) once the new one is in (keepVersions: false), so a long-running log does not fill
// the project.
import { basename, resolve } from 'node:path'
import type { z } from 'zod'
import { ApiError } from '../../shared/contract.ts'
import { sharedLogWHistograms, spearman } from '../../shared/weight-stats.ts'
import { byoTraceSteps, byoWeights, ByoError, checkLogProbs, type ByoCache } from '../engine/byo-weights.ts'
import {
  byoDefaultSettings,
  ByoFollowInput,
  ByoImportInput,
  ByoInspectInput,
  ByoTraceRhoInput,
  type ByoFollowUpdate,
  type ByoImportResult,
  type ByoInspectResult,
  type ByoToken,
  type ByoTraceRhoResult,
  type ByoTraceRow
} from '../../shared/byo.ts'
import { detectMapping, importFollowedRows, importTextFile, type ImportedText, type TextColumnMapping } from '../engine/data/import-text.ts'
import { followJsonl, type FollowedRow } from '../jobs/follow-file.ts'
import { maskedLength, numTraces, totalSteps, type TraceDataset } from '../common/trace.ts'
import { tokenizerFromSpec } from '../engine/text/index.ts'
import { loadHfTokenizer } from '../engine/text/load-hf.ts'
import type { Tokenizer, TokenizerSpec } from '../engine/text/tokenizer.ts'
import type { DatasetSummary, ProjectStore } from '../store/types.ts'
import { uniqueDatasetName } from './dataset-names.ts'

export type ByoImportOptions = Omit<z.infer<typeof ByoImportInput>, 'path'> & { tokenizer?: Tokenizer }
export type ByoFollowOptions = Omit<z.infer<typeof ByoFollowInput>, 'path'> & {
  tokenizer?: Tokenizer
  /** poll interval of the file (default 250 ms) */
  intervalMs?: number
  /** a bad line, or a failed update; following goes on (default: console.warn) */
  onError?: (message: string) => void
}

export interface ByoFollowHandle {
  /** read new lines now and store them (ignores minUpdateMs) */
  flush(): Promise<void>
  /** stop following; what was read is stored first */
  stop(): Promise<void>
  readonly datasetId: number | null
  readonly rows: number
}

const MAX_TOKENS = 4000

// ----------------------------------------------------------------------------- import

/** The token strings of a file that gave its tokens as strings, stored where a tokenizer's spec
 *  goes (the imported log-probs' `tokenizer`): token id i shows as tokens[i]. */
export interface TokenStringsSpec {
  kind: 'strings'
  tokens: string[]
}

/** What shows the token text of an import: its token strings, else the tokenizer's spec. */
function textSpec(imp: Pick<ImportedText, 'tokenStrings'>, tokenizer?: Tokenizer): TokenizerSpec | TokenStringsSpec | null {
  if (imp.tokenStrings) return { kind: 'strings', tokens: imp.tokenStrings }
  return tokenizer ? tokenizer.spec() : null
}

/** How an import result names what shows its token text (not the whole string list). */
function textSpecSummary(spec: TokenizerSpec | TokenStringsSpec | null): ByoImportResult['tokenizer'] {
  if (!spec) return null
  return spec.kind === 'strings' ? { kind: 'strings', count: spec.tokens.length } : spec
}

/** Store a checked import: the dataset and both log-prob arrays in one transaction (see the file
 *  comment); `tokenizer` (or the file's own token strings) shows token text later. */
export function storeByo(
  store: ProjectStore,
  imp: Pick<ImportedText, 'dataset' | 'refLogProbs' | 'policyLogProbs' | 'tokenStrings'>,
  source: string,
  tokenizer?: Tokenizer
): { id: number; hash: string; created: boolean; replacedLogProbs: boolean } {
  const { dataset: ds, refLogProbs: ref, policyLogProbs: pol } = imp
  const missing = [!ref && 'reference (refLogprobs, e.g. a "ref_logprobs" column)', !pol && 'policy (policyLogprobs, e.g. a "policy_logprobs" column)'].filter(Boolean)
  if (missing.length) throw new ByoError(`dataset "${ds.name}": the rows carry no ${missing.join(' and no ')} log-probs; map both log-prob columns`)
  checkLogProbs(ds, ref!, pol!)
  const r = store.putImportedDataset(ds, source, { ref: ref!, policy: pol!, tokenizer: textSpec(imp, tokenizer) })
  forget(store, r.id)
  return r
}

/** Import a JSONL / CSV / Parquet file whose rows carry both log-prob columns and store it. */
export async function importByo(store: ProjectStore, file: string, opts: ByoImportOptions = {}): Promise<ByoImportResult> {
  const abs = resolve(file)
  const tokenizer = opts.tokenizer ?? (opts.tokenizerFile ? await loadHfTokenizer(resolve(opts.tokenizerFile)) : undefined)
  const { skipBadRows, maxTraceSteps, maxLineBytes } = opts
  const imp = await importTextFile(abs, { mapping: opts.mapping as TextColumnMapping | undefined, tokenizer, name: opts.name, format: opts.format, skipBadRows, maxTraceSteps, maxLineBytes })
  imp.dataset.name = uniqueDatasetName(store, imp.dataset)
  const r = storeByo(store, imp, `byo:${abs}`, tokenizer)
  return {
    dataset: summary(store, r.id),
    created: r.created,
    replacedLogProbs: r.replacedLogProbs,
    rows: imp.rows,
    skipped: imp.skipped,
    tokenizer: textSpecSummary(textSpec(imp, tokenizer))
  }
}

// ----------------------------------------------------------------------------- loading (cached)

interface Loaded {
  hash: string
  summary: DatasetSummary
  ds: TraceDataset
  ref: Float32Array
  pol: Float32Array
  /** the tokenizer recorded at import, or the file's token strings (token text), or null */
  tokenizer: TokenizerSpec | TokenStringsSpec | null
  /** passes over all steps already made (see ByoCache) */
  passes: ByoCache
}
const cache = new WeakMap<ProjectStore, Map<number, Loaded>>()

/** drop the cached imported log-probs of a dataset (they were replaced) */
export function forget(store: ProjectStore, id: number): void {
  cache.get(store)?.delete(id)
}

function summary(store: ProjectStore, id: number): DatasetSummary {
  const s = store.listDatasets().find((d) => d.id === id)
  if (!s) throw new ApiError(`there is no dataset ${id} in the project ${store.file}; list the datasets to see which exist`, 'not_found')
  return s
}

/** The dataset and its imported log-probs (a small per-store cache keyed by id and hash). */
function loadByo(store: ProjectStore, id: number): Loaded {
  const s = summary(store, id)
  let m = cache.get(store)
  if (!m) cache.set(store, (m = new Map()))
  const hit = m.get(id)
  if (hit && hit.hash === s.hash) return hit
  const lp = store.getImportedLogProbs(id)
  if (!lp) throw new ByoError(`dataset ${id} ("${s.name}") carries no imported log-probs; import a file with reference and policy log-prob columns (iwsft byo import FILE)`)
  const ds = store.getDataset(id)
  checkLogProbs(ds, lp.ref, lp.policy)
  const l: Loaded = { hash: s.hash, summary: s, ds, ref: lp.ref, pol: lp.policy, tokenizer: lp.tokenizer as TokenizerSpec | TokenStringsSpec | null, passes: new Map() }
  if (m.size >= 2) m.delete(m.keys().next().value!)
  m.set(id, l)
  return l
}

// ----------------------------------------------------------------------------- inspect

const num = (v: number): number | null => (Number.isFinite(v) ? v : null)

function sharedHistograms(logWRaw: ArrayLike<number>, w: ArrayLike<number>, bins: number): ByoInspectResult['hist'] {
  const h = sharedLogWHistograms([{ logWRaw, w }], bins)
  return { edges: h.edges, raw: h.raw[0], clamped: h.clamped[0], zeroWeights: h.zeroWeights[0] }
}

/** Weights, diagnostics and extremes of an imported dataset under `settings`. */
export function byoInspect(store: ProjectStore, input: z.input<typeof ByoInspectInput>): ByoInspectResult {
  const t0 = performance.now()
  const { datasetId: id, settings, variant = 'trace', bins = 40, top = 20 } = ByoInspectInput.parse(input)
  const { ds, ref, pol, summary: s, passes } = loadByo(store, id)
  const r = byoWeights(ds, ref, pol, settings, variant, { cache: passes })
  const N = numTraces(ds)
  const order = Array.from({ length: N }, (_, i) => i).sort((a, b) => r.w[b] - r.w[a] || r.logWRaw[b] - r.logWRaw[a] || a - b)
  const row = (i: number): ByoTraceRow => ({ index: i, id: ds.ids[i], score: ds.scores[i], length: maskedLength(ds, i), logWRaw: r.logWRaw[i], w: r.w[i] })
  const k = Math.min(top, N)
  return {
    datasetId: id,
    name: s.name,
    numTraces: N,
    numSteps: totalSteps(ds),
    variant,
    settings,
    stats: r.stats,
    steps: r.steps ?? null,
    spearman: num(spearman(r.w, ds.scores)),
    spearmanRaw: num(spearman(r.logWRaw, ds.scores)),
    hist: sharedHistograms(r.logWRaw, r.w, bins),
    top: order.slice(0, k).map(row),
    bottom: order
      .slice(N - k)
      .reverse()
      .map(row),
    ms: performance.now() - t0
  }
}

// ----------------------------------------------------------------------------- one trace's ρ_t

const tokenizers = new Map<string, Promise<Tokenizer>>()

/** The tokenizer a spec names, loaded once per spec for the per-token displays (a failed load is
 *  forgotten, so it is tried again next time). */
export function cachedTokenizer(spec: TokenizerSpec): Promise<Tokenizer> {
  const key = JSON.stringify(spec)
  let p = tokenizers.get(key)
  if (!p) {
    p = tokenizerFromSpec(spec)
    tokenizers.set(key, p)
    p.catch(() => tokenizers.delete(key))
  }
  return p
}

/** Tokens of one trace with ρ_t, g(ρ_t) and w_t; token text through the tokenizer recorded at import. */
export async function byoTraceRho(store: ProjectStore, input: z.input<typeof ByoTraceRhoInput>): Promise<ByoTraceRhoResult> {
  const { datasetId: id, traceIndex, settings = byoDefaultSettings() } = ByoTraceRhoInput.parse(input)
  const { ds, ref, pol, tokenizer: spec } = loadByo(store, id)
  const n = numTraces(ds)
  if (traceIndex >= n) throw new ApiError(`trace ${traceIndex} is out of range: the dataset has ${n} traces (0..${n - 1})`, 'not_found')
  const steps = byoTraceSteps(ds, ref, pol, traceIndex, settings)
  let tok: Pick<Tokenizer, 'kind' | 'tokenText'> | null = null
  let tokenizerError: string | null = null
  if (spec?.kind === 'strings') {
    const strs = spec.tokens
    tok = { kind: 'strings', tokenText: (id) => strs[id] ?? `<${id}>` }
  } else if (spec) {
    try {
      tok = await cachedTokenizer(spec)
    } catch (e) {
      tokenizerError = e instanceof Error ? e.message : String(e)
    }
  }
  const a = ds.offsets[traceIndex]
  const len = ds.offsets[traceIndex + 1] - a
  const shown = Math.min(len, MAX_TOKENS)
  const tokens: ByoToken[] = new Array(shown)
  let sumRho = 0
  let sumG = 0
  for (let t = 0; t < len; t++) {
    if (ds.mask[a + t]) {
      sumRho += steps.rho[t]
      sumG += steps.g[t]
    }
    if (t >= shown) continue
    const on = ds.mask[a + t] === 1
    const idv = ds.actions[a + t]
    tokens[t] = {
      id: idv,
      text: tok ? tok.tokenText(idv) : null,
      masked: !on,
      rho: on ? num(steps.rho[t]) : null,
      g: on ? num(steps.g[t]) : null,
      w: on ? num(steps.wStep[t]) : null,
      logq: on ? pol[a + t] : null,
      logref: on ? ref[a + t] : null
    }
  }
  return { datasetId: id, traceIndex, id: ds.ids[traceIndex], score: ds.scores[traceIndex], tokens, sumRho, sumG, truncated: shown < len, tokenizer: tok?.kind ?? null, tokenizerError }
}

// ----------------------------------------------------------------------------- follow

function concatImported(name: string, pieces: ImportedText[]): { dataset: TraceDataset; refLogProbs: Float32Array; policyLogProbs: Float32Array } {
  let N = 0
  let T = 0
  let actDim = 0
  for (const p of pieces) {
    N += numTraces(p.dataset)
    T += totalSteps(p.dataset)
    actDim = Math.max(actDim, p.dataset.actDim)
  }
  const offsets = new Int32Array(N + 1)
  const actions = new Int32Array(T)
  const mask = new Uint8Array(T)
  const scores = new Float64Array(N)
  const ref = new Float32Array(T)
  const pol = new Float32Array(T)
  const ids: string[] = []
  const meta: Record<string, unknown>[] = []
  const withMeta = pieces.some((p) => p.dataset.meta)
  let n = 0
  let t = 0
  for (const p of pieces) {
    const d = p.dataset
    const pn = numTraces(d)
    for (let i = 1; i <= pn; i++) offsets[n + i] = t + d.offsets[i]
    actions.set(d.actions as Int32Array, t)
    mask.set(d.mask, t)
    scores.set(d.scores, n)
    ref.set(p.refLogProbs!, t)
    pol.set(p.policyLogProbs!, t)
    ids.push(...d.ids)
    if (withMeta) meta.push(...(d.meta ?? new Array(pn).fill({})))
    n += pn
    t += totalSteps(d)
  }
  const dataset: TraceDataset = { name, kind: 'sequence', obsDim: 0, actDim, offsets, obs: new Float32Array(0), actions, mask, scores, ids, ...(withMeta ? { meta } : {}) }
  return { dataset, refLogProbs: ref, policyLogProbs: pol }
}

/** Follow a JSONL log that another process appends to (see the file comment). */
export function followByo(store: ProjectStore, file: string, opts: ByoFollowOptions, onUpdate: (u: ByoFollowUpdate) => void): ByoFollowHandle {
  const abs = resolve(file)
  const onError = opts.onError ?? ((m: string) => console.warn(m))
  const settings = opts.settings ?? byoDefaultSettings()
  const variant = opts.variant ?? 'trace'
  const minUpdateMs = opts.minUpdateMs ?? 1000
  const name = opts.name ?? basename(abs)
  let tokenizer: Tokenizer | undefined = opts.tokenizer
  const tokReady: Promise<void> =
    !tokenizer && opts.tokenizerFile
      ? loadHfTokenizer(resolve(opts.tokenizerFile)).then((t) => {
          tokenizer = t
        })
      : Promise.resolve()
  let mapping: TextColumnMapping | undefined = opts.mapping as TextColumnMapping | undefined
  // token strings keep their ids from batch to batch (every stored version lists them all)
  const tokenVocab = new Map<string, number>()
  const pieces: ImportedText[] = []
  let pendingRows = 0
  let rows = 0
  let skipped = 0
  let datasetId: number | null = null
  let ownVersion: { id: number } | null = null
  let lastFlush = 0
  let timer: ReturnType<typeof setTimeout> | null = null
  let stopped = false
  let queue: FollowedRow[] = []

  const take = (batch: FollowedRow[]): void => {
    if (!batch.length) return
    if (!mapping) mapping = detectMapping(Object.keys(batch[0].value))
    const o = { mapping, tokenizer, tokenVocab }
    try {
      const p = importFollowedRows(abs, batch, o)
      pieces.push(p)
      pendingRows += batch.length
      return
    } catch {
      // one by one, to keep the good rows and name the bad ones
    }
    for (const r of batch) {
      try {
        const p = importFollowedRows(abs, [r], o)
        pieces.push(p)
        pendingRows++
      } catch (e) {
        skipped++
        onError(`${e instanceof Error ? e.message : String(e)}; skipped`)
      }
    }
  }

  const store1 = (): void => {
    if (!pendingRows) return
    // merge what was taken so far into one piece (the next merge then copies one piece, not many)
    const merged = { ...concatImported(name, pieces), ...(tokenVocab.size ? { tokenStrings: [...tokenVocab.keys()] } : {}) }
    const piece: ImportedText = { ...merged, format: 'jsonl', mapping: mapping!, rows: rows + pendingRows, skipped: [] }
    const r = storeByo(store, merged, `byo:${abs}`, tokenizer)
    pieces.splice(0, pieces.length, piece)
    const newRows = pendingRows
    rows += pendingRows
    pendingRows = 0
    if (ownVersion && ownVersion.id !== r.id && !opts.keepVersions) {
      try {
        store.deleteDataset(ownVersion.id)
        forget(store, ownVersion.id)
      } catch (e) {
        onError(`could not delete the previous version (dataset ${ownVersion.id}): ${e instanceof Error ? e.message : String(e)}`)
      }
    }
    ownVersion = r.created ? { id: r.id } : null
    datasetId = r.id
    const w = byoWeights(merged.dataset, merged.refLogProbs, merged.policyLogProbs, settings, variant)
    onUpdate({
      datasetId: r.id,
      rows,
      newRows,
      skipped,
      numTraces: numTraces(merged.dataset),
      ess: w.stats.ess,
      ess_fraction: w.stats.ess_fraction,
      clamp_fraction: w.stats.clamp_fraction,
      logw_raw_median: w.stats.logw_raw_median
    })
  }

  const flushNow = async (): Promise<void> => {
    if (timer) clearTimeout(timer)
    timer = null
    try {
      await tokReady
    } catch {
      return // reported once, and following stopped, where the tokenizer failed to load
    }
    const batch = queue
    queue = []
    take(batch)
    lastFlush = Date.now()
    try {
      store1()
    } catch (e) {
      onError(`file "${abs}": the update was not stored: ${e instanceof Error ? e.message : String(e)}`)
    }
  }

  const schedule = (): void => {
    if (timer || stopped) return
    const wait = Math.max(0, lastFlush + minUpdateMs - Date.now())
    timer = setTimeout(() => void flushNow(), wait)
  }

  const follower = followJsonl(
    abs,
    (batch) => {
      queue.push(...batch)
      schedule()
    },
    { intervalMs: opts.intervalMs, fromStart: opts.fromStart, onError: (e) => onError(e.message) }
  )
  tokReady.catch((e: unknown) => {
    onError(e instanceof Error ? e.message : String(e))
    follower.stop()
    stopped = true
  })

  return {
    async flush() {
      await follower.poll()
      await flushNow()
    },
    async stop() {
      if (stopped) return
      await follower.poll()
      follower.stop()
      stopped = true
      await flushNow()
    },
    get datasetId() {
      return datasetId
    },
    get rows() {
      return rows
    }
  }
}
