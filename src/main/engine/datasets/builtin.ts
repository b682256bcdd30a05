// Built-in datasets: generated on demand from a name and options, stored in the project like
// any imported dataset (deduplicated by content hash).
import type { TraceDataset } from '../../common/trace.ts'
import type { Policy } from '../policies/policy.ts'
import { arithmeticEvaluator, arithmeticSplitOfSource } from './arithmetic-suite.ts'
import { BANDIT_DEFAULT_PULLS, evaluateBandit, makeBanditDataset } from './bandit.ts'

export interface BuiltinDataset {
  name: string
  description: string
  make(options: Record<string, number | string | boolean>, onProgress?: (done: number, total: number) => void): Promise<TraceDataset>
  /** the domain's evaluation of a policy (logged with the run's metrics), if it has an environment */
  evaluate?(policy: Policy, options: Record<string, number | string | boolean>, at: { step: number; final: boolean }): Record<string, number> | Promise<Record<string, number>>
  /** added to every new project (cheap to make); the others are made when first used */
  eager?: boolean
}

const registry = new Map<string, BuiltinDataset>()

export function registerBuiltin(d: BuiltinDataset): void {
  registry.set(d.name, d)
}

registerBuiltin({
  name: 'bandit',
  description: 'The toy bandit of paper §3.5: left pays with p = 0.5, right always; π_ref uniform.',
  make: async (o) => {
    const pulls = Number(o.pulls ?? BANDIT_DEFAULT_PULLS)
    if (!Number.isInteger(pulls) || pulls < 10) throw new Error(`dataset_options.pulls must be an integer ≥ 10, got ${o.pulls}`)
    return makeBanditDataset(pulls, Number(o.seed ?? 0))
  },
  evaluate: (policy) => evaluateBandit(policy),
  eager: true
})

// The control suite's datasets (made the way D4RL made its own; see datasets/control.ts):
// "<task>-expert", "<task>-replay" and "<task>-replay-noisy-v1", evaluated in the task's MuJoCo environment as the
// normalised score 100·(R − R_random)/(R_expert − R_random): 10 deterministic episodes during
// training, 100 at the end (paper's protocol). Options: seed, quick, episodes, eval_episodes.
// (the task names of envs/registry.ts, listed here: importing it loads the environments)
for (const task of ['pendulum', 'cartpole', 'cartpole2', 'hopper']) {
  for (const kind of ['expert', 'replay', 'replay-noisy-v1'] as const) {
    const what = {
      expert: 'a good behaviour policy with action noise',
      replay: 'the whole history of an augmented-random-search run, poor to good',
      // σ = REPLAY_ACTION_NOISE (control.ts, not imported here: it loads the environments)
      'replay-noisy-v1': 'the whole history of an augmented-random-search run with action noise σ = 0.2 on every action (a stochastic behaviour policy), poor to good'
    }[kind]
    registerBuiltin({
      name: `${task}-${kind}`,
      description: `${task}: ${what}`,
      make: async (o, onProgress) => {
        const { getControlDataset } = await import('./control-cache.ts')
        return getControlDataset(task, kind, {
          seed: Number(o.seed ?? 0),
          quick: Boolean(o.quick),
          ...(o.episodes !== undefined ? { episodes: Number(o.episodes) } : {}),
          onProgress: onProgress ? (p) => onProgress(p.done, p.total) : undefined
        })
      },
      evaluate: async (policy, o, at) => {
        const { evaluatePolicy } = await import('../eval/control-eval.ts')
        const episodes = at.final ? Number(o.eval_episodes ?? 100) : Math.max(1, Math.round(Number(o.eval_episodes ?? 100) / 10))
        const r = await evaluatePolicy(task, policy, { episodes, seed: 10_000 + at.step })
        return { normalized_score: r.normalizedScore, return: r.meanReturn }
      }
    })
  }
}

export function builtinNames(): string[] {
  return [...registry.keys()]
}

export function listBuiltins(): Array<{ name: string; description: string; eager: boolean }> {
  return [...registry.values()].map((b) => ({ name: b.name, description: b.description, eager: Boolean(b.eager) }))
}

export function getBuiltin(name: string): BuiltinDataset | undefined {
  return registry.get(name)
}

/** The built-in a stored dataset came from ("builtin:NAME" sources), for its evaluation. */
export function builtinOfSource(source: string): BuiltinDataset | undefined {
  return source.startsWith('builtin:') ? registry.get(source.slice('builtin:'.length)) : undefined
}

export type DatasetEvaluator = (policy: Policy, at: { step: number; final: boolean }) => Record<string, number> | Promise<Record<string, number>>

/** How a stored dataset's runs are evaluated, from its source: a built-in's environment (with the
 *  run's dataset options), or the held-out problems of the arithmetic split a generated dataset
 *  came from (arithmetic-suite.ts arithmeticSource); undefined when the data has no evaluation. */
export function evaluatorOfSource(source: string, options: Record<string, number | string | boolean>): DatasetEvaluator | undefined {
  const builtin = builtinOfSource(source)
  if (builtin?.evaluate) return (policy, at) => builtin.evaluate!(policy, options, at)
  const split = arithmeticSplitOfSource(source)
  if (!split) return undefined
  let evaluate: ReturnType<typeof arithmeticEvaluator> | null = null
  return (policy, at) => (evaluate ??= arithmeticEvaluator(split.preset, split.seed))(policy, at.step)
}
