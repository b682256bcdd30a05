// Reading the project's history: `iwsft runs`, `iwsft metrics RUN`, `iwsft weights RUN`.
import { curate } from '../../../shared/curation.ts'
import type { ProjectStore } from '../../store/types.ts'
import { parseArgs, strFlag, UsageError, intFlag } from '../args.ts'
import { openProjectFor } from '../project.ts'
import { fmtNum } from './run.ts'

function runArg(store: ProjectStore, v: string | undefined, usage: string): number {
  const id = Number(v)
  if (!v || !Number.isInteger(id)) throw new UsageError(usage)
  if (!store.getRun(id)) throw new UsageError(`no run ${id} in ${store.file}; \`iwsft runs\` lists them`)
  return id
}

export async function cmdRuns(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json'])
  const store = await openProjectFor(args)
  try {
    const runs = store.listRuns()
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
  } finally {
    store.close()
  }
}

export async function cmdMetrics(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json'])
  const store = await openProjectFor(args)
  try {
    const id = runArg(store, args.positionals[0], 'usage: iwsft metrics RUN [--keys loss,ess] [--json]')
    const keys = strFlag(args, 'keys')?.split(',')
    const points = store.getMetrics(id, keys)
    if (args.flags.has('json')) {
      process.stdout.write(JSON.stringify(points) + '\n')
      return 0
    }
    const cols = keys ?? store.metricKeys(id)
    const bySteps = new Map<number, Map<string, number>>()
    for (const p of points) {
      if (!bySteps.has(p.step)) bySteps.set(p.step, new Map())
      bySteps.get(p.step)!.set(p.key, p.value)
    }
    process.stdout.write(['step', ...cols].join(',') + '\n')
    for (const [step, m] of [...bySteps].sort((a, b) => a[0] - b[0])) {
      process.stdout.write([step, ...cols.map((c) => (m.has(c) ? String(m.get(c)) : ''))].join(',') + '\n')
    }
    return 0
  } finally {
    store.close()
  }
}

/** Per-trace raw log weight, clamped weight, score and quality bin at a saved step. */
export async function cmdWeights(argv: string[]): Promise<number> {
  const args = parseArgs(argv)
  const store = await openProjectFor(args)
  try {
    const id = runArg(store, args.positionals[0], 'usage: iwsft weights RUN [--step N] [--format csv|json]')
    const steps = store.listSnapshotSteps(id)
    if (steps.length === 0) throw new UsageError(`run ${id} has no weight snapshots (BC runs and runs stopped before their first snapshot have none)`)
    const step = intFlag(args, 'step', steps[steps.length - 1])
    const snap = store.getWeightSnapshot(id, step)
    if (!snap) throw new UsageError(`run ${id} has no snapshot at step ${step}; saved steps: ${steps.join(', ')}`)
    const format = strFlag(args, 'format') ?? 'csv'
    if (format !== 'csv' && format !== 'json') throw new UsageError(`--format must be csv or json, got "${format}"`)
    const run = store.getRun(id)!
    const ds = store.getDataset(run.datasetId!)
    const bins = curate(ds.scores, run.config.curation).multiplicity
    const rows = Array.from(snap.traceIndex, (t, i) => ({
      trace: t,
      id: ds.ids[t],
      log_w_raw: snap.logWRaw[i],
      w: snap.w[i],
      score: ds.scores[t],
      bin: bins[t]
    }))
    if (format === 'json') process.stdout.write(JSON.stringify({ run: id, step, weights: rows }) + '\n')
    else {
      process.stdout.write('trace,id,log_w_raw,w,score,bin\n')
      for (const r of rows) process.stdout.write(`${r.trace},${csvCell(r.id)},${r.log_w_raw},${r.w},${r.score},${r.bin}\n`)
    }
    return 0
  } finally {
    store.close()
  }
}

const csvCell = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s)
export { fmtNum }
