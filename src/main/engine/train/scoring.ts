// Scoring a policy over a dataset, outside any gradient: log π(a_t|s_t) at every step (π_ref's
// log-probs, computed once a run and cached; the log-q cache of weights.q_refresh), and the
// per-trace weights of the whole curated set under q for the weight inspector.
import * as tf from '@tensorflow/tfjs'
import { usesQualityBins, type RunConfig } from '../../../shared/config.ts'
import { totalSteps, type TraceDataset } from '../../common/trace.ts'
import { WEIGHT_SNAPSHOT_VERSION, type WeightSnapshot } from '../../common/tensors.ts'
// read tensors out after tf.tidy, never from inside it: tidy walks a returned typed array
// element by element (10× slower on a million steps)
import { readBack } from '../backend/readback.ts'
import { disposeBatch, gatherBatch, gatherStepValues, paddedLength, scatterSteps, toDevice } from '../data/batch.ts'
import type { Policy } from '../policies/policy.ts'
import { clampedWeight, logWeightRaw } from '../weights.ts'

/** The traces a run trains on (multiplicity m(τ) > 0), in index order. */
export function curatedIndices(multiplicity: Uint8Array): Int32Array {
  const idx: number[] = []
  for (let i = 0; i < multiplicity.length; i++) if (multiplicity[i] > 0) idx.push(i)
  return Int32Array.from(idx)
}

/** log π(a_t|s_t) for every step of the given traces (default: all), in the dataset's flat
 *  step layout; the other steps stay 0. Scored in chunks so memory stays bounded. */
export function scoreSteps(policy: Policy, ds: TraceDataset, traces?: ArrayLike<number>, onProgress?: (done: number, total: number) => void, chunk = 256): Float32Array {
  const idx = traces ?? Int32Array.from({ length: ds.offsets.length - 1 }, (_, i) => i)
  const out = new Float32Array(totalSteps(ds))
  for (let c = 0; c < idx.length; c += chunk) {
    const part = Array.prototype.slice.call(idx, c, c + chunk) as number[]
    const host = gatherBatch(ds, part)
    const batch = toDevice(host, ds)
    const lp = readBack(
      tf.tidy(() => policy.logProbs(batch)),
      { dispose: true }
    ) as Float32Array
    disposeBatch(batch)
    scatterSteps(ds, host, lp, out)
    onProgress?.(Math.min(c + chunk, idx.length), idx.length)
  }
  return out
}

/** The weights the loss uses, for the whole curated set: the clamped w, self-normalised (when
 *  `normalize`) under the distribution batches are drawn from — w_i · Σ_j μ_j / Σ_j μ_j w_j,
 *  μ the sampling mass — so their mean over sampled traces is 1, as the per-batch normaliser
 *  w_i · B / Σ_batch w makes it in every batch (its large-batch limit). */
export function lossWeights(wClamped: ArrayLike<number>, mass: ArrayLike<number>, normalize: boolean): Float32Array {
  if (!normalize) return Float32Array.from(wClamped)
  let m = 0
  let mw = 0
  for (let i = 0; i < wClamped.length; i++) {
    m += mass[i]
    mw += mass[i] * wClamped[i]
  }
  return Float32Array.from(wClamped, (v) => (mw > 0 ? (v * m) / mw : 0))
}

/** Every stage of the weights of every curated trace under q at this step, for the inspector
 *  (WeightSnapshot, version 2): raw log w, the clamped w, the sampling mass μ (m(τ) for D_Q+
 *  methods, 1 for D+) and w as the loss uses it (lossWeights); `batch` is the step's training
 *  batch as the loss weighted it (null when the loss has no trace weights). */
export function weightSnapshot(
  q: Policy,
  ds: TraceDataset,
  multiplicity: Uint8Array,
  refLogProbs: Float32Array,
  config: RunConfig,
  step: number,
  batch: WeightSnapshot['batch'] = null
): WeightSnapshot {
  const idx = Array.from(curatedIndices(multiplicity))
  const logq = scoreSteps(q, ds, idx)
  const raw = new Float32Array(idx.length)
  const chunk = 256
  for (let c = 0; c < idx.length; c += chunk) {
    const part = idx.slice(c, c + chunk)
    const shape: [number, number] = [part.length, paddedLength(ds, part)]
    const [lq, lr, mask] = [logq, refLogProbs, ds.mask].map((v) => gatherStepValues(ds, part, v))
    const r = readBack(
      tf.tidy(() => logWeightRaw(tf.tensor2d(lq, shape), tf.tensor2d(lr, shape), tf.tensor2d(mask, shape), config.weights)),
      { dispose: true }
    )
    raw.set(r, c)
  }
  const wClamped = readBack(
    tf.tidy(() => clampedWeight(tf.tensor1d(raw), { ...config.weights, normalize: false })),
    { dispose: true }
  ) as Float32Array
  const mass = Float32Array.from(idx, (i) => (usesQualityBins(config.method) ? multiplicity[i] : 1))
  return {
    step,
    traceIndex: Int32Array.from(idx),
    logWRaw: raw,
    w: lossWeights(wClamped, mass, config.weights.normalize),
    version: WEIGHT_SNAPSHOT_VERSION,
    wClamped,
    mass,
    batch
  }
}
