// `iwsft datasets make control [--task T] [--kind expert|replay] [--seed S] [--episodes N]
//                               [--quick] [--out FILE.json] [--cache-dir DIR] [--json]`
//   makes the control suite's built-in offline datasets (expert and replay per task), seeded,
//   with progress on stderr; prints a summary (episodes, steps, returns, seconds), stores them
//   in the made-on-first-use cache (./.iwsft-cache/control, or --cache-dir DIR), and with
//   --out writes the datasets as JSON {format, version, datasets: [...]}.
// `iwsft datasets refs control [--episodes N] [--json]`
//   re-measures each task's random and expert reference returns and prints them beside the
//   registry's values.
// `iwsft datasets import FILE.h5 [--json]`
//   reads a D4RL or Minari HDF5 file and prints a summary (errors name the key and index).
import { writeFileSync } from 'node:fs'
import { importHdf5 } from '../../engine/data/import-hdf5.ts'
import { datasetToJson, returnStats, type ControlDatasetKind } from '../../engine/datasets/control.ts'
import { getControlDataset } from '../../engine/datasets/control-cache.ts'
import { EXPERTS } from '../../engine/datasets/control-experts.ts'
import { evalLinear } from '../../engine/datasets/control-behaviour.ts'
import { randomReturn, REF_EPISODES, REF_SEED } from '../../engine/datasets/control-train-experts.ts'
import { CONTROL_TASKS, getTask } from '../../engine/envs/registry.ts'
import { intFlag, parseArgs, strFlag, UsageError } from '../args.ts'
import { ProgressBar } from '../progress.ts'

const USAGE = [
  'usage: iwsft datasets make control [--task T] [--kind expert|replay] [--seed S] [--episodes N] [--quick] [--out FILE.json] [--cache-dir DIR] [--json]',
  '       iwsft datasets refs control [--episodes N] [--json]',
  '       iwsft datasets import FILE.h5 [--json]',
  `tasks: ${CONTROL_TASKS.join(', ')}`
].join('\n')

export async function cmdDatasets(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json', 'quick'])
  const [sub, suite] = args.positionals
  const json = args.flags.has('json')
  if (sub === 'import') {
    const file = suite
    if (!file) throw new UsageError(USAGE)
    const bar = new ProgressBar('import')
    const t0 = performance.now()
    const ds = await importHdf5(file, { onProgress: (p) => bar.update(p.phase, p.done, p.total) })
    bar.done()
    const s = { name: ds.name, obsDim: ds.obsDim, actDim: ds.actDim, ...returnStats(ds), seconds: (performance.now() - t0) / 1000 }
    process.stdout.write(json ? JSON.stringify(s) + '\n' : `${file}: ${s.episodes} episodes, ${s.steps} steps, obs ${s.obsDim}, act ${s.actDim}, return mean ${s.mean.toFixed(2)} [${s.min.toFixed(2)}, ${s.max.toFixed(2)}] in ${s.seconds.toFixed(2)} s\n`)
    return 0
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
      if (!json) process.stdout.write(`${task.padEnd(9)} random ${random.toFixed(3).padStart(9)}  expert ${expert.toFixed(3).padStart(9)}   (registry ${spec.refReturns.random.toFixed(3)} / ${spec.refReturns.expert.toFixed(3)})\n`)
    }
    if (json) process.stdout.write(JSON.stringify(rows) + '\n')
    return 0
  }
  const kindFlag = strFlag(args, 'kind')
  if (kindFlag && kindFlag !== 'expert' && kindFlag !== 'replay') throw new UsageError(`--kind takes expert or replay, got "${kindFlag}"`)
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
          `${ds.name.padEnd(16)} ${String(s.episodes).padStart(5)} episodes ${String(s.steps).padStart(7)} steps  return mean ${s.mean.toFixed(1).padStart(7)} median ${s.median.toFixed(1).padStart(7)} [${s.min.toFixed(1)}, ${s.max.toFixed(1)}]  ${seconds.toFixed(1)} s (cpu ${cpuSeconds.toFixed(1)} s)\n`
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
