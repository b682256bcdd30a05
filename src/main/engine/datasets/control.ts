// Built-in offline datasets of the control tasks, made the way D4RL made its own.
//
// - "expert": episodes of the task's expert behaviour policy (control-experts.ts: linear
//   gains found by a long augmented-random-search run) with Gaussian exploration noise of
//   std 0.1 on every action before clipping, as D4RL's expert sets sample a trained policy.
// - "replay": every rollout of a real improvement run — ARS V2-t from the zero policy
//   (control-behaviour.ts) — in the order it happened, so returns range from the poor
//   first policies to the good last ones (D4RL's "replay" sets hold a learner's buffer).
// - "replay-noisy-v1" (issue 15): the same kind of run, every action with Gaussian noise of std
//   REPLAY_ACTION_NOISE before clipping — a stochastic behaviour policy, as D4RL's replay data
//   came from SAC. The deterministic "replay" sets leave π_ref (BC) with σ ≈ 0.03 and make
//   per-step ρ large. A new name, so "replay" stays reproducible; a change to how it is made
//   gets a new version in the name.
//
// Every trace is one episode: obs s_t, the action a_t the behaviour policy took (before the
// environment's clipping; it is already within [−1, 1]), per-step reward r_t, and score =
// the episode return. Everything is seeded: the same (task, kind, seed, size) gives the
// same dataset byte for byte.
import { fromTraces, validateDataset, type TraceDataset } from '../../common/trace.ts'
import { curate } from '../../../shared/curation.ts'
import { getTask, listTasks } from '../envs/registry.ts'
import { VecEnv, type Episode } from '../envs/vec-env.ts'
import { Rng } from '../rng.ts'
import { ARS_DEFAULTS, linearAct, runArs, type ArsConfig } from './control-behaviour.ts'
import { EXPERTS } from './control-experts.ts'

export type ControlDatasetKind = 'expert' | 'replay' | 'replay-noisy-v1'
export const CONTROL_DATASET_KINDS: readonly ControlDatasetKind[] = ['expert', 'replay', 'replay-noisy-v1']

/** Action noise (std, in action units) of the "replay-noisy-v1" sets. */
export const REPLAY_ACTION_NOISE = 0.2

export interface ControlProgress {
  phase: string
  done: number
  total: number
}

export interface ControlDatasetOptions {
  seed: number
  /** expert: number of episodes (default 100, quick 10); replay: number of ARS rollouts
   *  (default = the task's full run, see REPLAY_DEFAULTS; rounded up to whole iterations of
   *  2·directions rollouts, then cut to exactly this many) */
  episodes?: number
  /** a small set made in seconds (tests, demos) */
  quick?: boolean
  onProgress?: (p: ControlProgress) => void
}

/** Exploration noise of the expert datasets (std, in action units). */
export const EXPERT_NOISE = 0.1
export const EXPERT_EPISODES = { default: 100, quick: 10 }
/** ARS iterations of the quick replay run (the full run uses ARS_DEFAULTS). cartpole2's quick
 *  set is its whole run: it is made in seconds, and a 6-iteration run holds no policy that
 *  balances (cartpole2 learns slower than cartpole), so the top 10% would have nothing good
 *  to pick. */
export const QUICK_REPLAY_ITERATIONS: Record<string, number> = { pendulum: 6, cartpole: 6, cartpole2: 40, hopper: 6 }

export function arsConfigFor(task: string, opts: Pick<ControlDatasetOptions, 'episodes' | 'quick'>): ArsConfig {
  const base = ARS_DEFAULTS[task]
  if (!base) throw new Error(`no improvement run is defined for task "${task}"`)
  let iterations = opts.quick ? QUICK_REPLAY_ITERATIONS[task] : base.iterations
  if (opts.episodes !== undefined) iterations = Math.ceil(opts.episodes / (2 * base.directions))
  return { ...base, iterations }
}

