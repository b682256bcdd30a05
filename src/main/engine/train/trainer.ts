// The training loop shared by every method (science.md, "Objectives" and "Importance
// weights"). One step: sample a batch of curated traces (uniformly from D+, or by quality-bin
// multiplicity from D_Q+), update θ_q if q is an EMA or a periodic copy, form the weights from
// log q − log π_ref (π_ref's log-probs are cached, never recomputed), take the gradient of the
// weighted NLL with the weights held constant, clip, and step Adam/AdamW.
import * as tf from '@tensorflow/tfjs'
import { isImportanceWeighted, isPerStep, usesQualityBins, type RunConfig } from '../../../shared/config.ts'
import { weightStats, type WeightStats } from '../../../shared/weight-stats.ts'
import type { WeightSnapshot } from '../../common/tensors.ts'
import { disposeBatch, gatherAtSteps, gatherBatch, gatherStepSample, maskedSteps, scatterSteps, toDevice, type HostBatch } from '../data/batch.ts'
import { totalSteps, type TraceDataset } from '../../common/trace.ts'
import { weightedNll } from '../objectives/loss.ts'
import type { Batch, Policy } from '../policies/policy.ts'
import { WeightedSampler, type Rng } from '../rng.ts'
import { clampedWeight, logWeightRaw, perStepWeight, stopGradient } from '../weights.ts'
import { AdamOptimizer, learningRate } from './optim.ts'
// read tensors out after tf.tidy, never from inside it: tidy walks a returned typed array
// element by element (10× slower on a million steps)
import { readBack } from '../backend/readback.ts'

export class TrainingError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TrainingError'
  }
}

export interface TrainSetup {
  config: RunConfig
  dataset: TraceDataset
  /** θ, already initialised (from θ_ref for SFT-type methods) */
  policy: Policy
  /** m(τ) per trace from curation; 0 = not trained on */
  multiplicity: Uint8Array
  /** log π_ref(a_t|s_t) for every step of the dataset (needed by iw methods and snapshots) */
  refLogProbs: Float32Array | null
  rng: Rng
  /** continue from a checkpoint's state instead of step 0 */
  resume?: TrainState
}

/** Everything a run needs to continue exactly where it stopped (θ itself is the policy). */
export interface TrainState {
  /** updates done */
  step: number
  rngState: number
  adam: { t: number; m: Float32Array[]; v: Float32Array[] }
  /** θ_q for EMA / periodic q */
  q: Float32Array[] | null
}

export interface TrainHooks {
  signal?: AbortSignal
  /** metrics at a logged step (1-based count of updates done; 0 = before training) */
  onLog?(step: number, metrics: Record<string, number>): void
  onSnapshot?(snap: WeightSnapshot): void
  onProgress?(step: number, total: number): void
  /** domain evaluation (bandit reward, control return …), merged into the logged metrics */
  evaluate?(policy: Policy, step: number): Record<string, number> | Promise<Record<string, number>>
  /** every train.checkpoint_every steps and at the end (θ is setup.policy at that moment) */
  onCheckpoint?(state: TrainState): void
}

export interface TrainResult {
  status: 'completed' | 'cancelled'
  steps: number
  final: Record<string, number>
}

/** Which traces a method samples, and with what probability mass. */
export function samplingMass(method: RunConfig['method'], multiplicity: Uint8Array): Float64Array {
  // BC: all of D (its curation is "all"; held-out traces have multiplicity 0)
  if (method === 'bc') return Float64Array.from(multiplicity, (m) => (m > 0 ? 1 : 0))
  const q = usesQualityBins(method)
  return Float64Array.from(multiplicity, (m) => (q ? m : m > 0 ? 1 : 0))
}

