// The training loop shared by every method (science.md, "Objectives" and "Importance
// weights"; paper Algorithm 1). Each update reads as the paper's:
//   1. sample  B traces: uniformly from D (BC) or D+, or by quality-bin multiplicity from D_Q+
//              (Algorithm 2); with train.step_sample, S steps of each for the gradient
//   2. θ_q     the EMA update or periodic copy of θ_q, and the log-q cache refresh (log-q.ts)
//   3. weight  w from log q − log π_ref (eq. 11; π_ref's log-probs are cached, never recomputed)
//   4. loss    the weighted NLL, with the weights held constant (objectives/loss.ts)
//   5. step    clip the gradient, step Adam/AdamW (optim.ts)
import * as tf from '@tensorflow/tfjs'
import { isImportanceWeighted, isPerStep, trainsOnAllData, type RunConfig } from '../../../shared/config.ts'
import { clampFraction, weightStats } from '../../../shared/weight-stats.ts'
import type { WeightSnapshot } from '../../common/tensors.ts'
import { disposeBatch, gatherBatch, gatherStepSample, gatherStepValues, maskedSteps, maskLengths, stepValuesAt, toDevice, type HostBatch, type MaskLengths } from '../data/batch.ts'
import type { TraceDataset } from '../../common/trace.ts'
import { weightedNll } from '../objectives/loss.ts'
import type { Batch, Policy } from '../policies/policy.ts'
import { WeightedSampler, type Rng } from '../rng.ts'
import { samplingMass } from './batch-schedule.ts'
import { clampedWeight, logWeightRaw, perStepWeight, untaped } from '../weights.ts'
import { createLogQ, type LogQ } from './log-q.ts'
import { AdamOptimizer, learningRate } from './optim.ts'
import { weightSnapshot } from './scoring.ts'
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
  /** every train.checkpoint_every steps and at the end (θ is setup.policy at that moment); when
   *  checkpoint_every is set, also where a cancelled run stopped */
  onCheckpoint?(state: TrainState): void
}

export interface TrainResult {
  status: 'completed' | 'cancelled'
  steps: number
  final: Record<string, number>
}

/** The trace weight of each batch row: raw log w (eq. 11) and the clamped (normalised) w. */
interface TraceWeights {
  raw: tf.Tensor1D
  w: tf.Tensor1D
}

/** Per-step weights w_t of a batch (or micro-batch), the ρ_t they were clipped from (for the
 *  clip fraction), and its mask on the host. */
interface StepWeights {
  w: tf.Tensor2D
  rho: tf.Tensor2D
  mask: Float32Array
}

