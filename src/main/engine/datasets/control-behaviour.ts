// Behaviour policies of the control datasets and the improvement run that makes the
// "replay" sets.
//
// A behaviour policy is linear in task features with state normalisation (the policy class
// of augmented random search, Mania et al. 2018):
//   a = clip( M · (φ(s) − μ) / σ , −1, 1 )
// φ is the observation itself plus a constant, except for the pendulum, whose swing-up
// needs two hand-made features (energy pumping q̇·(E_top − E) and a gate that switches the
// balance terms on near the top) — a scripted controller whose gains M are tuned by the
// search rather than by hand.
//
// The improvement run is ARS V2-t: each iteration draws n directions δ_k, plays one episode
// each with M + νδ_k and M − νδ_k, keeps the b best directions and moves
// M += α / (b σ_R) Σ (r+ − r−) δ_k; μ, σ are running statistics of the features seen.
// Every rollout of the run, from the zero policy to the last one, is kept: that is the
// replay dataset (D4RL's "replay" sets likewise hold a learner's whole buffer).
import { Rng } from '../rng.ts'
import { episodeSeed, getTask } from '../envs/registry.ts'
import { VecEnv, type Episode } from '../envs/vec-env.ts'

export interface LinearParams {
  task: string
  /** actDim × featDim, row-major */
  M: number[]
  mu: number[]
  sigma: number[]
}

/** Feature map of a task's behaviour policies (out has featDim(task) entries). */
export function featDim(task: string): number {
  if (task === 'pendulum') return 6
  return getTask(task).obsDim + 1
}

// pendulum constants (resources/mjcf/pendulum.xml): I = 0.2501, m g l = 1 · 9.81 · 0.5
const P_I = 0.2501
const P_MGL = 4.905

export function features(task: string, obs: Float32Array, o: number, out: Float64Array): void {
  if (task === 'pendulum') {
    const c = obs[o]
    const s = obs[o + 1]
    const w = obs[o + 2]
    const eTop = P_MGL
    const e = 0.5 * P_I * w * w + P_MGL * c
    const gate = 1 / (1 + Math.exp(-12 * (c - 0.85)))
    out[0] = (w * (eTop - e)) / P_MGL
    out[1] = gate * s
    out[2] = gate * w
    out[3] = s
    out[4] = w
    out[5] = 1
    return
  }
  const d = getTask(task).obsDim
  for (let i = 0; i < d; i++) out[i] = obs[o + i]
  out[d] = 1
}

export function zeroParams(task: string): LinearParams {
  const p = featDim(task)
  const a = getTask(task).actDim
  const sigma = new Array(p).fill(1)
  return { task, M: new Array(a * p).fill(0), mu: new Array(p).fill(0), sigma }
}

/** Action of a linear policy with gains M for row `row` of a batch of observations, written
 *  to out[row·actDim ..]. noiseStd > 0 adds Gaussian exploration noise before clipping. */
export function linearAct(params: LinearParams, M: ArrayLike<number>, obs: Float32Array, row: number, out: Float32Array, rng?: Rng, noiseStd = 0): void {
  const task = params.task
  const spec = getTask(task)
  const p = featDim(task)
  const f = new Float64Array(p)
  features(task, obs, row * spec.obsDim, f)
  // the last feature is the constant 1 and is never normalised
  for (let j = 0; j < p - 1; j++) f[j] = (f[j] - params.mu[j]) / params.sigma[j]
  for (let i = 0; i < spec.actDim; i++) {
    let v = 0
    for (let j = 0; j < p; j++) v += M[i * p + j] * f[j]
    if (rng && noiseStd > 0) v += noiseStd * rng.normal()
    out[row * spec.actDim + i] = v > 1 ? 1 : v < -1 ? -1 : v
  }
}

/** Running mean / variance of features (Welford), for the state normalisation. */
class RunningStat {
  n = 0
  mean: Float64Array
  m2: Float64Array
  constructor(p: number) {
    this.mean = new Float64Array(p)
    this.m2 = new Float64Array(p)
  }
  push(x: Float64Array): void {
    this.n++
    for (let j = 0; j < x.length; j++) {
      const d = x[j] - this.mean[j]
      this.mean[j] += d / this.n
      this.m2[j] += d * (x[j] - this.mean[j])
    }
  }
  std(j: number): number {
    if (this.n < 2) return 1
    const s = Math.sqrt(this.m2[j] / (this.n - 1))
    return s < 1e-3 ? 1 : s
  }
}

export interface ArsConfig {
  iterations: number
  /** directions per iteration (2 episodes each) */
  directions: number
  /** top directions used in the update */
  top: number
  /** step size α */
  stepSize: number
  /** exploration noise ν */
  noise: number
  /** parallel environment copies */
  copies: number
  /** learn the state normalisation μ, σ (ARS V2); false keeps μ = 0, σ = 1 (V1) */
  normalise: boolean
}

export const ARS_DEFAULTS: Record<string, ArsConfig> = {
  pendulum: { iterations: 40, directions: 8, top: 4, stepSize: 0.1, noise: 0.2, copies: 16, normalise: false },
  cartpole: { iterations: 30, directions: 8, top: 4, stepSize: 0.01, noise: 0.05, copies: 16, normalise: true },
  // cartpole2 (the v2 reward) learns slower than cartpole: 40 iterations end with balancing
  // policies whose returns still differ (noisy replay's top 10%: 404–467)
  cartpole2: { iterations: 40, directions: 8, top: 4, stepSize: 0.01, noise: 0.05, copies: 16, normalise: true },
  hopper: { iterations: 40, directions: 8, top: 4, stepSize: 0.02, noise: 0.03, copies: 16, normalise: true }
}

