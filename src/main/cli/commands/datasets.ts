// `iwsft datasets make control [--task T] [--kind expert|replay|replay-noisy-v1] [--seed S] [--episodes N]
//                               [--quick] [--out FILE.json] [--cache-dir DIR] [--json]`
//   makes the control suite's built-in offline datasets (expert and replay per task), seeded,
//   with progress on stderr; prints a summary (episodes, steps, returns, seconds), stores them
//   in the made-on-first-use cache (./.iwsft-cache/control, or --cache-dir DIR), and with
//   --out writes the datasets as JSON {format, version, datasets: [...]}.
// `iwsft datasets refs control [--episodes N] [--json]`
//   re-measures each task's random and expert reference returns and prints them beside the
//   registry's values.
// `iwsft datasets import FILE [--json]` and `iwsft datasets list`
//   import a file of any supported format into the project, list the project's datasets: through
//   the services (datasets.import, datasets.list), as the app does.
// `make` and `refs` are engine tools: they make the control suite's datasets into a cache
// folder (or a JSON file) and measure reference returns, outside any project, so there is no
// service for them to go through.
import { writeFileSync } from 'node:fs'
import type { RequestInput } from '../../../shared/contract.ts'
import { CONTROL_DATASET_KINDS, datasetToJson, returnStats, type ControlDatasetKind } from '../../engine/datasets/control.ts'
import { getControlDataset } from '../../engine/datasets/control-cache.ts'
import { EXPERTS } from '../../engine/datasets/control-experts.ts'
import { evalLinear } from '../../engine/datasets/control-behaviour.ts'
import { randomReturn, REF_EPISODES, REF_SEED } from '../../engine/datasets/control-train-experts.ts'
import { CONTROL_TASKS, getTask } from '../../engine/envs/registry.ts'
import { intFlag, parseArgs, strFlag, UsageError } from '../args.ts'
import { ProgressBar } from '../progress.ts'
import { withServices } from '../project.ts'
import type { Args } from '../args.ts'
import { importOptionsFromArgs, mappingFromArgs, printSkipped } from './byo.ts'

export const USAGE = [
  'usage: iwsft datasets make control [--task T] [--kind expert|replay|replay-noisy-v1] [--seed S] [--episodes N] [--quick] [--out FILE.json] [--cache-dir DIR] [--json]',
  '       iwsft datasets refs control [--episodes N] [--json]',
  '       iwsft datasets import FILE [--name N] [--format jsonl|csv|parquet|hdf5|traces.json] [--tokenizer tokenizer.json | --tokenizer-model MODEL [--no-chat]]',
  '                                  [--map prompt=col,completion=col,score=col] [--skip-bad-rows] [--max-trace-steps N] [--max-line-bytes N] [--json]',
  '       iwsft datasets list [--json]',
  `tasks: ${CONTROL_TASKS.join(', ')}`
].join('\n')