export async function train(setup: TrainSetup, hooks: TrainHooks = {}): Promise<TrainResult> {
  const { config, dataset: ds, policy, rng } = setup
  const { method, weights: ws, train: tc } = config
  const iw = isImportanceWeighted(method)
  const perStep = isPerStep(method)
  const ref = setup.refLogProbs
  if (iw && !ref) throw new TrainingError(`${method} needs reference log-probs; none were computed`)
  const sampler = new WeightedSampler(samplingMass(method, setup.multiplicity))
  const opt = new AdamOptimizer(policy.variables, config.optim)
  const logQ = iw ? createLogQ(ws, policy, ds, setup.multiplicity) : null
  const stepSample = tc.step_sample
  const stepIndex = stepSample ? maskedSteps(ds) : null
  // gradient accumulation: rows per forward/backward pass (train.micro_batch)
  const micro = Math.min(tc.micro_batch ?? tc.batch_size, tc.batch_size)
  if (micro < tc.batch_size) {
    if (stepSample) throw new TrainingError('train.micro_batch splits whole traces; it cannot be combined with train.step_sample: set one of them to null')
    if (iw && !perStep && ws.normalize)
      throw new TrainingError("weights.normalize divides by the whole batch's weights, which a micro-batch does not see: set train.micro_batch null or weights.normalize false")
  }
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
    if (logQ && r.q) logQ.setState(r.q)
  }
  // language models: tokens/s of training (the tokens of the sampled rows, prompt included) over
  // the steps since the last log, evaluation excluded — the figure of the llm/train-* benchmarks
  const countTokens = config.policy.kind === 'llm'
  let windowTokens = 0
  const state = (step: number): TrainState => ({ step, rngState: rng.getState(), adam: opt.getState(), q: logQ?.getState() ?? null })

  try {
    if (hooks.evaluate && first === 0) log(0, await hooks.evaluate(policy, 0))
    let windowStart = performance.now()
    for (let s = first; s < tc.steps; s++) {
      if (hooks.signal?.aborted) {
        // a run that keeps resumable checkpoints keeps one where it was stopped, so it resumes from
        // there (exact only on a q-cache refresh boundary, as for periodic checkpoints)
        const due = tc.checkpoint_every !== null && s > first && s % tc.checkpoint_every !== 0 && (ws.q_refresh === null || s % ws.q_refresh === 0)
        if (hooks.onCheckpoint && due) hooks.onCheckpoint(state(s))
        return { status: 'cancelled', steps: s, final }
      }
      const stepNo = s + 1
      const lr = learningRate(config.optim, s, tc.steps)
      // 1. sample (with train.micro_batch: in row chunks whose gradients add up to the batch's)
      const idx = sampler.sampleMany(rng, tc.batch_size)
      const hosts: HostBatch[] = stepSample
        ? [gatherStepSample(ds, idx, stepSample, stepIndex!, () => rng.next())]
        : Array.from({ length: Math.ceil(idx.length / micro) }, (_, c) => gatherBatch(ds, idx.subarray(c * micro, (c + 1) * micro)))
      // 2. update θ_q (and rescore the log-q cache) before the weights
      logQ?.beginStep(s)
      const kept: TraceWeights[] = []
      const keptStep: StepWeights[] = []
      let loss: tf.Scalar | null = null
      let gradList: tf.Tensor[] | null = null
      // the loss is linear in each row's terms: a chunk's loss times (its tokens / the batch's
      // tokens) or (its rows / B) is its share of the batch loss, and the shares' gradients add up
      const hostLengths = hosts.map((h) => maskLengths(h.mask, h.B, h.T))
      const total =
        tc.loss_norm === 'token'
          ? Math.max(
              1,
              hostLengths.reduce((a, l) => a + l.count, 0)
            )
          : tc.batch_size
      for (const [i, host] of hosts.entries()) {
        const lengths = hostLengths[i]
        const share = hosts.length === 1 ? 1 : (tc.loss_norm === 'token' ? lengths.total : host.B) / total
        const batch = toDevice(host, ds)
        try {
          // 3. weight: all the loss needs besides π_θ's own forward pass
          const wIn = logQ ? weightInputs(ds, host, batch, lengths, ref!, logQ, perStep, ws) : null
          if (wIn?.trace) kept.push(wIn.trace)
          // 4. loss; where no other source gave log q, q = π_θ as a constant (q = current)
          const { value, grads } = tf.variableGrads(() => {
            const logp = policy.logProbs(batch)
            let l: tf.Scalar
            if (!wIn) l = weightedNll(logp, batch.mask, null, null, tc.loss_norm, lengths)
            else if (wIn.trace) l = weightedNll(logp, batch.mask, wIn.trace.w, null, tc.loss_norm, lengths)
            else {
              // the weights, off the tape: log q is π_θ's own log-probs (q = current, a
              // constant there) or θ_q's / the cache's
              const logq = wIn.logq ?? logp
              const logref = wIn.logref!
              if (perStep) {
                const [wStep, rho] = untaped(() => [perStepWeight(logq, logref, batch.mask, ws.step_clip), tf.sub(logq, logref)]) as tf.Tensor2D[]
                keptStep.push({ w: tf.keep(wStep), rho, mask: host.mask })
                l = weightedNll(logp, batch.mask, null, wStep, tc.loss_norm, lengths)
              } else {
                const [w, raw] = untaped(() => {
                  const r = logWeightRaw(logq, logref, batch.mask, ws, lengths.perTrace)
                  return [clampedWeight(r, ws), r]
                }) as tf.Tensor1D[]
                kept.push({ raw, w: tf.keep(w) })
                l = weightedNll(logp, batch.mask, w, null, tc.loss_norm, lengths)
              }
            }
            return share === 1 ? l : (l.mul(share) as tf.Scalar)
          }, policy.variables)
          if (wIn) tf.dispose([wIn.logref, wIn.logq].filter((t): t is tf.Tensor2D => t !== null))
          const g = policy.variables.map((v) => grads[v.name])
          if (!gradList || !loss) {
            gradList = g
            loss = value
          } else {
            const prev: tf.Tensor[] = [loss, ...gradList]
            loss = tf.add(loss, value) as tf.Scalar
            gradList = gradList.map((a, i) => tf.add(a, g[i]))
            tf.dispose([...prev, value, ...g])
          }
        } finally {
          disposeBatch(batch)
        }
      }
      // 5. step
      const gnorm = opt.step(gradList!, lr)
      const [lossV, gnV] = readBack(
        tf.tidy(() => tf.stack([loss!, gnorm])),
        { dispose: true }
      )
      if (countTokens) windowTokens += hosts.reduce((a, h) => a + h.valid.reduce((x, y) => x + y, 0), 0)
      tf.dispose([loss!, gnorm, ...gradList!])

      try {
        if (!Number.isFinite(lossV) || !Number.isFinite(gnV)) {
          throw new TrainingError(diagnose(stepNo, lossV, gnV, kept, keptStep))
        }
        const last = stepNo === tc.steps
        const evalNow = Boolean(hooks.evaluate) && (stepNo % tc.eval_every === 0 || last)
        if (evalNow || stepNo % tc.log_every === 0 || last) {
          const m: Record<string, number> = { loss: lossV, lr, grad_norm: gnV }
          if (countTokens) m.tokens_per_s = windowTokens / Math.max(1e-6, (performance.now() - windowStart) / 1000)
          if (kept.length) {
            const cat = (f: (k: TraceWeights) => tf.Tensor1D): Float32Array => Float32Array.from(kept.flatMap((k) => Array.from(f(k).dataSync())))
            Object.assign(
              m,
              weightStats(
                cat((k) => k.raw),
                cat((k) => k.w),
                ws.clamp
              )
            )
          }
          if (keptStep.length) Object.assign(m, stepWeightStats(keptStep, ws.step_clip))
          if (evalNow) Object.assign(m, await hooks.evaluate!(policy, stepNo))
          log(stepNo, m)
          windowTokens = 0
          windowStart = performance.now()
        }
        if (hooks.onSnapshot && ref && !trainsOnAllData(method) && (stepNo % tc.snapshot_every === 0 || last)) {
          // beside the whole curated set, this step's batch exactly as the loss weighted it
          // (micro-batches: their rows in order, each weighted as its chunk's loss weighted it)
          const used = kept.length === hosts.length ? Float32Array.from(kept.flatMap((k) => Array.from(k.w.dataSync()))) : null
          const rows = Int32Array.from(hosts.flatMap((h) => Array.from(h.traceIndex)))
          hooks.onSnapshot(weightSnapshot(logQ?.q ?? policy, ds, setup.multiplicity, ref, config, stepNo, used && used.length === rows.length ? { traceIndex: rows, w: used } : null))
        }
      } finally {
        for (const k of kept) tf.dispose([k.raw, k.w])
        for (const k of keptStep) tf.dispose([k.w, k.rho])
      }
      if (hooks.onCheckpoint && ((tc.checkpoint_every !== null && stepNo % tc.checkpoint_every === 0) || stepNo === tc.steps)) hooks.onCheckpoint(state(stepNo))
      hooks.onProgress?.(stepNo, tc.steps)
      // let cancellation messages and progress reach the event loop
      if (stepNo % 4 === 0) await new Promise((r) => setImmediate(r))
    }
    return { status: 'completed', steps: tc.steps, final }
  } finally {
    opt.dispose()
    logQ?.dispose()
  }
}