export interface ArsIteration {
  iteration: number
  /** mean return of the 2n perturbed rollouts of this iteration */
  meanReturn: number
  maxReturn: number
  params: LinearParams
}

export interface ArsResult {
  final: LinearParams
  /** every rollout of the run in order, with the iteration that made it */
  episodes: Array<Episode & { iteration: number; direction: number; sign: 1 | -1 }>
  history: ArsIteration[]
}

/** One ARS V2-t run from the zero policy. Seeded; progress via onIteration. */
export async function runArs(
  task: string,
  cfg: ArsConfig,
  seed: number,
  onIteration?: (it: ArsIteration, done: number, total: number) => void,
  init?: LinearParams,
  /** Gaussian noise of this std on every action of every rollout (before clipping), drawn from
   *  its own generator: a stochastic behaviour policy, as D4RL's replay data came from SAC */
  actionNoise?: { std: number; seed: number }
): Promise<ArsResult> {
  const spec = getTask(task)
  const p = featDim(task)
  const A = spec.actDim
  const rng = new Rng(seed)
  const noiseRng = actionNoise ? new Rng(actionNoise.seed) : undefined
  const params: LinearParams = init ? { task, M: init.M.slice(), mu: init.mu.slice(), sigma: init.sigma.slice() } : zeroParams(task)
  const stat = new RunningStat(p)
  const vec = await VecEnv.create(task, Math.min(cfg.copies, 2 * cfg.directions))
  const all: ArsResult['episodes'] = []
  const history: ArsIteration[] = []
  const f = new Float64Array(p)
  try {
    for (let it = 0; it < cfg.iterations; it++) {
      const n = cfg.directions
      const deltas: Float64Array[] = []
      for (let k = 0; k < n; k++) {
        const dlt = new Float64Array(A * p)
        for (let i = 0; i < dlt.length; i++) dlt[i] = rng.normal()
        deltas.push(dlt)
      }
      // episode 2k = +δ_k, 2k+1 = −δ_k
      const Ms = deltas.flatMap((dlt) => [0, 1].map((s) => Float64Array.from(params.M, (m, i) => m + (s === 0 ? 1 : -1) * cfg.noise * dlt[i])))
      const snapshot: LinearParams = { task, M: params.M.slice(), mu: params.mu.slice(), sigma: params.sigma.slice() }
      const runSeed = (seed * 7919 + it) >>> 0
      const eps = vec.runEpisodes(
        (obs, m, epIdx) => {
          const acts = new Float32Array(m * A)
          for (let j = 0; j < m; j++) {
            linearAct(snapshot, Ms[epIdx[j]], obs, j, acts, noiseRng, actionNoise?.std ?? 0)
            features(task, obs, j * spec.obsDim, f)
            stat.push(f)
          }
          return acts
        },
        { episodes: 2 * n, seed: runSeed }
      )
      eps.forEach((ep, e) => all.push({ ...ep, iteration: it, direction: e >> 1, sign: e % 2 === 0 ? 1 : -1 }))
      const rPlus = deltas.map((_, k) => eps[2 * k].ret)
      const rMinus = deltas.map((_, k) => eps[2 * k + 1].ret)
      const order = deltas.map((_, k) => k).sort((a, b) => Math.max(rPlus[b], rMinus[b]) - Math.max(rPlus[a], rMinus[a]))
      const top = order.slice(0, cfg.top)
      const used = top.flatMap((k) => [rPlus[k], rMinus[k]])
      const mean = used.reduce((s, x) => s + x, 0) / used.length
      const sd = Math.sqrt(used.reduce((s, x) => s + (x - mean) ** 2, 0) / used.length) || 1
      for (const k of top) {
        const c = (cfg.stepSize / (cfg.top * sd)) * (rPlus[k] - rMinus[k])
        for (let i = 0; i < params.M.length; i++) params.M[i] += c * deltas[k][i]
      }
      // update the normaliser after the step (ARS V2); the constant feature stays 1
      if (cfg.normalise)
        for (let j = 0; j < p - 1; j++) {
          params.mu[j] = stat.mean[j]
          params.sigma[j] = stat.std(j)
        }
      const rets = eps.map((e) => e.ret)
      const h: ArsIteration = {
        iteration: it,
        meanReturn: rets.reduce((s, x) => s + x, 0) / rets.length,
        maxReturn: Math.max(...rets),
        params: { task, M: params.M.slice(), mu: params.mu.slice(), sigma: params.sigma.slice() }
      }
      history.push(h)
      onIteration?.(h, it + 1, cfg.iterations)
      // let progress listeners and the event loop run
      await new Promise((r) => setImmediate(r))
    }
  } finally {
    vec.close()
  }
  return { final: history.length ? history[history.length - 1].params : params, episodes: all, history }
}

/** Mean return of a linear policy over `episodes` episodes (deterministic unless noiseStd). */
export async function evalLinear(params: LinearParams, episodes: number, seed: number, noiseStd = 0): Promise<{ mean: number; returns: number[] }> {
  const spec = getTask(params.task)
  const vec = await VecEnv.create(params.task, Math.min(16, episodes))
  const rng = new Rng(seed ^ 0x51ed)
  try {
    const eps = vec.runEpisodes(
      (obs, m) => {
        const acts = new Float32Array(m * spec.actDim)
        for (let j = 0; j < m; j++) linearAct(params, params.M, obs, j, acts, rng, noiseStd)
        return acts
      },
      { episodes, seed, record: false }
    )
    const returns = eps.map((e) => e.ret)
    return { mean: returns.reduce((s, x) => s + x, 0) / returns.length, returns }
  } finally {
    vec.close()
  }
}

export { episodeSeed }
