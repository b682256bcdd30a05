// Gather B traces of a dataset into one padded batch (Batch in policies/policy.ts), with the
// cached reference log-probs aligned to the same [B, T] grid. Padded steps get mask 0.
import * as tf from '@tensorflow/tfjs'
import type { Batch } from '../policies/policy.ts'
import type { TraceDataset } from '../../common/trace.ts'

export interface HostBatch {
  B: number
  T: number
  obs: Float32Array | null
  actions: Float32Array | Int32Array
  mask: Float32Array
  valid: Float32Array
  logref: Float32Array | null
  traceIndex: Int32Array
}

export function gatherBatch(ds: TraceDataset, idx: ArrayLike<number>, refLogProbs: Float32Array | null): HostBatch {
  const B = idx.length
  let T = 1
  for (let b = 0; b < B; b++) T = Math.max(T, ds.offsets[idx[b] + 1] - ds.offsets[idx[b]])
  const { obsDim } = ds
  const aDim = ds.kind === 'continuous' ? ds.actDim : 1
  const obs = obsDim > 0 ? new Float32Array(B * T * obsDim) : null
  const actions = ds.kind === 'continuous' ? new Float32Array(B * T * aDim) : new Int32Array(B * T)
  const mask = new Float32Array(B * T)
  const valid = new Float32Array(B * T)
  const logref = refLogProbs ? new Float32Array(B * T) : null
  for (let b = 0; b < B; b++) {
    const i = idx[b]
    const start = ds.offsets[i]
    const len = ds.offsets[i + 1] - start
    if (obs) obs.set(ds.obs.subarray(start * obsDim, (start + len) * obsDim), b * T * obsDim)
    actions.set(ds.actions.subarray(start * aDim, (start + len) * aDim), b * T * aDim)
    for (let t = 0; t < len; t++) {
      mask[b * T + t] = ds.mask[start + t]
      valid[b * T + t] = 1
    }
    if (logref && refLogProbs) logref.set(refLogProbs.subarray(start, start + len), b * T)
  }
  return { B, T, obs, actions, mask, valid, logref, traceIndex: Int32Array.from(idx) }
}

/** Upload a host batch as tensors (not its per-step extras such as logref: the caller uploads
 *  what it needs); dispose with disposeBatch. */
export function toDevice(h: HostBatch, ds: Pick<TraceDataset, 'kind' | 'obsDim' | 'actDim'>): Batch {
  const { B, T } = h
  return {
    B,
    T,
    obs: h.obs ? tf.tensor3d(h.obs, [B, T, ds.obsDim]) : null,
    actions: ds.kind === 'continuous' ? tf.tensor3d(h.actions as Float32Array, [B, T, ds.actDim]) : tf.tensor2d(h.actions as Int32Array, [B, T], 'int32'),
    mask: tf.tensor2d(h.mask, [B, T]),
    valid: tf.tensor2d(h.valid, [B, T]),
    traceIndex: h.traceIndex
  }
}

export function disposeBatch(b: Batch): void {
  b.obs?.dispose()
  b.actions.dispose()
  b.mask.dispose()
  b.valid?.dispose()
}

/** Scatter a [B, T] host array back to the dataset's flat step layout (reference scoring). */
export function scatterSteps(ds: TraceDataset, h: HostBatch, values: Float32Array, out: Float32Array): void {
  for (let b = 0; b < h.B; b++) {
    const i = h.traceIndex[b]
    const start = ds.offsets[i]
    const len = ds.offsets[i + 1] - start
    out.set(values.subarray(b * h.T, b * h.T + len), start)
  }
}

/** For each trace, the flat indices of its masked steps (built once per dataset). */
export interface MaskedSteps {
  offsets: Int32Array
  steps: Int32Array
}

export function maskedSteps(ds: TraceDataset): MaskedSteps {
  const n = ds.offsets.length - 1
  const offsets = new Int32Array(n + 1)
  let k = 0
  for (let s = 0; s < ds.mask.length; s++) k += ds.mask[s]
  const steps = new Int32Array(k)
  k = 0
  for (let i = 0; i < n; i++) {
    offsets[i] = k
    for (let s = ds.offsets[i]; s < ds.offsets[i + 1]; s++) if (ds.mask[s]) steps[k++] = s
  }
  offsets[n] = k
  return { offsets, steps }
}

/** A [B, S] batch of single steps: S masked steps drawn uniformly with replacement from each
 *  trace. With the "trace" loss normalisation, the mean over a row's S steps is an unbiased
 *  estimate of the trace's (1/|τ|) Σ_t log π(a_t|s_t). Only for Markov policies (the context
 *  is the step's own observation), not for token sequences. `steps` holds the flat step
 *  index of every entry, to gather any per-step array (reference or cached q log-probs). */
export function gatherStepSample(
  ds: TraceDataset,
  idx: ArrayLike<number>,
  S: number,
  ms: MaskedSteps,
  next: () => number
): HostBatch & { steps: Int32Array } {
  const B = idx.length
  const steps = new Int32Array(B * S)
  for (let b = 0; b < B; b++) {
    const lo = ms.offsets[idx[b]]
    const n = ms.offsets[idx[b] + 1] - lo
    for (let j = 0; j < S; j++) steps[b * S + j] = ms.steps[lo + Math.floor(next() * n)]
  }
  const { obsDim } = ds
  const aDim = ds.kind === 'continuous' ? ds.actDim : 1
  const obs = obsDim > 0 ? new Float32Array(B * S * obsDim) : null
  const actions = ds.kind === 'continuous' ? new Float32Array(B * S * aDim) : new Int32Array(B * S)
  for (let e = 0; e < steps.length; e++) {
    const s = steps[e]
    if (obs) obs.set(ds.obs.subarray(s * obsDim, (s + 1) * obsDim), e * obsDim)
    actions.set(ds.actions.subarray(s * aDim, (s + 1) * aDim), e * aDim)
  }
  const ones = new Float32Array(B * S).fill(1)
  return { B, T: S, obs, actions, mask: ones, valid: ones.slice(), logref: null, traceIndex: Int32Array.from(idx), steps }
}

/** values[steps[e]] for every entry e (a [B, S] view of a per-step array). */
export function gatherAtSteps(values: Float32Array, steps: Int32Array): Float32Array {
  const out = new Float32Array(steps.length)
  for (let e = 0; e < steps.length; e++) out[e] = values[steps[e]]
  return out
}