export async function train(setup: TrainSetup, hooks: TrainHooks = {}): Promise<TrainResult> {
  const { config, dataset: ds, policy, rng } = setup
  const { method, weights: ws, train: tc } = config
  const iw = isImportanceWeighted(method)
  const perStep = isPerStep(method)
  if (iw && !setup.refLogProbs) throw new TrainingError(`${method} needs reference log-probs; none were computed`)
  const sampler = new WeightedSampler(samplingMass(method, setup.multiplicity))
  const opt = new AdamOptimizer(policy.variables, config.optim)
  // θ_q: a frozen copy for EMA / periodic q; "current" reuses π_θ's own forward pass
  const qPolicy = iw && ws.q.kind !== 'current' ? policy.clone(false) : null
  const ref = setup.refLogProbs
  const stepSample = tc.step_sample
  const stepIndex = stepSample ? maskedSteps(ds) : null
  // the curated traces, when log q is cached over them (weights.q_refresh)
  const curated = iw && ws.q_refresh !== null ? curatedIndices(setup.multiplicity) : null
  let logqCache: Float32Array | null = null
  const final: Record<string, number> = {}
  const log = (step: number, m: Record<string, number>): void => {
    Object.assign(final, m)
    hooks.onLog?.(step, m)
  }

  const first = setup.resume?.step ?? 0
  if (setup.resume) {
    const r = setup.resume
    rng.setState(r.rngState)
    opt.setState(r.adam)
    if (qPolicy && r.q) qPolicy.variables.forEach((v, i) => v.assign(tf.tensor(r.q![i], v.shape)))
  }
  const state = (step: number): TrainState => ({
    step,
    rngState: rng.getState(),
    adam: opt.getState(),
    q: qPolicy ? qPolicy.variables.map((v) => v.dataSync() as Float32Array) : null
  })

  try {
    if (hooks.evaluate && first === 0) log(0, await hooks.evaluate(policy, 0))
    for (let s = first; s < tc.steps; s++) {
      if (hooks.signal?.aborted) return { status: 'cancelled', steps: s, final }
      const stepNo = s + 1
      const lr = learningRate(config.optim, s, tc.steps)
      const idx = sampler.sampleMany(rng, tc.batch_size)
      const host = stepSample ? gatherStepSample(ds, idx, stepSample, stepIndex!, () => rng.next()) : gatherBatch(ds, idx, iw ? ref : null)
      const batch = toDevice(host, ds)

      if (qPolicy && ws.q.kind === 'ema') emaUpdate(qPolicy, policy, ws.q.beta)
      if (qPolicy && ws.q.kind === 'periodic' && s % ws.q.every === 0) copyInto(qPolicy, policy)
      if (curated && ws.q_refresh !== null && s % ws.q_refresh === 0) logqCache = scoreSteps(qPolicy ?? policy, ds, curated)

      const { logrefBatch, logqBatch, pre } = iw
        ? weightInputs(ds, idx, host, batch, ref!, logqCache, qPolicy, perStep ? null : qPolicy ?? policy, ws)
        : { logrefBatch: null, logqBatch: null, pre: null }
      let kept: { raw: tf.Tensor1D; w: tf.Tensor1D } | null = pre
      let keptStep: tf.Tensor2D | null = null
      const { value: loss, grads } = tf.variableGrads(() => {
        const logp = policy.logProbs(batch)
        if (!iw) return weightedNll(logp, batch.mask, null, null, tc.loss_norm)
        const logq = logqBatch ?? stopGradient(logp)
        if (perStep) {
          const wStep = perStepWeight(logq, logrefBatch!, batch.mask, ws.step_clip)
          keptStep = tf.keep(wStep)
          return weightedNll(logp, batch.mask, null, wStep, tc.loss_norm)
        }
        if (pre) return weightedNll(logp, batch.mask, pre.w, null, tc.loss_norm)
        const raw = logWeightRaw(logq, logrefBatch!, batch.mask, ws)
        const w = clampedWeight(raw, ws)
        kept = { raw: tf.keep(raw), w: tf.keep(w) }
        return weightedNll(logp, batch.mask, w, null, tc.loss_norm)
      }, policy.variables)
      tf.dispose([logrefBatch, logqBatch].filter((t): t is tf.Tensor2D => t !== null))
      const gradList = policy.variables.map((v) => grads[v.name])
      const gnorm = opt.step(gradList, lr)
      const [lossV, gnV] = readBack(tf.tidy(() => tf.stack([loss, gnorm])), { dispose: true })
      tf.dispose([loss, gnorm, ...gradList])

      try {
        if (!Number.isFinite(lossV) || !Number.isFinite(gnV)) {
          throw new TrainingError(diagnose(stepNo, lossV, gnV, kept, keptStep))
        }
        const last = stepNo === tc.steps
        const evalNow = Boolean(hooks.evaluate) && (stepNo % tc.eval_every === 0 || last)
        if (evalNow || stepNo % tc.log_every === 0 || last) {
          const m: Record<string, number> = { loss: lossV, lr, grad_norm: gnV }
          if (kept) Object.assign(m, batchWeightStats(kept, ws.clamp))
          if (keptStep) Object.assign(m, stepWeightStats(keptStep, batch.mask, ws.step_clip))
          if (evalNow) Object.assign(m, await hooks.evaluate!(policy, stepNo))
          log(stepNo, m)
        }
        if (hooks.onSnapshot && setup.refLogProbs && method !== 'bc' && (stepNo % tc.snapshot_every === 0 || stepNo === tc.steps)) {
          hooks.onSnapshot(weightSnapshot(qPolicy ?? policy, ds, setup.multiplicity, setup.refLogProbs, config, stepNo))
        }
      } finally {
        const k = kept as { raw: tf.Tensor1D; w: tf.Tensor1D } | null
        if (k) tf.dispose([k.raw, k.w])
        if (keptStep) tf.dispose(keptStep as tf.Tensor)
        disposeBatch(batch)
      }
      if (hooks.onCheckpoint && ((tc.checkpoint_every !== null && stepNo % tc.checkpoint_every === 0) || stepNo === tc.steps)) hooks.onCheckpoint(state(stepNo))
      hooks.onProgress?.(stepNo, tc.steps)
      // let cancellation messages and progress reach the event loop
      if (stepNo % 4 === 0) await new Promise((r) => setImmediate(r))
    }
    return { status: 'completed', steps: tc.steps, final }
  } finally {
    opt.dispose()
    qPolicy?.dispose()
  }
}

