// `iwsft reproduce SUITE --seeds N [--quick] [--faithful] [--task T] [--json]`: run one of the paper's experiments
// (src/main/suites) and print the results as JSON or as a table like the paper's.
// An engine tool: a suite trains its own references and chains runs (one's checkpoint is the
// next one's π_ref) in this process on the project store, with a progress bar per run; the
// services start single runs, so it does not go through them.
import { BACKENDS, METHOD_LABELS, type BackendChoice, type Method } from '../../../shared/config.ts'
import { CONTROL_SUITE_KNOWN_TASKS } from '../../suites/control.ts'
import { getSuite, suiteNames, type SuiteResult } from '../../suites/index.ts'
import { parseArgs, UsageError, intFlag, strFlag } from '../args.ts'
import { ProgressBar } from '../progress.ts'
import { openProjectFor } from '../project.ts'
import { fmtNum } from './run.ts'

export const USAGE = 'usage: iwsft reproduce SUITE [--seeds N] [--quick | --faithful] [--task T[,T…] (control)] [--model MODEL (llm)] [--backend B] [--project FILE] [--json]'

export async function cmdReproduce(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json', 'quick', 'faithful'])
  const name = args.positionals[0]
  const suite = name ? getSuite(name) : undefined
  if (!suite) throw new UsageError(`${USAGE}; suites: ${suiteNames().join(', ')}`)
  const faithful = args.flags.has('faithful')
  if (faithful && name !== 'control') throw new UsageError("--faithful applies to reproduce control (the paper's batch, BC reference and step counts)")
  if (faithful && args.flags.has('quick')) throw new UsageError('--faithful and --quick contradict each other: choose one')
  const model = strFlag(args, 'model')
  if (model && name !== 'llm') throw new UsageError('--model applies to reproduce llm (the project model to sample from and fine-tune)')
  const taskFlag = strFlag(args, 'task')
  if (taskFlag && name !== 'control') throw new UsageError('--task applies to reproduce control (e.g. --task cartpole2 or --task pendulum,cartpole)')
  const tasks = taskFlag?.split(',').map((t) => t.trim())
  if (tasks) for (const t of tasks) if (!CONTROL_SUITE_KNOWN_TASKS.includes(t)) throw new UsageError(`--task: unknown control task "${t}"; tasks: ${CONTROL_SUITE_KNOWN_TASKS.join(', ')}`)
  const seeds = intFlag(args, 'seeds', 3, 1)
  const backend = strFlag(args, 'backend')
  if (backend && !(BACKENDS as readonly string[]).includes(backend)) throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}`)
  const group = `reproduce ${name}${args.flags.has('quick') ? ' (quick)' : ''}${faithful ? ' (faithful)' : ''} ${new Date().toISOString().slice(0, 19)}`
  const store = await openProjectFor(args)
  let n = 0
  let results
  try {
    results = await suite.run({
      store,
      seeds,
      quick: args.flags.has('quick'),
      faithful,
      ...(model ? { model } : {}),
      ...(tasks ? { tasks } : {}),
      backend: backend as BackendChoice | undefined,
      group,
      progress: (label) => new ProgressBar(`[${++n}] ${label}`)
    })
  } finally {
    store.close()
  }
  const warnings = results.flatMap((r) => (r.warnings ?? []).map((w) => `${r.task ? `${r.task} ` : ''}${METHOD_LABELS[r.method as Method] ?? r.method} ${w}`))
  if (args.flags.has('json')) {
    const primary = results.filter((r) => r.metric === suite.metric)
    const secondary = results.filter((r) => r.metric !== suite.metric)
    process.stdout.write(JSON.stringify({ suite: name, group, results: primary, secondary, warnings }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)) + '\n')
    for (const w of warnings) process.stderr.write(`warning: ${w}\n`)
    return 0
  }
  const hasTask = results.some((r) => r.task)
  const hasPreset = results.some((r) => r.preset)
  process.stdout.write(`\n${suite.description}\n\n`)
  process.stdout.write(
    `${'method'.padEnd(20)}${hasTask ? 'task'.padEnd(22) : ''}${'metric'.padEnd(18)}${'mean ± std'.padEnd(24)}${'seeds'.padEnd(7)}${hasPreset ? 'preset (Table 4 row)' : ''}\n`
  )
  for (const r of results) {
    const label = METHOD_LABELS[r.method as Method] ?? r.method.toUpperCase()
    process.stdout.write(
      `${label.padEnd(20)}${hasTask ? (r.task ?? '').padEnd(22) : ''}${r.metric.padEnd(18)}${`${fmtNum(r.mean)} ± ${fmtNum(r.std)}`.padEnd(24)}${String(r.seeds).padEnd(7)}${hasPreset ? (r.preset ?? '—') : ''}\n`.trimEnd() +
        '\n'
    )
  }
  printDiagnostics(results)
  for (const w of warnings) process.stdout.write(`warning: ${w}\n`)
  process.stdout.write(`\n${suite.expectation}\nruns stored in group "${group}"\n`)
  return 0
}

/** The weight diagnostics of each weighted row (means over seeds; suites/diagnostics.ts). */
export function printDiagnostics(results: SuiteResult[]): void {
  const rows = results.filter((r) => r.diagnostics && Object.keys(r.diagnostics).length)
  if (rows.length === 0) return
  const f = (v: number | undefined, digits = 3): string => (v === undefined ? '—' : v.toFixed(digits))
  process.stdout.write(
    `\nweights at the last snapshot (mean over seeds): ESS/N of the curated set, share of weight in the top 1 / top 5 traces, traces at the clamp and their share, Spearman of w with score / quality bin, mean ρ per step, π_ref's action σ\n`
  )
  process.stdout.write(
    `${'method'.padEnd(20)}${'task'.padEnd(12)}${'ESS/N'.padEnd(8)}${'top1'.padEnd(7)}${'top5'.padEnd(7)}${'clamp'.padEnd(7)}${'share'.padEnd(7)}${'ρs(w,S)'.padEnd(9)}${'ρs(w,bin)'.padEnd(10)}${'mean ρ'.padEnd(10)}σ_ref\n`
  )
  for (const r of rows) {
    const d = r.diagnostics!
    const label = METHOD_LABELS[r.method as Method] ?? r.method.toUpperCase()
    process.stdout.write(
      `${label.padEnd(20)}${(r.task ?? '').padEnd(12)}${f(d.ess_n_final).padEnd(8)}${f(d.top1_share, 2).padEnd(7)}${f(d.top5_share, 2).padEnd(7)}${f(d.clamp_fraction, 2).padEnd(7)}${f(d.clamp_share, 2).padEnd(7)}${f(d.spearman_w_score, 2).padEnd(9)}${f(d.spearman_w_bin, 2).padEnd(10)}${f(d.mean_rho_per_step, 4).padEnd(10)}${d.ref_action_std ? d.ref_action_std.map((v) => v.toFixed(3)).join(' ') : '—'}\n`
    )
  }
}
