// `iwsft eval RUN [--step N] [--episodes N] [--json]`: reload a run's checkpoint and evaluate it
// (services: runs.eval) — in its environment when the dataset has one (bandit: expected reward;
// control: normalised score over N deterministic episodes), otherwise offline on the run's
// held-out traces (or on all traces when it held none out): mean log-likelihood per step and
// action error.
import { intFlag, parseArgs, UsageError } from '../args.ts'
import { runArg, usageOn, withServices } from '../project.ts'
import { fmtNum } from './run.ts'

export const USAGE = 'usage: iwsft eval RUN [--step N] [--episodes N] [--json]'

export async function cmdEval(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json'])
  if (!Number.isInteger(Number(args.positionals[0]))) throw new UsageError(USAGE)
  return withServices(args, async (s) => {
    const id = await runArg(s, args.positionals[0], USAGE)
    const step = args.flags.has('step') ? intFlag(args, 'step', 0) : undefined
    const episodes = args.flags.has('episodes') ? intFlag(args, 'episodes', 100, 1) : undefined
    // a run that cannot be evaluated here (its dataset deleted, token sequences) is a usage error
    const r = await usageOn(['invalid_input'], s.call('runs.eval', { runId: id, ...(step !== undefined ? { step } : {}), ...(episodes !== undefined ? { episodes } : {}) }))
    if (args.flags.has('json')) process.stdout.write(JSON.stringify({ run: id, step: r.step, metrics: r.metrics }) + '\n')
    else {
      process.stdout.write(`run ${id}, checkpoint at step ${r.step}:\n`)
      for (const [k, v] of Object.entries(r.metrics)) process.stdout.write(`  ${k.padEnd(22)} ${fmtNum(v)}\n`)
    }
    return 0
  })
}
