// Trace datasets: a trace τ is a sequence of steps t = 1..T with a context s_t and an action
// a_t, a step mask (which steps count in log π(τ)) and one score S(τ). All steps of all
// traces are stored flat, trace i owning steps offsets[i] .. offsets[i+1]-1, so that a
// dataset of 100k traces is a handful of typed arrays rather than 100k objects.
import { createHash } from 'node:crypto'

/** discrete actions with an observation vector (or none); continuous action vectors; or
 *  tokens, where a_t is token t and the context s_t the prefix before it */
export type { TraceKind } from '../../shared/records.ts'
import type { TraceKind } from '../../shared/records.ts'

export interface TraceDataset {
  name: string
  kind: TraceKind
  /** length of each step's observation vector; 0 for context-free data (the bandit) or sequences */
  obsDim: number
  /** continuous: action vector length; discrete/sequence: number of actions (vocabulary size) */
  actDim: number
  /** N+1 step offsets */
  offsets: Int32Array
  /** totalSteps × obsDim */
  obs: Float32Array
  /** continuous: totalSteps × actDim floats; discrete/sequence: totalSteps action indices */
  actions: Float32Array | Int32Array
  /** totalSteps; 1 = the step counts in the loss and the weight (e.g. completion tokens) */
  mask: Uint8Array
  /** per-step rewards, if the source had them (control data); not used by the objectives */
  rewards?: Float32Array
  /** N scores S(τ) */
  scores: Float64Array
  /** N stable trace ids */
  ids: string[]
  /** optional per-trace metadata (JSON-able) */
  meta?: Record<string, unknown>[]
}

export class DatasetError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'DatasetError'
  }
}

export const numTraces = (d: TraceDataset): number => d.offsets.length - 1
export const totalSteps = (d: TraceDataset): number => d.offsets[d.offsets.length - 1]
export const traceLength = (d: TraceDataset, i: number): number => d.offsets[i + 1] - d.offsets[i]

/** Masked length |τ| (the steps that count). */
export function maskedLength(d: TraceDataset, i: number): number {
  let n = 0
  for (let s = d.offsets[i]; s < d.offsets[i + 1]; s++) n += d.mask[s]
  return n
}

/** Check every invariant; the message names the dataset, the field and the trace index. */
export function validateDataset(d: TraceDataset): void {
  const where = `dataset "${d.name}"`
  const n = d.offsets.length - 1
  if (n < 1) throw new DatasetError(`${where}: has no traces`)
  if (d.offsets[0] !== 0) throw new DatasetError(`${where}: offsets must start at 0`)
  for (let i = 0; i < n; i++) {
    if (d.offsets[i + 1] <= d.offsets[i]) throw new DatasetError(`${where}: trace ${i} (${d.ids[i] ?? '?'}) has no steps`)
  }
  const T = d.offsets[n]
  if (d.scores.length !== n) throw new DatasetError(`${where}: ${d.scores.length} scores for ${n} traces`)
  if (d.ids.length !== n) throw new DatasetError(`${where}: ${d.ids.length} ids for ${n} traces`)
  if (d.meta && d.meta.length !== n) throw new DatasetError(`${where}: ${d.meta.length} metadata rows for ${n} traces`)
  if (d.mask.length !== T) throw new DatasetError(`${where}: mask has ${d.mask.length} steps, traces have ${T}`)
  if (d.obs.length !== T * d.obsDim) {
    throw new DatasetError(`${where}: observations hold ${d.obs.length} values, expected ${T} steps × obsDim ${d.obsDim}`)
  }
  const perStep = d.kind === 'continuous' ? d.actDim : 1
  if (d.actions.length !== T * perStep) {
    throw new DatasetError(`${where}: actions hold ${d.actions.length} values, expected ${T} steps × ${perStep} (action dimension ${d.actDim}); check the action dimension`)
  }
  if (d.rewards && d.rewards.length !== T) throw new DatasetError(`${where}: rewards have ${d.rewards.length} steps, traces have ${T}`)
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(d.scores[i])) {
      throw new DatasetError(`${where}: trace ${i} (${d.ids[i]}) has score ${d.scores[i]}; every score must be a finite number`)
    }
  }
  const stepOf = (s: number): string => {
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (d.offsets[mid] <= s) lo = mid
      else hi = mid - 1
    }
    return `trace ${lo} (${d.ids[lo]}), step ${s - d.offsets[lo]}`
  }
  for (let s = 0; s < d.obs.length; s++) {
    if (!Number.isFinite(d.obs[s])) throw new DatasetError(`${where}: observation at ${stepOf(Math.floor(s / d.obsDim))} is ${d.obs[s]}`)
  }
  if (d.kind === 'continuous') {
    for (let s = 0; s < d.actions.length; s++) {
      if (!Number.isFinite(d.actions[s])) throw new DatasetError(`${where}: action at ${stepOf(Math.floor(s / d.actDim))} is ${d.actions[s]}`)
    }
  } else {
    for (let s = 0; s < d.actions.length; s++) {
      const a = d.actions[s]
      if (!Number.isInteger(a) || a < 0 || a >= d.actDim) {
        throw new DatasetError(`${where}: action at ${stepOf(s)} is ${a}, outside 0..${d.actDim - 1}`)
      }
    }
  }
  for (let i = 0; i < n; i++) {
    if (maskedLength(d, i) === 0) throw new DatasetError(`${where}: trace ${i} (${d.ids[i]}) has no unmasked step; nothing of it would be learned`)
  }
}