export async function makeControlDataset(task: string, kind: ControlDatasetKind, opts: ControlDatasetOptions): Promise<TraceDataset> {
  const spec = getTask(task)
  if (!CONTROL_DATASET_KINDS.includes(kind)) throw new Error(`unknown control dataset kind "${kind}"; use ${CONTROL_DATASET_KINDS.join(', ')}`)
  if (!Number.isInteger(opts.seed)) throw new Error(`the dataset seed must be a whole number, got ${opts.seed}`)
  if (opts.episodes !== undefined && !(Number.isInteger(opts.episodes) && opts.episodes >= 1)) {
    throw new Error(`episodes must be a whole number ≥ 1, got ${opts.episodes}`)
  }
  const { seed } = opts
  let episodes: Array<Episode & { iteration?: number }>
  if (kind === 'expert') {
    const n = opts.episodes ?? (opts.quick ? EXPERT_EPISODES.quick : EXPERT_EPISODES.default)
    const params = EXPERTS[task]
    if (!params) throw new Error(`no expert behaviour policy is shipped for task "${task}"`)
    const rng = new Rng(seed ^ 0x3e7e)
    const vec = await VecEnv.create(task, Math.min(16, n))
    try {
      // progress in environment steps (episodes run 16 at a time and end together: counting
      // episodes, the bar would jump from 0 to 16); at most every 0.5 %
      let shown = -1
      const onStep = (done: number, total: number): void => {
        const at = Math.floor((done / total) * 200)
        if (at === shown) return
        shown = at
        opts.onProgress?.({ phase: 'expert', done, total })
      }
      onStep(0, n * spec.maxSteps)
      episodes = vec.runEpisodes(
        (obs, m) => {
          const a = new Float32Array(m * spec.actDim)
          for (let j = 0; j < m; j++) linearAct(params, params.M, obs, j, a, rng, EXPERT_NOISE)
          return a
        },
        { episodes: n, seed, onStep }
      )
    } finally {
      vec.close()
    }
  } else {
    const cfg = arsConfigFor(task, opts)
    opts.onProgress?.({ phase: 'replay', done: 0, total: cfg.iterations })
    const noise = kind === 'replay-noisy-v1' ? { std: REPLAY_ACTION_NOISE, seed: (seed ^ 0x5ac7) >>> 0 } : undefined
    const run = await runArs(task, cfg, seed, (_h, done, total) => opts.onProgress?.({ phase: 'replay', done, total }), undefined, noise)
    episodes = opts.episodes !== undefined ? run.episodes.slice(0, opts.episodes) : run.episodes
  }
  const ds = fromTraces(
    `${task}-${kind}`,
    'continuous',
    spec.obsDim,
    spec.actDim,
    episodes.map((e, k) => ({
      id: `${task}-${kind}-s${seed}-${k}`,
      obs: e.obs,
      actions: e.actions,
      rewards: e.rewards,
      score: e.ret,
      meta: {
        task,
        kind,
        episode: k,
        seed: e.seed,
        length: e.length,
        terminated: e.terminated,
        truncated: e.truncated,
        ...(e.iteration !== undefined ? { iteration: e.iteration } : {})
      }
    }))
  )
  validateDataset(ds)
  return ds
}

export interface ReturnStats {
  episodes: number
  steps: number
  mean: number
  median: number
  min: number
  max: number
  /** the episodes SFT's "top 10%" curation keeps (shared/curation.ts, return ≥ the 90th
   *  percentile): how many, their lowest and highest return and the standard deviation among
   *  them. A spread near 0 (every curated return at the ceiling) leaves the curated set's
   *  scores without signal (issue 15). */
  top10: { episodes: number; min: number; max: number; std: number }
}

