// Reading the project's history through the services: `iwsft runs` (and renaming or deleting
// one), `iwsft metrics RUN`, `iwsft weights RUN`.
import { createInterface } from 'node:readline/promises'
import { parseArgs, strFlag, UsageError, intFlag, type Args } from '../args.ts'
import { runArg, usageOn, withServices } from '../project.ts'
import type { Services } from '../../services/index.ts'

export const RUNS_USAGE = [
  "usage: iwsft runs [--json]                  list the project's runs",
  '       iwsft runs rename RUN NAME [--json]    give a run another name',
  '       iwsft runs delete RUN [--yes] [--json] delete a run and all it saved (asks first on a terminal; --yes without asking)',
  'common: [--project FILE]'
].join('\n')
export const METRICS_USAGE = 'usage: iwsft metrics RUN [--keys loss,ess] [--json] [--project FILE]'
export const WEIGHTS_USAGE = 'usage: iwsft weights RUN [--step N] [--format csv|json] [--project FILE]'

async function renameRun(s: Services, args: Args): Promise<number> {
  const [, ref, ...words] = args.positionals
  const id = await runArg(s, ref, RUNS_USAGE)
  const name = words.join(' ').trim()
  if (!name) throw new UsageError(`runs rename: give the new name after the run id\n${RUNS_USAGE}`)
  await s.call('runs.rename', { runId: id, name })
  if (args.flags.has('json')) process.stdout.write(JSON.stringify({ id, name }) + '\n')
  else process.stderr.write(`run ${id} is now "${name}"\n`)
  return 0
}

async function deleteRun(s: Services, args: Args): Promise<number> {
  const id = await runArg(s, args.positionals[1], RUNS_USAGE)
  const run = await s.call('runs.get', { runId: id })
  if (!args.flags.has('yes')) {
    if (!process.stdin.isTTY) throw new UsageError(`runs delete ${id}: add --yes to delete run ${id} ("${run.name}") and all it saved without asking`)
    const rl = createInterface({ input: process.stdin, output: process.stderr })
    const answer = await rl.question(`Delete run ${id} ("${run.name}", ${run.status}) with its metrics, snapshots and checkpoints? This cannot be undone. [y/N] `)
    rl.close()
    if (!/^y(es)?$/i.test(answer.trim())) {
      process.stderr.write('nothing deleted\n')
      return 1
    }
  }
  await s.call('runs.delete', { runId: id })
  if (args.flags.has('json')) process.stdout.write(JSON.stringify({ id, deleted: true }) + '\n')
  else process.stderr.write(`deleted run ${id} ("${run.name}")\n`)
  return 0
}

export async function cmdRuns(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json', 'yes'])
  const sub = args.positionals[0]
  if (sub !== undefined && sub !== 'rename' && sub !== 'delete') throw new UsageError(`unknown subcommand "${sub}"\n${RUNS_USAGE}`)
  return withServices(args, async (s) => {
    if (sub === 'rename') return renameRun(s, args)
    if (sub === 'delete') return deleteRun(s, args)
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
    const id = await runArg(s, args.positionals[0], METRICS_USAGE)
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
    const id = await runArg(s, args.positionals[0], WEIGHTS_USAGE)
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