/** What the weights of one batch need besides π_θ's forward pass: log π_ref at the gradient
 *  batch's steps, and log q there when q is not π_θ itself (from the cache, or a frozen q's
 *  forward); for trace weights, w itself when it cannot come from the gradient batch alone —
 *  sampled steps need whole trajectories (eq. 11 sums over every step of τ). When log q is
 *  null, the caller takes stopGradient(log π_θ) inside the gradient at no extra cost.
 *  `traceQ`: the policy for whole-trajectory trace weights, null for the per-step variant. */
function weightInputs(
  ds: TraceDataset,
  idx: Int32Array,
  host: HostBatch,
  batch: Batch,
  ref: Float32Array,
  logqCache: Float32Array | null,
  qPolicy: Policy | null,
  traceQ: Policy | null,
  ws: RunConfig['weights']
): { logrefBatch: tf.Tensor2D; logqBatch: tf.Tensor2D | null; pre: { raw: tf.Tensor1D; w: tf.Tensor1D } | null } {
  const shape: [number, number] = [host.B, host.T]
  const steps = 'steps' in host ? (host.steps as Int32Array) : null
  const logrefBatch = tf.tensor2d(steps ? gatherAtSteps(ref, steps) : (host.logref as Float32Array), shape)
  let logqBatch: tf.Tensor2D | null = null
  if (!traceQ || !steps) {
    if (logqCache) logqBatch = tf.tensor2d(steps ? gatherAtSteps(logqCache, steps) : (gatherBatch(ds, idx, logqCache).logref as Float32Array), shape)
    else if (qPolicy) logqBatch = tf.tidy(() => qPolicy.logProbs(batch))
  }
  let pre: { raw: tf.Tensor1D; w: tf.Tensor1D } | null = null
  if (traceQ && steps) pre = wholeTrajectoryWeights(ds, idx, ref, logqCache, traceQ, ws)
  else if (traceQ && logqBatch) {
    const lq = logqBatch
    pre = tf.tidy(() => {
      const raw = logWeightRaw(lq, logrefBatch, batch.mask, ws)
      return { raw, w: clampedWeight(raw, ws) }
    })
  }
  return { logrefBatch, logqBatch, pre }
}

export function curatedIndices(multiplicity: Uint8Array): Int32Array {
  const idx: number[] = []
  for (let i = 0; i < multiplicity.length; i++) if (multiplicity[i] > 0) idx.push(i)
  return Int32Array.from(idx)
}

/** Trace weights from whole trajectories (paper eq. 11 sums over every step of τ) when the
 *  gradient only sees sampled steps: log q from the cache if there is one, else one forward
 *  pass of q over the full trajectories (no gradient). */
function wholeTrajectoryWeights(
  ds: TraceDataset,
  idx: Int32Array,
  ref: Float32Array,
  logqCache: Float32Array | null,
  q: Policy,
  ws: RunConfig['weights']
): { raw: tf.Tensor1D; w: tf.Tensor1D } {
  const full = gatherBatch(ds, idx, ref)
  const shape: [number, number] = [full.B, full.T]
  let logq: Float32Array
  if (logqCache) logq = gatherBatch(ds, idx, logqCache).logref as Float32Array
  else {
    const b = toDevice(full, ds)
    logq = readBack(tf.tidy(() => q.logProbs(b)), { dispose: true }) as Float32Array
    disposeBatch(b)
  }
  return tf.tidy(() => {
    const raw = logWeightRaw(tf.tensor2d(logq, shape), tf.tensor2d(full.logref as Float32Array, shape), tf.tensor2d(full.mask, shape), ws)
    return { raw, w: clampedWeight(raw, ws) }
  })
}

/** θ_q ← β θ_q + (1−β) θ */
export function emaUpdate(q: Policy, p: Policy, beta: number): void {
  tf.tidy(() => q.variables.forEach((v, i) => v.assign(tf.add(tf.mul(v, beta), tf.mul(p.variables[i], 1 - beta)))))
}

