// Gather B traces of a dataset into one padded batch (Batch in policies/policy.ts), and any
// per-step array of the dataset (log π_ref, cached log q, the mask) onto the same [B, T] grid.
// Padded steps get mask 0.
import * as tf from '@tensorflow/tfjs'
import type { Batch } from '../policies/policy.ts'
import type { TraceDataset } from '../../common/trace.ts'

/** A batch on the host, before upload: whole padded trajectories (gatherBatch) or single
 *  sampled steps (gatherStepSample). */
export interface HostBatch {
  B: number
  T: number
  obs: Float32Array | null
  actions: Float32Array | Int32Array
  mask: Float32Array
  valid: Float32Array
  traceIndex: Int32Array
  /** step-sampled batches: the flat step index of every entry; null for whole trajectories */
  steps: Int32Array | null
}

/** T of the padded grid of these traces: the longest one (at least 1). */
export function paddedLength(ds: TraceDataset, idx: ArrayLike<number>): number {
  let T = 1
  for (let b = 0; b < idx.length; b++) T = Math.max(T, ds.offsets[idx[b] + 1] - ds.offsets[idx[b]])
  return T
}

export function gatherBatch(ds: TraceDataset, idx: ArrayLike<number>): HostBatch {
  const B = idx.length
  const T = paddedLength(ds, idx)
  const { obsDim } = ds
  const aDim = ds.kind === 'continuous' ? ds.actDim : 1
  const obs = obsDim > 0 ? new Float32Array(B * T * obsDim) : null
  const actions = ds.kind === 'continuous' ? new Float32Array(B * T * aDim) : new Int32Array(B * T)
  const mask = new Float32Array(B * T)
  const valid = new Float32Array(B * T)
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
  }
  return { B, T, obs, actions, mask, valid, traceIndex: Int32Array.from(idx), steps: null }
}

/** A per-step array of the dataset (one value per flat step: log π_ref, cached log q, the mask)
 *  along the traces `idx`, on gatherBatch's padded [B, T] grid (T = paddedLength); 0 on padding. */
export function gatherStepValues(ds: TraceDataset, idx: ArrayLike<number>, values: Float32Array | Uint8Array): Float32Array {
  const T = paddedLength(ds, idx)
  const out = new Float32Array(idx.length * T)
  for (let b = 0; b < idx.length; b++) {
    const start = ds.offsets[idx[b]]
    out.set(values.subarray(start, ds.offsets[idx[b] + 1]), b * T)
  }
  return out
}

/** A per-step array of the dataset at the entries of a host batch, [B, T]: at its sampled
 *  steps, or along its padded trajectories. */
export function stepValuesAt(ds: TraceDataset, h: HostBatch, values: Float32Array): Float32Array {
  if (!h.steps) return gatherStepValues(ds, h.traceIndex, values)
  const out = new Float32Array(h.steps.length)
  for (let e = 0; e < h.steps.length; e++) out[e] = values[h.steps[e]]
  return out
}

/** Upload a host batch as tensors; dispose with disposeBatch. */
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

/** What the loss and the trace weights divide by: |τ_b| = max(Σ_t mask_bt, 1) per row and
 *  max(Σ_bt mask_bt, 1) for the whole batch. Counted on the host, where the mask is made, so a
 *  step does not reduce the mask on the device for them (issue 17: ~4 fewer ops a step). Exact,
 *  and so the same float32 numbers as the device's reduction: the counts are integers. */
export interface MaskLengths {
  /** [B] */
  perTrace: Float32Array
  total: number
  /** Σ mask itself (0 for a batch with nothing to score): what micro-batches' shares add up */
  count: number
}

export function maskLengths(mask: Float32Array, B: number, T: number): MaskLengths {
  const perTrace = new Float32Array(B)
  let count = 0
  for (let b = 0; b < B; b++) {
    let n = 0
    for (let t = 0; t < T; t++) n += mask[b * T + t]
    perTrace[b] = Math.max(n, 1)
    count += n
  }
  return { perTrace, total: Math.max(count, 1), count }
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
 *  index of every entry, to gather any per-step array (reference or cached q log-probs) with
 *  stepValuesAt. */
export function gatherStepSample(ds: TraceDataset, idx: ArrayLike<number>, S: number, ms: MaskedSteps, next: () => number): HostBatch & { steps: Int32Array } {
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
  return { B, T: S, obs, actions, mask: ones, valid: ones.slice(), traceIndex: Int32Array.from(idx), steps }
}
