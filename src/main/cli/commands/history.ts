// Reading the project's history through the services: `iwsft runs`, `iwsft metrics RUN`,
// `iwsft weights RUN`.
import { parseArgs, strFlag, UsageError, intFlag } from '../args.ts'
import { runArg, usageOn, withServices } from '../project.ts'

export async function cmdRuns(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json'])
  return withServices(args, async (s) => {
    const runs = await s.call('runs.list', {})
    if (args.flags.has('json')) {
      const rows = runs.map((r) => ({ id: r.id, name: r.name, method: r.method, status: r.status, seed: r.seed, backend: r.backend, group: r.group, last_step: r.lastStep }))
      process.stdout.write(JSON.stringify(rows) + '\n')
    } else {
      process.stdout.write(`${'id'.padStart(4)}  ${'status'.padEnd(11)} ${'method'.padEnd(13)} ${'seed'.padStart(4)}  ${'backend'.padEnd(10)} name\n`)
      for (const r of runs) {
        process.stdout.write(`${String(r.id).padStart(4)}  ${r.status.padEnd(11)} ${r.method.padEnd(13)} ${String(r.seed).padStart(4)}  ${(r.backend ?? '-').padEnd(10)} ${r.name}\n`)
      }
    }
    return 0
  })
}

/** Logged metrics: one CSV row per logged step, one column per metric (or --json: the points). */
export async function cmdMetrics(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json'])
  return withServices(args, async (s) => {
    const id = await runArg(s, args.positionals[0], 'usage: iwsft metrics RUN [--keys loss,ess] [--json]')
    const keys = strFlag(args, 'keys')
      ?.split(',')
      .filter((k) => k !== '')
    const [{ series }] = await s.call('runs.metrics', { runIds: [id], ...(keys ? { keys } : {}) })
    if (args.flags.has('json')) {
      const points = Object.entries(series).flatMap(([key, m]) => m.steps.map((step, i) => ({ step, key, value: m.values[i] })))
      process.stdout.write(JSON.stringify(points) + '\n')
      return 0
    }
    const cols = keys ?? Object.keys(series)
    const bySteps = new Map<number, Map<string, number>>()
    for (const [key, m] of Object.entries(series)) {
      m.steps.forEach((step, i) => {
        if (!bySteps.has(step)) bySteps.set(step, new Map())
        bySteps.get(step)!.set(key, m.values[i])
      })
    }
    process.stdout.write(['step', ...cols].join(',') + '\n')
    for (const [step, m] of [...bySteps].sort((a, b) => a[0] - b[0])) {
      process.stdout.write([step, ...cols.map((c) => (m.has(c) ? String(m.get(c)) : ''))].join(',') + '\n')
    }
    return 0
  })
}

/** Per-trace raw log weight, clamped weight, score and quality bin at a saved step. */
export async function cmdWeights(argv: string[]): Promise<number> {
  const args = parseArgs(argv)
  return withServices(args, async (s) => {
    const id = await runArg(s, args.positionals[0], 'usage: iwsft weights RUN [--step N] [--format csv|json]')
    const step = args.flags.has('step') ? intFlag(args, 'step', 0) : undefined
    const format = strFlag(args, 'format') ?? 'csv'
    if (format !== 'csv' && format !== 'json') throw new UsageError(`--format must be csv or json, got "${format}"`)
    // a run without that snapshot is a usage error: the step (or the run) asked for is not there
    const r = await usageOn(['not_found'], s.call('runs.weights', { runId: id, ...(step !== undefined ? { step } : {}) }))
    const rows = r.traces.map((t) => ({ trace: t.trace, id: t.id, log_w_raw: t.logWRaw, w: t.w, score: t.score, bin: t.bin }))
    if (format === 'json') process.stdout.write(JSON.stringify({ run: id, step: r.step, weights: rows }) + '\n')
    else {
      process.stdout.write('trace,id,log_w_raw,w,score,bin\n')
      for (const t of rows) process.stdout.write(`${t.trace},${csvCell(t.id)},${t.log_w_raw},${t.w},${t.score},${t.bin}\n`)
    }
    return 0
  })
}

const csvCell = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s)