/** Content hash of everything that affects training (not the name). */
export function datasetHash(d: TraceDataset): string {
  const h = createHash('sha256')
  h.update(JSON.stringify({ kind: d.kind, obsDim: d.obsDim, actDim: d.actDim }))
  for (const a of [d.offsets, d.obs, d.actions, d.mask, d.scores]) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
  if (d.rewards) h.update(new Uint8Array(d.rewards.buffer, d.rewards.byteOffset, d.rewards.byteLength))
  h.update(d.ids.join('\n'))
  return h.digest('hex').slice(0, 32)
}

/** Build a dataset from per-trace arrays (importers and generators use this). */
export function fromTraces(
  name: string,
  kind: TraceKind,
  obsDim: number,
  actDim: number,
  traces: Array<{ id?: string; obs?: ArrayLike<number>; actions: ArrayLike<number>; mask?: ArrayLike<number>; rewards?: ArrayLike<number>; score: number; meta?: Record<string, unknown> }>
): TraceDataset {
  const perStep = kind === 'continuous' ? actDim : 1
  const offsets = new Int32Array(traces.length + 1)
  for (let i = 0; i < traces.length; i++) offsets[i + 1] = offsets[i] + traces[i].actions.length / perStep
  const T = offsets[traces.length]
  const obs = new Float32Array(T * obsDim)
  const actions = kind === 'continuous' ? new Float32Array(T * actDim) : new Int32Array(T)
  const mask = new Uint8Array(T)
  const hasRewards = traces.some((t) => t.rewards)
  const rewards = hasRewards ? new Float32Array(T) : undefined
  const scores = new Float64Array(traces.length)
  traces.forEach((t, i) => {
    const o = offsets[i]
    if (t.obs) obs.set(t.obs, o * obsDim)
    actions.set(t.actions, o * perStep)
    if (t.mask) mask.set(t.mask, o)
    else mask.fill(1, o, offsets[i + 1])
    if (rewards && t.rewards) rewards.set(t.rewards, o)
    scores[i] = t.score
  })
  const hasMeta = traces.some((t) => t.meta)
  return {
    name,
    kind,
    obsDim,
    actDim,
    offsets,
    obs,
    actions,
    mask,
    rewards,
    scores,
    ids: traces.map((t, i) => t.id ?? String(i)),
    meta: hasMeta ? traces.map((t) => t.meta ?? {}) : undefined
  }
}