/** What the loss of an iw method needs besides π_θ's forward pass, for one batch:
 *  - trace weights with sampled steps: w(τ) from whole trajectories (eq. 11 sums over every
 *    step of τ, the gradient batch holds only S of them);
 *  - otherwise log π_ref at the batch's entries and log q where it does not come from π_θ's own
 *    pass (θ_q's forward, or the cache) — with the trace weights formed from them right here.
 *    log q null: the loss takes log π_θ as a constant inside the gradient (weights.ts untaped),
 *    at no extra cost. */
function weightInputs(
  ds: TraceDataset,
  host: HostBatch,
  batch: Batch,
  lengths: MaskLengths,
  ref: Float32Array,
  logQ: LogQ,
  perStep: boolean,
  ws: RunConfig['weights']
): { logref: tf.Tensor2D | null; logq: tf.Tensor2D | null; trace: TraceWeights | null } {
  if (!perStep && host.steps) return { logref: null, logq: null, trace: wholeTrajectoryWeights(ds, host.traceIndex, ref, logQ, ws) }
  const logref = tf.tensor2d(stepValuesAt(ds, host, ref), [host.B, host.T])
  const logq = logQ.atBatch(host, batch)
  const trace =
    !perStep && logq
      ? tf.tidy(() => {
          const raw = logWeightRaw(logq, logref, batch.mask, ws, lengths.perTrace)
          return { raw, w: clampedWeight(raw, ws) }
        })
      : null
  return { logref, logq, trace }
}

