// "Bring your own log-probs": importance weights of traces whose per-token log-probs of the
// reference (log π_ref) and of the policy (log q, e.g. π_θ of an external run) were computed
// elsewhere (vLLM, a PyTorch run) and imported with import-text.ts. No model runs here.
//
// The math is the engine's one implementation (weights.ts: rho, logWeightRaw, clampedWeight,
// perStepWeight); this file only pads the flat per-step arrays into [B, T] chunks with
// gatherStepValues (padding and prompt steps have mask 0) and collects the results.
//
// Variants:
//   'trace'    log w_raw(τ) = k · Σ_t mask_t · g(ρ_t)  (temp, aggregate mean|sum, per_step transform
//              clip_rho | clip_ratio), then w = clamp(exp(log w_raw), w_min, w_max) and, with
//              `normalize`, self-normalisation over THE WHOLE SET: w_i · N / Σ_j w_j (mean 1).
//              (Training normalises per batch; over a fixed set of traces the set is the natural
//              "batch", as in the trainer's weight snapshots.)
//   'per_step' w_t = clamp(exp(ρ_t), step_clip) on each masked step (no temperature, aggregate,
//              per_step transform, clamp or normalize — paper/science.md step 5). Per trace:
//              w = the mean of w_t over its masked steps (the weight the trace carries under the
//              per-trace loss normalisation), log w_raw = the mean of the raw ρ_t.
//              stats.clamp_fraction is then the share of masked STEPS whose ratio exp(ρ_t) the
//              step clip changed (clampCount); `steps` adds the step-level ESS.
import * as tf from '@tensorflow/tfjs'
import { ByoSettingsSchema, type ByoSettings, type ByoVariant, type StepStats } from '../../shared/byo.ts'
import { clampCount, weightStats, type WeightStats } from '../../shared/weight-stats.ts'
import { gatherStepValues, paddedLength } from './data/batch.ts'
import { DatasetError, numTraces, totalSteps, type TraceDataset } from '../common/trace.ts'
import { clampedWeight, logWeightRaw, perStepWeight, rho } from './weights.ts'

export { ByoSettingsSchema, type ByoSettings, type ByoVariant, type StepStats } from '../../shared/byo.ts'

export interface ByoWeights {
  variant: ByoVariant
  /** per trace (index = trace index): trace variant log w raw; per_step variant the mean raw ρ_t */
  logWRaw: Float32Array
  /** per trace: trace variant the clamped (and normalised) weight; per_step the mean of w_t */
  w: Float32Array
  stats: WeightStats
  /** per_step variant only */
  steps?: StepStats
  /** per-step arrays of the traces asked for in `rhoTraces` */
  rho?: Map<number, TraceSteps>
}

export interface TraceSteps {
  /** raw ρ_t = log q − log π_ref per step of the trace; NaN on masked (prompt) steps */
  rho: Float32Array
  /** g(ρ_t) after the per_step transform (clip_rho / clip_ratio), NaN on masked steps */
  g: Float32Array
  /** per-step weight w_t = clamp(exp(ρ_t), step_clip); NaN on masked steps */
  wStep: Float32Array
}

/** Results of the passes over every step, kept between calls on the same data (byoInspect holds
 *  one per loaded dataset): the trace variant's log w raw at temp 1 per (aggregate, transform),
 *  the per-step variant's results per step_clip. Temperature, clamp and normalisation changes
 *  then cost O(N), not a pass over all steps. */
export type ByoCache = Map<string, unknown>

export class ByoError extends DatasetError {
  constructor(message: string) {
    super(message)
    this.name = 'ByoError'
  }
}

/** Check that both log-prob arrays belong to the dataset (one finite value per step). */
export function checkLogProbs(ds: TraceDataset, ref: Float32Array, pol: Float32Array): void {
  const T = totalSteps(ds)
  for (const [what, a] of [
    ['reference', ref],
    ['policy', pol]
  ] as const) {
    if (a.length !== T) throw new ByoError(`dataset "${ds.name}": ${a.length} ${what} log-probs for ${T} steps; they must match one to one`)
    for (let s = 0; s < T; s++) {
      if (!Number.isFinite(a[s])) throw new ByoError(`dataset "${ds.name}": ${what} log-prob at flat step ${s} is ${a[s]}`)
    }
  }
}

