// Evaluation of control policies.
//
// - evaluatePolicy: online, in the task's MuJoCo environment. Episodes k = 0..episodes−1
//   start from reset(episodeSeed(seed, k)) and run on up to 16 vectorised copies with one
//   batched policy.act per step; deterministic = the mean action (science.md: evaluation is
//   deterministic). The normalised score is D4RL's 100 · (R − R_random) / (R_expert − R_random)
//   with the task's reference returns.
// - offlineEval: for imported data without a matching environment. On held-out traces it
//   reports the mean log-likelihood per (masked) step, log π(a_t|s_t), and the action error:
//   for continuous actions the mean squared error between the policy's deterministic action
//   and the data's action (averaged over steps and action dimensions); for discrete actions
//   the fraction of steps whose most likely action differs from the data's.
import { gatherBatch, toDevice, disposeBatch } from '../data/batch.ts'
import { DatasetError, type TraceDataset } from '../../common/trace.ts'
import type { GeomInfo } from '../envs/base.ts'
import { getTask, normalizedScore } from '../envs/registry.ts'
import { VecEnv, policyActFn } from '../envs/vec-env.ts'
import type { Policy } from '../policies/policy.ts'
import { Rng } from '../rng.ts'

export interface EvalOptions {
  episodes: number
  seed: number
  /** default true */
  deterministic?: boolean
  /** parallel environment copies (default min(episodes, 16)) */
  copies?: number
  onProgress?: (done: number, total: number) => void
}

export interface EvalResult {
  task: string
  episodes: number
  meanReturn: number
  stdReturn: number
  normalizedScore: number
  returns: number[]
  lengths: number[]
}

export async function evaluatePolicy(task: string, policy: Policy, opts: EvalOptions): Promise<EvalResult> {
  const spec = getTask(task)
  if (policy.spec.obsDim !== spec.obsDim || policy.spec.actDim !== spec.actDim) {
    throw new Error(`policy has obsDim ${policy.spec.obsDim} / actDim ${policy.spec.actDim}; task ${task} needs ${spec.obsDim} / ${spec.actDim}`)
  }
  if (!(Number.isInteger(opts.episodes) && opts.episodes >= 1)) throw new Error(`episodes must be a whole number ≥ 1, got ${opts.episodes}`)
  const deterministic = opts.deterministic !== false
  const vec = await VecEnv.create(task, Math.max(1, Math.min(opts.copies ?? 16, opts.episodes)))
  try {
    const rng = new Rng(opts.seed ^ 0x0e7a1)
    const eps = vec.runEpisodes(policyActFn(policy, rng, deterministic), {
      episodes: opts.episodes,
      seed: opts.seed,
      record: false,
      onEpisode: (_e, done) => opts.onProgress?.(done, opts.episodes)
    })
    const returns = eps.map((e) => e.ret)
    const mean = returns.reduce((a, b) => a + b, 0) / returns.length
    const std = Math.sqrt(returns.reduce((a, b) => a + (b - mean) ** 2, 0) / returns.length)
    return {
      task,
      episodes: returns.length,
      meanReturn: mean,
      stdReturn: std,
      normalizedScore: normalizedScore(spec, mean),
      returns,
      lengths: eps.map((e) => e.length)
    }
  } finally {
    vec.close()
  }
}

export interface EpisodeReplay {
  task: string
  seed: number
  obsDim: number
  actDim: number
  length: number
  ret: number
  terminated: boolean
  /** per step t: the observation s_t the action was taken in, the action, the reward */
  obs: Float32Array
  actions: Float32Array
  rewards: Float32Array
  /** the model's geoms, and their poses at reset and after every step:
   *  (length + 1) × ngeom × 12 values (position, then row-major rotation matrix) */
  geoms: GeomInfo[]
  poses: Float32Array
  /** seconds of simulated time per step */
  dt: number
}

/** Play one episode (reset(seed)) and record everything needed to plot it over time and to
 *  draw it (geom poses per step) — the app's episode replay. */