/** Trace weights from whole trajectories (paper eq. 11 sums over every step of τ) when the
 *  gradient only sees sampled steps: log q along the full trajectories from the log-q source
 *  (its cache, or one forward pass of q without gradient). */
function wholeTrajectoryWeights(ds: TraceDataset, idx: Int32Array, ref: Float32Array, logQ: LogQ, ws: RunConfig['weights']): TraceWeights {
  const full = gatherBatch(ds, idx)
  const shape: [number, number] = [full.B, full.T]
  const logq = logQ.alongTrajectories(full)
  const logref = gatherStepValues(ds, idx, ref)
  return tf.tidy(() => {
    const raw = logWeightRaw(tf.tensor2d(logq, shape), tf.tensor2d(logref, shape), tf.tensor2d(full.mask, shape), ws, maskLengths(full.mask, full.B, full.T).perTrace)
    return { raw, w: clampedWeight(raw, ws) }
  })
}

/** Mean w_t over the batch's masked steps, and the share of them the step clip changed
 *  (over every micro-batch of the step). */
function stepWeightStats(parts: StepWeights[], stepClip: [number, number]): Record<string, number> {
  let n = 0
  let sum = 0
  let clipped = 0
  for (const k of parts) {
    const w = k.w.dataSync()
    const m = k.mask
    let nPart = 0
    for (let i = 0; i < w.length; i++) {
      if (!m[i]) continue
      nPart++
      sum += w[i]
    }
    clipped += clampFraction(k.rho.dataSync(), stepClip, m) * nPart
    n += nPart
  }
  return { step_w_mean: n ? sum / n : 0, step_clip_fraction: n ? clipped / n : 0 }
}

function diagnose(step: number, loss: number, gnorm: number, kept: TraceWeights[], keptStep: StepWeights[]): string {
  const where = `training stopped at step ${step}`
  const bad = (a: ArrayLike<number>): number => Array.prototype.findIndex.call(a, (v: number) => !Number.isFinite(v))
  let row = 0
  for (const k of kept) {
    const w = k.w.dataSync()
    const i = bad(w)
    if (i >= 0) {
      return `${where}: importance weight of batch row ${row + i} is ${w[i]} (raw log w ${k.raw.dataSync()[i]}). Lower weights.temp, tighten weights.clamp, or check the reference log-probs.`
    }
    row += w.length
  }
  for (const [c, k] of keptStep.entries()) {
    const i = bad(k.w.dataSync())
    if (i >= 0) return `${where}: a per-step weight is not finite (micro-batch ${c}, flat index ${i}). Check the reference log-probs.`
  }
  if (!Number.isFinite(loss)) return `${where}: the loss is ${loss}. Lower optim.lr or set optim.clip_grad_norm; check the data for extreme values.`
  return `${where}: the gradient norm is ${gnorm}. Lower optim.lr or set optim.clip_grad_norm.`
}
