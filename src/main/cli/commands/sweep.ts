// `iwsft sweep CONFIG --grid KEY=V1,V2,… [--grid …] [--seeds N] [--metric KEY] [--backend B] [--json]`:
// every combination of the grid's values × seeds 0 … N−1, run one after another as one stored
// group (services: sweeps.start), with a progress bar a run; then the final metric per grid
// point, mean ± std over seeds, with the weights' ESS/N at the last snapshot (sweeps.results).
// Ctrl+C cancels the sweep (the current run stops at its next step; the finished ones stay).
import { parseGridValues } from '../../../shared/sweep-grid.ts'
import type { EventPayloads, SweepParams, SweepResults } from '../../../shared/contract.ts'
import { parseArgs, strFlag, UsageError, intFlag } from '../args.ts'
import { ProgressBar } from '../progress.ts'
import { withServices } from '../project.ts'
import { fmtNum, readConfigFile } from './run.ts'

export const USAGE = 'usage: iwsft sweep CONFIG.yaml --grid weights.temp=1,3,10 [--grid weights.q.beta=0.9,0.99] [--seeds 3] [--metric KEY] [--backend B] [--json]'

/** Every `--grid KEY=V1,V2` (the flag may repeat; parseArgs keeps one value a flag), and the rest of argv. */
export function parseGrid(argv: string[]): { grid: Array<{ key: string; values: Array<number | string | boolean> }>; rest: string[] } {
  const grid: Array<{ key: string; values: Array<number | string | boolean> }> = []
  const rest: string[] = []
  for (let i = 0; i < argv.length; i++) {
    let spec: string | undefined
    if (argv[i] === '--grid') spec = argv[++i]
    else if (argv[i].startsWith('--grid=')) spec = argv[i].slice('--grid='.length)
    else {
      rest.push(argv[i])
      continue
    }
    const eq = spec?.indexOf('=') ?? -1
    if (!spec || eq <= 0 || eq === spec.length - 1) throw new UsageError(`--grid takes KEY=V1,V2,… (e.g. --grid weights.temp=1,3,10), got "${spec ?? ''}"`)
    const key = spec.slice(0, eq)
    if (grid.some((g) => g.key === key)) throw new UsageError(`--grid ${key} is given twice; list all its values in one --grid`)
    grid.push({
      key,
      values: parseGridValues(spec.slice(eq + 1))
    })
  }
  return { grid, rest }
}

const paramText = (p: SweepParams): string =>
  Object.entries(p)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')

export async function cmdSweep(argv: string[]): Promise<number> {
  const { grid, rest } = parseGrid(argv)
  const args = parseArgs(rest, ['json'])
  const file = args.positionals[0]
  if (!file || grid.length === 0) throw new UsageError(USAGE)
  const json = args.flags.has('json')
  const seeds = intFlag(args, 'seeds', 3, 1)
  const metric = strFlag(args, 'metric')
  const config = readConfigFile(file)
  if (args.flags.has('backend')) config.backend = strFlag(args, 'backend')
  return withServices(args, async (s) => {
    const started = await s.call('sweeps.start', { config, grid, seeds, source: file })
    const { group, runs } = started
    process.stderr.write(`sweep "${group}": ${runs.length / seeds} grid points × ${seeds} seeds = ${runs.length} runs, one after another\n`)
    let n = 0
    let bar: ProgressBar | null = null
    let signalled: NodeJS.Signals | null = null
    const stop = s.subscribe((event, payload) => {
      if (event === 'run.start') {
        const r = runs[n++]
        bar = new ProgressBar(`[${n}/${runs.length}] ${r ? `${paramText(r.params)} seed ${r.seed}` : `run ${(payload as EventPayloads['run.start']).runId}`}`)
      } else if (event === 'run.progress') {
        const p = payload as EventPayloads['run.progress']
        bar?.update(p.phase, p.step, p.total)
      } else if (event === 'run.end') bar?.done()
    })
    const onSignal = (sig: NodeJS.Signals): void => {
      if (signalled) process.exit(sig === 'SIGINT' ? 130 : 143)
      signalled = sig
      process.stderr.write(`\n${sig}: cancelling the sweep (the current run stops at its next step; finished runs stay in group "${group}")\n`)
      void s.call('sweeps.cancel', { group }).catch(() => {})
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    let status
    try {
      for (;;) {
        status = await s.call('sweeps.status', { group })
        if (status.status !== 'running') break
        await new Promise((r) => setTimeout(r, 250))
      }
    } finally {
      stop()
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
    if (status.error) process.stderr.write(`sweep ${status.status}: ${status.error}\n`)
    const res = status.done > 0 ? await s.call('sweeps.results', { group, ...(metric ? { metric } : {}) }) : { group, metric: metric ?? '', results: [] }
    printResults(res, json)
    if (signalled) return signalled === 'SIGINT' ? 130 : 143
    return status.status === 'completed' ? 0 : 1
  })
}

function printResults(res: SweepResults, json: boolean): void {
  const warnings = res.results.flatMap((r) => r.warnings.map((w) => `${paramText(r.params)}: ${w}`))
  if (json) {
    const results = res.results.map((r) => ({
      params: r.params,
      metric: r.metric,
      mean: r.mean,
      std: r.std,
      seeds: r.seeds,
      ess_n_final: r.ess_n_final,
      values: r.values,
      run_ids: r.run_ids,
      warnings: r.warnings
    }))
    process.stdout.write(JSON.stringify({ group: res.group, results, warnings }) + '\n')
    return
  }
  const keys = [...new Set(res.results.flatMap((r) => Object.keys(r.params)))]
  const w = keys.map((k) => Math.max(k.length, ...res.results.map((r) => String(r.params[k]).length)) + 2)
  process.stdout.write(`\n${keys.map((k, i) => k.padEnd(w[i])).join('')}${`${res.metric} (mean ± std)`.padEnd(30)}${'seeds'.padEnd(7)}ESS/N\n`)
  for (const r of res.results) {
    const m = r.mean === null ? '—' : `${fmtNum(r.mean)} ± ${fmtNum(r.std ?? 0)}`
    process.stdout.write(
      `${keys.map((k, i) => String(r.params[k]).padEnd(w[i])).join('')}${m.padEnd(30)}${String(r.seeds).padEnd(7)}${r.ess_n_final === null ? '—' : r.ess_n_final.toFixed(3)}\n`
    )
  }
  for (const x of warnings) process.stdout.write(`warning: ${x}\n`)
  process.stdout.write(`\nruns stored in group "${res.group}"\n`)
}
