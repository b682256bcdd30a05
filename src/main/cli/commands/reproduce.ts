// `iwsft reproduce SUITE --seeds N [--json]`: the paper's experiments as built-in suites. Each
// run is stored in the project (one group per invocation), so the app can inspect them.
import { defaultConfig, METHOD_LABELS, type Method, type RunConfig } from '../../../shared/config.ts'
import { executeRun } from '../../jobs/execute-run.ts'
import { parseArgs, UsageError, intFlag, strFlag } from '../args.ts'
import { ProgressBar } from '../progress.ts'
import { openProjectFor } from '../project.ts'
import { fmtNum } from './run.ts'

export interface SuiteResult {
  method: string
  task?: string
  metric: string
  mean: number
  std: number
  seeds: number
  /** per-seed values, in seed order */
  values: number[]
}

export interface Suite {
  description: string
  /** paper's reference for the table footer */
  expectation: string
  plan(seeds: number, quick: boolean): Array<{ config: RunConfig; method: Method; task?: string; metric: string }>
}

const suites = new Map<string, Suite>()
export function registerSuite(name: string, s: Suite): void {
  suites.set(name, s)
}

registerSuite('bandit', {
  description: 'toy bandit (paper §3.5): SFT vs iw-SFT with q = π_θ, same data per seed',
  expectation: 'expected: SFT → 5/6 ≈ 0.833 (π(right) = 2/3); iw-SFT → 1',
  plan: (seeds) =>
    (['sft', 'iw-sft'] as Method[]).flatMap((method) =>
      Array.from({ length: seeds }, (_, seed) => ({
        config: { ...defaultConfig('bandit'), method, seed, name: `bandit ${method} seed ${seed}` },
        method,
        metric: 'expected_reward'
      }))
    )
})

/** mean and sample standard deviation (n − 1); std 0 for one seed */
export function meanStd(v: number[]): { mean: number; std: number } {
  const mean = v.reduce((a, b) => a + b, 0) / v.length
  const std = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : 0
  return { mean, std }
}

export async function cmdReproduce(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json', 'quick'])
  const name = args.positionals[0]
  const suite = name ? suites.get(name) : undefined
  if (!suite) throw new UsageError(`usage: iwsft reproduce SUITE --seeds N [--quick] [--json]; suites: ${[...suites.keys()].join(', ')}`)
  const seeds = intFlag(args, 'seeds', 3, 1)
  const backend = strFlag(args, 'backend')
  const group = `reproduce ${name} ${new Date().toISOString().slice(0, 19)}`
  const plan = suite.plan(seeds, args.flags.has('quick'))
  const store = await openProjectFor(args)
  const values = new Map<string, { method: Method; task?: string; metric: string; values: number[] }>()
  try {
    for (const [i, p] of plan.entries()) {
      const config = { ...p.config, group, ...(backend ? { backend: backend as RunConfig['backend'] } : {}) }
      const bar = new ProgressBar(`[${i + 1}/${plan.length}] ${METHOD_LABELS[p.method]} seed ${config.seed}`)
      const end = await executeRun(store, config, { onEvent: (e) => e.type === 'progress' && bar.update(e.phase, e.step, e.total) })
      bar.done()
      if (end.status !== 'completed') throw new Error(`run ${end.runId} (${config.name}) ${end.status}: ${end.error ?? ''}`)
      const v = end.final[p.metric]
      if (v === undefined) throw new Error(`run ${end.runId} logged no "${p.metric}"`)
      const key = `${p.task ?? ''}|${p.method}`
      if (!values.has(key)) values.set(key, { method: p.method, task: p.task, metric: p.metric, values: [] })
      values.get(key)!.values.push(v)
    }
  } finally {
    store.close()
  }
  const results: SuiteResult[] = [...values.values()].map((r) => ({
    method: r.method,
    ...(r.task ? { task: r.task } : {}),
    metric: r.metric,
    ...meanStd(r.values),
    seeds: r.values.length,
    values: r.values
  }))
  if (args.flags.has('json')) process.stdout.write(JSON.stringify({ suite: name, group, results }) + '\n')
  else {
    process.stdout.write(`\n${suite.description}\n\n`)
    process.stdout.write(`${'method'.padEnd(20)}${results.some((r) => r.task) ? 'task'.padEnd(22) : ''}${'metric'.padEnd(18)}${'mean ± std'.padEnd(22)}seeds\n`)
    for (const r of results) {
      process.stdout.write(
        `${METHOD_LABELS[r.method as Method].padEnd(20)}${r.task ? r.task.padEnd(22) : ''}${r.metric.padEnd(18)}${`${fmtNum(r.mean)} ± ${fmtNum(r.std)}`.padEnd(22)}${r.seeds}\n`
      )
    }
    process.stdout.write(`\n${suite.expectation}\nruns stored in group "${group}"\n`)
  }
  return 0
}