export async function cmdDatasets(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json', 'quick', 'no-chat', 'skip-bad-rows'])
  const [sub, suite] = args.positionals
  const json = args.flags.has('json')
  if (sub === 'import') return importCommand(suite, args, json)
  if (sub === 'list') {
    return withServices(args, async (s) => {
      const rows = await s.call('datasets.list', {})
      if (json) process.stdout.write(JSON.stringify(rows) + '\n')
      else
        for (const d of rows)
          process.stdout.write(
            `${String(d.id).padStart(4)}  ${d.kind.padEnd(10)} ${String(d.numTraces).padStart(7)} traces ${String(d.numSteps).padStart(9)} steps  ${d.name}  (${d.source})\n`
          )
      return 0
    })
  }
  if ((sub !== 'make' && sub !== 'refs') || suite !== 'control') throw new UsageError(USAGE)
  const taskFlag = strFlag(args, 'task')
  const tasks = taskFlag ? [getTask(taskFlag).name] : [...CONTROL_TASKS]
  if (sub === 'refs') {
    const episodes = intFlag(args, 'episodes', REF_EPISODES, 1)
    const rows = []
    for (const task of tasks) {
      const spec = getTask(task)
      const random = await randomReturn(task, episodes, REF_SEED)
      const expert = (await evalLinear(EXPERTS[task], episodes, REF_SEED)).mean
      rows.push({ task, episodes, random, expert, registry: spec.refReturns })
      if (!json)
        process.stdout.write(
          `${task.padEnd(9)} random ${random.toFixed(3).padStart(9)}  expert ${expert.toFixed(3).padStart(9)}   (registry ${spec.refReturns.random.toFixed(3)} / ${spec.refReturns.expert.toFixed(3)})\n`
        )
    }
    if (json) process.stdout.write(JSON.stringify(rows) + '\n')
    return 0
  }
  const kindFlag = strFlag(args, 'kind')
  if (kindFlag && !(CONTROL_DATASET_KINDS as readonly string[]).includes(kindFlag)) throw new UsageError(`--kind takes ${CONTROL_DATASET_KINDS.join(', ')}, got "${kindFlag}"`)
  const kinds: ControlDatasetKind[] = kindFlag ? [kindFlag as ControlDatasetKind] : ['expert', 'replay']
  const seed = intFlag(args, 'seed', 0)
  const episodes = args.flags.has('episodes') ? intFlag(args, 'episodes', 0, 1) : undefined
  const quick = args.flags.has('quick')
  const out = strFlag(args, 'out')
  const cacheDir = strFlag(args, 'cache-dir')
  const summaries = []
  const datasets = []
  for (const task of tasks) {
    for (const kind of kinds) {
      const bar = new ProgressBar(`${task}-${kind}`)
      const t0 = performance.now()
      const cpu0 = process.cpuUsage()
      const ds = await getControlDataset(task, kind, { seed, episodes, quick, cacheDir, refresh: true, onProgress: (p) => bar.update(p.phase, p.done, p.total) })
      bar.done()
      const seconds = (performance.now() - t0) / 1000
      const cpu = process.cpuUsage(cpu0)
      const cpuSeconds = (cpu.user + cpu.system) / 1e6
      const s = { task, kind, seed, quick, ...returnStats(ds), seconds, cpuSeconds, refReturns: getTask(task).refReturns }
      summaries.push(s)
      if (out) datasets.push(datasetToJson(ds))
      if (!json) {
        process.stdout.write(
          `${ds.name.padEnd(16)} ${String(s.episodes).padStart(5)} episodes ${String(s.steps).padStart(7)} steps  return mean ${s.mean.toFixed(1).padStart(7)} median ${s.median.toFixed(1).padStart(7)} [${s.min.toFixed(1)}, ${s.max.toFixed(1)}]  top 10% [${s.top10.min.toFixed(1)}, ${s.top10.max.toFixed(1)}] std ${s.top10.std.toFixed(1)}  ${seconds.toFixed(1)} s (cpu ${cpuSeconds.toFixed(1)} s)\n`
        )
      }
    }
  }
  if (out) {
    writeFileSync(out, JSON.stringify({ format: 'iwsft-control-datasets', version: 1, seed, quick, datasets }))
    if (!json) process.stdout.write(`wrote ${datasets.length} datasets to ${out}\n`)
  }
  if (json) process.stdout.write(JSON.stringify(summaries) + '\n')
  return 0
}

/** Import a file of any supported format into the project: parsed and validated whole (in a
 *  worker), then stored in one transaction (nothing is stored if anything is wrong). Per-token
 *  log-probs the rows carry (bring your own) are stored with it, as `iwsft byo import` does. */
async function importCommand(file: string | undefined, args: Args, json: boolean): Promise<number> {
  if (!file) throw new UsageError(USAGE)
  const mapping = mappingFromArgs(args)
  const options = importOptionsFromArgs(args)
  // the contract checks --format (one of the importer's formats)
  const format = strFlag(args, 'format')
  const name = strFlag(args, 'name')
  const tokenizerFile = strFlag(args, 'tokenizer')
  // a project model's tokenizer (and chat template): the dataset can then be scored by that model
  const tokenizerModel = strFlag(args, 'tokenizer-model')
  return withServices(args, async (s) => {
    const bar = new ProgressBar('import')
    const importId = 'cli'
    const t0 = performance.now()
    const off = s.subscribe((event, payload) => {
      if (event !== 'import.progress') return
      const p = payload as { done: number; total: number }
      bar.update('read', p.done, p.total)
    })
    let r
    try {
      r = await s.call('datasets.import', {
        path: file,
        importId,
        ...(name ? { name } : {}),
        ...(format ? { format: format as RequestInput<'datasets.import'>['format'] } : {}),
        ...(mapping ? { mapping } : {}),
        ...(tokenizerFile ? { tokenizerFile } : {}),
        ...(tokenizerModel ? { tokenizerModel, ...(args.flags.has('no-chat') ? { chat: false } : {}) } : {}),
        ...options
      })
    } finally {
      off()
      bar.done()
    }
    const d = r.dataset
    if (!json) printSkipped(r.skipped)
    const out = {
      id: d.id,
      created: r.created,
      name: d.name,
      kind: d.kind,
      traces: d.numTraces,
      steps: d.numSteps,
      hash: d.hash,
      logprobs: r.logProbs,
      skipped: r.skipped,
      seconds: (performance.now() - t0) / 1000
    }
    process.stdout.write(
      json
        ? JSON.stringify(out) + '\n'
        : `${file}: dataset ${out.id}${out.created ? '' : ' (already in the project)'} "${out.name}", ${out.traces} traces, ${out.steps} steps, ${out.kind}, in ${out.seconds.toFixed(2)} s\n`
    )
    return 0
  })
}
