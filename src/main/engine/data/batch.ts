// Gather B traces of a dataset into one padded batch (Batch in policies/policy.ts), with the
// cached reference log-probs aligned to the same [B, T] grid. Padded steps get mask 0.
import * as tf from '@tensorflow/tfjs'
import type { Batch } from '../policies/policy.ts'
import type { TraceDataset } from './trace.ts'

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

/** Upload a host batch as tensors; dispose with disposeBatch. */
export function toDevice(h: HostBatch, ds: Pick<TraceDataset, 'kind' | 'obsDim' | 'actDim'>): Batch & { logref: tf.Tensor2D | null } {
  const { B, T } = h
  return {
    B,
    T,
    obs: h.obs ? tf.tensor3d(h.obs, [B, T, ds.obsDim]) : null,
    actions: ds.kind === 'continuous' ? tf.tensor3d(h.actions as Float32Array, [B, T, ds.actDim]) : tf.tensor2d(h.actions as Int32Array, [B, T], 'int32'),
    mask: tf.tensor2d(h.mask, [B, T]),
    valid: tf.tensor2d(h.valid, [B, T]),
    logref: h.logref ? tf.tensor2d(h.logref, [B, T]) : null,
    traceIndex: h.traceIndex
  }
}

export function disposeBatch(b: Batch & { logref?: tf.Tensor2D | null }): void {
  b.obs?.dispose()
  b.actions.dispose()
  b.mask.dispose()
  b.valid?.dispose()
  b.logref?.dispose()
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