function traceIndices(ds: TraceDataset): number[] {
  return Array.from({ length: numTraces(ds) }, (_, i) => i)
}

/** log q, log π_ref and the mask of traces `idx`, padded to [B, T] */
function padded(
  ds: TraceDataset,
  idx: number[],
  refLogProbs: Float32Array,
  policyLogProbs: Float32Array
): { B: number; T: number; logq: Float32Array; logref: Float32Array; mask: Float32Array } {
  return {
    B: idx.length,
    T: paddedLength(ds, idx),
    logq: gatherStepValues(ds, idx, policyLogProbs),
    logref: gatherStepValues(ds, idx, refLogProbs),
    mask: gatherStepValues(ds, idx, ds.mask)
  }
}

/** Per-trace weights of every trace of `ds` under `settings` (see the file comment). */
export function byoWeights(
  ds: TraceDataset,
  refLogProbs: Float32Array,
  policyLogProbs: Float32Array,
  settings: ByoSettings,
  variant: ByoVariant = 'trace',
  opts: { rhoTraces?: number[]; chunk?: number; cache?: ByoCache } = {}
): ByoWeights {
  const parsed = ByoSettingsSchema.safeParse(settings)
  if (!parsed.success) {
    throw new ByoError(`weight settings: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(settings)'}: ${i.message}`).join('; ')}`)
  }
  const s = parsed.data
  checkLogProbs(ds, refLogProbs, policyLogProbs)
  const N = numTraces(ds)
  const all = traceIndices(ds)
  const chunk = opts.chunk ?? 256
  const logWRaw = new Float32Array(N)
  let w: Float32Array
  let steps: StepStats | undefined
  const cached = <T>(key: string, make: () => T): T => {
    const c = opts.cache
    if (!c) return make()
    if (c.has(key)) return c.get(key) as T
    const v = make()
    if (c.size >= 8) c.delete(c.keys().next().value!)
    c.set(key, v)
    return v
  }
  if (variant === 'trace') {
    // log w raw at temp 1, for this aggregate and per-step transform (the pass over all steps)
    const unit = cached(`trace ${s.aggregate} ${JSON.stringify(s.per_step)}`, () => {
      const u = new Float32Array(N)
      const s1 = { ...s, temp: 1 }
      for (let c = 0; c < N; c += chunk) {
        const p = padded(ds, all.slice(c, c + chunk), refLogProbs, policyLogProbs)
        const t = tf.tidy(() => {
          const shape: [number, number] = [p.B, p.T]
          return logWeightRaw(tf.tensor2d(p.logq, shape), tf.tensor2d(p.logref, shape), tf.tensor2d(p.mask, shape), s1)
        })
        u.set(t.dataSync(), c)
        t.dispose()
      }
      return u
    })
    // logWeightRaw ends with a multiplication by temp (k = temp/|τ| or temp), so log w raw at
    // temp is temp × (log w raw at 1): the same float32 product, without another pass
    for (let i = 0; i < N; i++) logWRaw[i] = unit[i] * s.temp
    const wt = tf.tidy(() => clampedWeight(tf.tensor1d(logWRaw), s))
    w = wt.dataSync() as Float32Array
    wt.dispose()
  } else if (variant === 'per_step') {
    const r = cached(`per_step ${JSON.stringify(s.step_clip)}`, () => perStepPass(ds, refLogProbs, policyLogProbs, s.step_clip, chunk))
    logWRaw.set(r.logWRaw)
    w = r.w.slice()
    steps = r.steps
  } else {
    throw new ByoError(`variant "${String(variant)}" is not one of trace, per_step`)
  }
  for (let i = 0; i < N; i++) {
    if (!Number.isFinite(logWRaw[i]) || !Number.isFinite(w[i])) {
      throw new ByoError(`trace ${i} (${ds.ids[i]}): the weight is ${w[i]} (log w raw ${logWRaw[i]}); lower temp or tighten the clamp`)
    }
  }
  const stats = weightStats(logWRaw, w, variant === 'trace' ? s.clamp : s.step_clip)
  if (steps) stats.clamp_fraction = steps.clip_fraction
  const out: ByoWeights = { variant, logWRaw, w, stats, ...(steps ? { steps } : {}) }
  if (opts.rhoTraces?.length) {
    out.rho = new Map()
    for (const i of opts.rhoTraces) out.rho.set(i, byoTraceSteps(ds, refLogProbs, policyLogProbs, i, s))
  }
  return out
}

/** The per-step variant's pass over every step: per trace the mean raw ρ_t and the mean w_t. */
function perStepPass(
  ds: TraceDataset,
  refLogProbs: Float32Array,
  policyLogProbs: Float32Array,
  stepClip: [number, number],
  chunk: number
): { logWRaw: Float32Array; w: Float32Array; steps: StepStats } {
  const N = numTraces(ds)
  const all = traceIndices(ds)
  const logWRaw = new Float32Array(N)
  const w = new Float32Array(N)
  // mean raw ρ_t per trace: logWeightRaw with temp 1, mean, no transform
  const meanRho = { temp: 1, aggregate: 'mean' as const, per_step: null, clamp: [0, 1] as [number, number], normalize: false }
  let n = 0
  let sw = 0
  let sw2 = 0
  let clipped = 0
  for (let c = 0; c < N; c += chunk) {
    const { B, T, logq, logref, mask } = padded(ds, all.slice(c, c + chunk), refLogProbs, policyLogProbs)
    // tidy returns tensors (read afterwards): a returned array of typed arrays would be walked
    // element by element in search of tensors
    const out = tf.tidy(() => {
      const shape: [number, number] = [B, T]
      const lq = tf.tensor2d(logq, shape)
      const lr = tf.tensor2d(logref, shape)
      const m = tf.tensor2d(mask, shape)
      return [logWeightRaw(lq, lr, m, meanRho), perStepWeight(lq, lr, m, stepClip), rho(lq, lr, null)] as tf.Tensor[]
    })
    const [raw, ws, r] = out.map((x) => x.dataSync())
    tf.dispose(out)
    logWRaw.set(raw, c)
    clipped += clampCount(r, stepClip, mask).clipped
    for (let b = 0; b < B; b++) {
      let k = 0
      let sum = 0
      for (let t = 0; t < T; t++) {
        const j = b * T + t
        if (!mask[j]) continue
        k++
        sum += ws[j]
        sw += ws[j]
        sw2 += ws[j] * ws[j]
      }
      n += k
      w[c + b] = k > 0 ? sum / k : 0
    }
  }
  const steps = { n, ess: sw2 > 0 ? (sw * sw) / sw2 : 0, ess_fraction: n > 0 && sw2 > 0 ? (sw * sw) / sw2 / n : 0, clip_fraction: n ? clipped / n : 0, w_mean: n ? sw / n : 0 }
  return { logWRaw, w, steps }
}

/** Per-step ρ_t (raw), g(ρ_t) (the settings' per_step transform) and w_t (step_clip) along one
 *  trace; NaN where the step is masked out (prompt tokens). */
export function byoTraceSteps(ds: TraceDataset, refLogProbs: Float32Array, policyLogProbs: Float32Array, trace: number, settings: Pick<ByoSettings, 'per_step' | 'step_clip'>): TraceSteps {
  const N = numTraces(ds)
  if (!Number.isInteger(trace) || trace < 0 || trace >= N) throw new ByoError(`trace ${trace} is out of range: the dataset has ${N} traces (0..${N - 1})`)
  const p = padded(ds, [trace], refLogProbs, policyLogProbs)
  const len = ds.offsets[trace + 1] - ds.offsets[trace]
  const out = tf.tidy(() => {
    const shape: [number, number] = [1, p.T]
    const lq = tf.tensor2d(p.logq, shape)
    const lr = tf.tensor2d(p.logref, shape)
    const m = tf.tensor2d(p.mask, shape)
    return [rho(lq, lr, null), rho(lq, lr, settings.per_step), perStepWeight(lq, lr, m, settings.step_clip)] as tf.Tensor[]
  })
  const [r, g, ws] = out.map((x) => x.dataSync())
  tf.dispose(out)
  const pick = (a: ArrayLike<number>): Float32Array => {
    const o = new Float32Array(len)
    for (let t = 0; t < len; t++) o[t] = p.mask[t] ? a[t] : NaN
    return o
  }
  return { rho: pick(r), g: pick(g), wStep: pick(ws) }
}
