// `iwsft eval RUN [--step N] [--episodes N] [--json]`: reload a run's checkpoint and evaluate it —
// in its environment when the dataset has one (bandit: expected reward; control: normalised
// score over N deterministic episodes), otherwise offline on the run's held-out traces (or on
// all traces when it held none out): mean log-likelihood per step and action error.
import { holdoutIndices } from '../../../shared/curation.ts'
import { initBackend } from '../../engine/backend/index.ts'
import { datasetHash } from '../../common/trace.ts'
import { builtinOfSource } from '../../engine/datasets/builtin.ts'
import { findCheckpoint, loadCheckpoint } from '../../jobs/checkpoints.ts'
import { intFlag, parseArgs, UsageError } from '../args.ts'
import { openProjectFor } from '../project.ts'
import { fmtNum } from './run.ts'

export async function cmdEval(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json'])
  const id = Number(args.positionals[0])
  if (!Number.isInteger(id)) throw new UsageError('usage: iwsft eval RUN [--step N] [--episodes N] [--json]')
  const store = await openProjectFor(args)
  try {
    const run = store.getRun(id)
    if (!run) throw new UsageError(`no run ${id} in ${store.file}; \`iwsft runs\` lists them`)
    if (run.datasetId === null) throw new UsageError(`run ${id}'s dataset was deleted; nothing to evaluate on`)
    await initBackend(run.config.backend)
    const step = args.flags.has('step') ? intFlag(args, 'step', 0) : undefined
    const ckpt = loadCheckpoint(store, findCheckpoint(store, id, step))
    const summary = store.listDatasets().find((d) => d.id === run.datasetId)!
    const builtin = builtinOfSource(summary.source)
    let metrics: Record<string, number>
    try {
      if (builtin?.evaluate) {
        const options = { seed: run.config.seed, ...(run.config.dataset_options ?? {}), ...(args.flags.has('episodes') ? { eval_episodes: intFlag(args, 'episodes', 100, 1) } : {}) }
        metrics = await builtin.evaluate(ckpt.policy, options, { step: ckpt.step, final: true })
      } else {
        const ds = store.getDataset(run.datasetId)
        if (ds.kind === 'sequence') throw new UsageError(`run ${id} trained on token sequences; evaluate it with the suite that made it (iwsft reproduce sequence) or in the app`)
        const held = holdoutIndices(ds.offsets.length - 1, run.config.train.holdout, datasetHash(ds))
        const idx = held.length ? held : Int32Array.from({ length: ds.offsets.length - 1 }, (_, i) => i)
        const { offlineEval } = await import('../../engine/eval/control-eval.ts')
        const r = offlineEval(ckpt.policy, ds, idx)
        metrics = { [held.length ? 'heldout_loglik' : 'loglik']: r.meanLogLik, [held.length ? 'heldout_action_error' : 'action_error']: r.actionError, traces: r.traces }
      }
    } finally {
      ckpt.policy.dispose()
    }
    if (args.flags.has('json')) process.stdout.write(JSON.stringify({ run: id, step: ckpt.step, metrics }) + '\n')
    else {
      process.stdout.write(`run ${id}, checkpoint at step ${ckpt.step}:\n`)
      for (const [k, v] of Object.entries(metrics)) process.stdout.write(`  ${k.padEnd(22)} ${fmtNum(v)}\n`)
    }
    return 0
  } finally {
    store.close()
  }
}