export async function replayEpisode(task: string, policy: Policy, opts: { seed: number; deterministic?: boolean }): Promise<EpisodeReplay> {
  const spec = getTask(task)
  const env = await spec.make()
  try {
    const rng = new Rng(opts.seed ^ 0x4e9)
    const det = opts.deterministic !== false
    const geoms = env.geomInfo()
    const obs: number[] = []
    const actions: number[] = []
    const rewards: number[] = []
    const poses: Float32Array[] = []
    let o = env.reset(opts.seed)
    poses.push(env.geomPoses())
    let ret = 0
    let terminated = false
    for (;;) {
      const a = Array.from(policy.act(o, 1, rng, det))
      const r = env.step(a)
      obs.push(...o)
      actions.push(...a)
      rewards.push(r.reward)
      poses.push(env.geomPoses())
      ret += r.reward
      o = r.obs
      if (r.terminated || r.truncated) {
        terminated = r.terminated
        break
      }
    }
    const flat = new Float32Array(poses.length * geoms.length * 12)
    poses.forEach((p, i) => flat.set(p, i * geoms.length * 12))
    return {
      task,
      seed: opts.seed,
      obsDim: spec.obsDim,
      actDim: spec.actDim,
      length: rewards.length,
      ret,
      terminated,
      obs: Float32Array.from(obs),
      actions: Float32Array.from(actions),
      rewards: Float32Array.from(rewards),
      geoms,
      poses: flat,
      dt: env.dt
    }
  } finally {
    env.close()
  }
}

export interface OfflineEvalResult {
  traces: number
  /** masked steps evaluated */
  steps: number
  /** mean over masked steps of log π(a_t | s_t) */
  meanLogLik: number
  /** continuous: MSE of the deterministic action vs the data (per step and dimension);
   *  discrete: fraction of steps where the most likely action is not the data's */
  actionError: number
}

/** Held-out log-likelihood and action error of a policy on traces `traceIdx` of a dataset. */
export function offlineEval(policy: Policy, dataset: TraceDataset, traceIdx: ArrayLike<number>, opts: { batchTraces?: number } = {}): OfflineEvalResult {
  const n = traceIdx.length
  if (n === 0) throw new DatasetError(`dataset "${dataset.name}": no held-out traces to evaluate`)
  if (dataset.kind === 'sequence') throw new DatasetError(`dataset "${dataset.name}": offline control evaluation needs continuous or discrete steps, not sequences`)
  if (policy.spec.obsDim !== dataset.obsDim || policy.spec.actDim !== dataset.actDim) {
    throw new DatasetError(`dataset "${dataset.name}" has obsDim ${dataset.obsDim} / actDim ${dataset.actDim}; the policy has ${policy.spec.obsDim} / ${policy.spec.actDim}`)
  }
  const N = dataset.offsets.length - 1
  for (let i = 0; i < n; i++) {
    if (!(Number.isInteger(traceIdx[i]) && traceIdx[i] >= 0 && traceIdx[i] < N))
      throw new DatasetError(`dataset "${dataset.name}": held-out trace index ${traceIdx[i]} is outside 0..${N - 1}`)
  }
  const per = opts.batchTraces ?? 32
  const continuous = dataset.kind === 'continuous'
  const A = continuous ? dataset.actDim : 1
  const rng = new Rng(0)
  let llSum = 0
  let steps = 0
  let errSum = 0
  for (let s = 0; s < n; s += per) {
    const idx = Array.from({ length: Math.min(per, n - s) }, (_, j) => traceIdx[s + j])
    const host = gatherBatch(dataset, idx)
    const dev = toDevice(host, dataset)
    try {
      const lp = policy.logProbs(dev)
      const lpv = lp.dataSync()
      lp.dispose()
      for (let k = 0; k < host.B * host.T; k++) {
        if (host.mask[k] > 0) {
          if (!Number.isFinite(lpv[k]))
            throw new DatasetError(`dataset "${dataset.name}": log-likelihood of trace ${host.traceIndex[Math.floor(k / host.T)]}, step ${k % host.T} is ${lpv[k]}`)
          llSum += lpv[k]
          steps++
        }
      }
    } finally {
      disposeBatch(dev)
    }
    // deterministic actions for the masked steps
    for (const i of idx) {
      const start = dataset.offsets[i]
      const len = dataset.offsets[i + 1] - start
      const o = dataset.obs.subarray(start * dataset.obsDim, (start + len) * dataset.obsDim)
      const a = policy.act(o, len, rng, true)
      for (let t = 0; t < len; t++) {
        if (!dataset.mask[start + t]) continue
        if (continuous) {
          for (let j = 0; j < A; j++) {
            const d = a[t * A + j] - dataset.actions[(start + t) * A + j]
            errSum += (d * d) / A
          }
        } else if (a[t] !== dataset.actions[start + t]) errSum += 1
      }
    }
  }
  if (steps === 0) throw new DatasetError(`dataset "${dataset.name}": the held-out traces have no masked step`)
  return { traces: n, steps, meanLogLik: llSum / steps, actionError: errSum / steps }
}