/** Summary numbers of a dataset's returns (reports, the CLI). */
export function returnStats(ds: TraceDataset): ReturnStats {
  const s = Array.from(ds.scores).sort((a, b) => a - b)
  const n = s.length
  const median = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
  const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length
  const m = curate(s, { mode: 'top_k', percent: 10 }, s).multiplicity
  const top = s.filter((_, i) => m[i] > 0)
  const topMean = mean(top)
  const topStd = Math.sqrt(top.reduce((a, x) => a + (x - topMean) ** 2, 0) / top.length)
  return {
    episodes: n,
    steps: ds.offsets[n],
    mean: mean(s),
    median,
    min: s[0],
    max: s[n - 1],
    top10: { episodes: top.length, min: top[0], max: top[top.length - 1], std: topStd }
  }
}

/** Plain-JSON form of a dataset (typed arrays as number arrays), for `datasets make --out`. */
export function datasetToJson(ds: TraceDataset): Record<string, unknown> {
  return {
    name: ds.name,
    kind: ds.kind,
    obsDim: ds.obsDim,
    actDim: ds.actDim,
    offsets: Array.from(ds.offsets),
    obs: Array.from(ds.obs),
    actions: Array.from(ds.actions),
    mask: Array.from(ds.mask),
    rewards: ds.rewards ? Array.from(ds.rewards) : undefined,
    scores: Array.from(ds.scores),
    ids: ds.ids,
    meta: ds.meta
  }
}

/** Inverse of datasetToJson (validated). */
export function datasetFromJson(j: Record<string, unknown>): TraceDataset {
  const arr = (k: string): number[] => {
    const v = j[k]
    if (!Array.isArray(v)) throw new Error(`dataset JSON: "${k}" is missing or not an array`)
    return v as number[]
  }
  const kind = j.kind as TraceDataset['kind']
  const ds: TraceDataset = {
    name: String(j.name),
    kind,
    obsDim: Number(j.obsDim),
    actDim: Number(j.actDim),
    offsets: Int32Array.from(arr('offsets')),
    obs: Float32Array.from(arr('obs')),
    actions: kind === 'continuous' ? Float32Array.from(arr('actions')) : Int32Array.from(arr('actions')),
    mask: Uint8Array.from(arr('mask')),
    rewards: Array.isArray(j.rewards) ? Float32Array.from(j.rewards as number[]) : undefined,
    scores: Float64Array.from(arr('scores')),
    ids: (j.ids as string[]) ?? [],
    meta: j.meta as Record<string, unknown>[] | undefined
  }
  validateDataset(ds)
  return ds
}

export interface BuiltinControlDataset {
  /** "<task>-<kind>", also the dataset's name */
  id: string
  task: string
  kind: ControlDatasetKind
  title: string
  description: string
}

/** The built-in control datasets (for the app's list of built-ins). */
export function listControlDatasets(): BuiltinControlDataset[] {
  return listTasks().flatMap((t) => [
    {
      id: `${t.name}-expert`,
      task: t.name,
      kind: 'expert' as const,
      title: `${t.title} — expert`,
      description: `${EXPERT_EPISODES.default} episodes of the expert behaviour policy with action noise σ = ${EXPERT_NOISE} (expert reference return ${t.refReturns.expert.toFixed(1)})`
    },
    {
      id: `${t.name}-replay`,
      task: t.name,
      kind: 'replay' as const,
      title: `${t.title} — replay`,
      description: `every rollout of an ${ARS_DEFAULTS[t.name].iterations}-iteration augmented-random-search run from the zero policy (${2 * ARS_DEFAULTS[t.name].directions * ARS_DEFAULTS[t.name].iterations} episodes), poor to good`
    },
    {
      id: `${t.name}-replay-noisy-v1`,
      task: t.name,
      kind: 'replay-noisy-v1' as const,
      title: `${t.title} — replay with action noise`,
      description: `as replay, every action with Gaussian noise σ = ${REPLAY_ACTION_NOISE} (a stochastic behaviour policy, as D4RL's SAC replay data)`
    }
  ])
}