export function copyInto(q: Policy, p: Policy): void {
  tf.tidy(() => q.variables.forEach((v, i) => v.assign(p.variables[i])))
}

function batchWeightStats(k: { raw: tf.Tensor1D; w: tf.Tensor1D }, clamp: [number, number]): WeightStats {
  return weightStats(k.raw.dataSync(), k.w.dataSync(), clamp)
}

function stepWeightStats(wStep: tf.Tensor2D, mask: tf.Tensor2D, [lo, hi]: [number, number]): Record<string, number> {
  const w = wStep.dataSync()
  const m = mask.dataSync()
  let n = 0
  let sum = 0
  let clipped = 0
  for (let i = 0; i < w.length; i++) {
    if (!m[i]) continue
    n++
    sum += w[i]
    if (w[i] <= lo || w[i] >= hi) clipped++
  }
  return { step_w_mean: n ? sum / n : 0, step_clip_fraction: n ? clipped / n : 0 }
}

function diagnose(step: number, loss: number, gnorm: number, kept: { raw: tf.Tensor1D; w: tf.Tensor1D } | null, keptStep: tf.Tensor2D | null): string {
  const where = `training stopped at step ${step}`
  const bad = (a: ArrayLike<number>): number => Array.prototype.findIndex.call(a, (v: number) => !Number.isFinite(v))
  if (kept) {
    const w = kept.w.dataSync()
    const i = bad(w)
    if (i >= 0) {
      return `${where}: importance weight of batch row ${i} is ${w[i]} (raw log w ${kept.raw.dataSync()[i]}). Lower weights.temp, tighten weights.clamp, or check the reference log-probs.`
    }
  }
  if (keptStep) {
    const i = bad(keptStep.dataSync())
    if (i >= 0) return `${where}: a per-step weight is not finite (flat index ${i}). Check the reference log-probs.`
  }
  if (!Number.isFinite(loss)) return `${where}: the loss is ${loss}. Lower optim.lr or set optim.clip_grad_norm; check the data for extreme values.`
  return `${where}: the gradient norm is ${gnorm}. Lower optim.lr or set optim.clip_grad_norm.`
}

/** log π(a_t|s_t) for every step of the given traces (default: all), in the dataset's flat
 *  step layout; the other steps stay 0. Scored in chunks so memory stays bounded. */
export function scoreSteps(
  policy: Policy,
  ds: TraceDataset,
  traces?: ArrayLike<number>,
  onProgress?: (done: number, total: number) => void,
  chunk = 256
): Float32Array {
  const idx = traces ?? Int32Array.from({ length: ds.offsets.length - 1 }, (_, i) => i)
  const out = new Float32Array(totalSteps(ds))
  for (let c = 0; c < idx.length; c += chunk) {
    const part = Array.prototype.slice.call(idx, c, c + chunk) as number[]
    const host = gatherBatch(ds, part, null)
    const batch = toDevice(host, ds)
    const lp = readBack(tf.tidy(() => policy.logProbs(batch)), { dispose: true }) as Float32Array
    disposeBatch(batch)
    scatterSteps(ds, host, lp, out)
    onProgress?.(Math.min(c + chunk, idx.length), idx.length)
  }
  return out
}

/** Per-trace raw log weight and weight of every curated trace under q at this step, for the
 *  inspector. With `normalize` on, weights are self-normalised over the whole curated set
 *  (mean 1), the set-level analogue of the per-batch normalisation used in the loss. */
export function weightSnapshot(q: Policy, ds: TraceDataset, multiplicity: Uint8Array, refLogProbs: Float32Array, config: RunConfig, step: number): WeightSnapshot {
  const idx = Array.from(curatedIndices(multiplicity))
  const logq = scoreSteps(q, ds, idx)
  const raw = new Float32Array(idx.length)
  const chunk = 256
  for (let c = 0; c < idx.length; c += chunk) {
    const part = idx.slice(c, c + chunk)
    const hq = gatherBatch(ds, part, logq)
    const hr = gatherBatch(ds, part, refLogProbs)
    const shape: [number, number] = [hq.B, hq.T]
    const r = readBack(
      tf.tidy(() => logWeightRaw(tf.tensor2d(hq.logref as Float32Array, shape), tf.tensor2d(hr.logref as Float32Array, shape), tf.tensor2d(hq.mask, shape), config.weights)),
      { dispose: true }
    )
    raw.set(r, c)
  }
  const w = readBack(tf.tidy(() => clampedWeight(tf.tensor1d(raw), config.weights)), { dispose: true }) as Float32Array
  return { step, traceIndex: Int32Array.from(idx), logWRaw: raw, w }
}
