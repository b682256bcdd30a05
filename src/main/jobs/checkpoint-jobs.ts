// What can be done with a run's saved policy once it is reloaded from a checkpoint: per-step ρ of
// one trace, one replayed episode of a control task, and an evaluation. Each opens the project
// read-only and loads tfjs (and MuJoCo), so the services run them in a worker (import-job.ts).
import { holdoutIndices } from '../../shared/curation.ts'
import type { EpisodeReplayData, RunEvaluation, TraceRho } from '../../shared/contract.ts'
import { datasetHash } from '../common/trace.ts'
import { initBackend } from '../engine/backend/index.ts'
import { evaluatorOfSource } from '../engine/datasets/builtin.ts'
import { listTasks } from '../engine/envs/index.ts'
import { openProject } from '../store/index.ts'
import type { ProjectStore } from '../store/types.ts'
import { findCheckpoint, loadCheckpoint, type LoadedCheckpoint } from './checkpoints.ts'
import { loadLlmCheckpoint } from './llm-policy.ts'

/** Open the project read-only, load the run's checkpoint (at `step`, else its last) on the run's
 *  backend, and hand both to `f`; everything is released afterwards. */
async function withCheckpoint<T>(projectFile: string, runId: number, step: number | undefined, f: (store: ProjectStore, ck: LoadedCheckpoint) => Promise<T> | T): Promise<T> {
  const store = openProject(projectFile, { readonly: true })
  try {
    const run = store.getRun(runId)
    if (!run) throw new Error(`run ${runId} is not in ${projectFile}`)
    await initBackend(run.config.backend)
    // a language model's checkpoint holds its adapters (or weights): rebuilt on the model, loaded here
    const ck = run.config.policy.kind === 'llm' ? await loadLlmCheckpoint(store, runId, step) : { ...loadCheckpoint(store, findCheckpoint(store, runId, step)), llm: null }
    try {
      return await f(store, ck)
    } finally {
      ck.policy.dispose()
      ck.llm?.dispose()
    }
  } finally {
    store.close()
  }
}

/** ρ_t = log π_θ(a_t|s_t) − log π_ref(a_t|s_t) along one trace, θ from the run's checkpoint and
 *  log π_ref from the project's reference cache (the key the checkpoint recorded). */
export async function traceRhoOfRun(q: { projectFile: string; runId: number; traceIndex: number; step?: number }): Promise<TraceRho> {
  const { scoreSteps } = await import('../engine/train/scoring.ts')
  return withCheckpoint(q.projectFile, q.runId, q.step, (store, ck) => {
    const run = store.getRun(q.runId)!
    if (run.datasetId === null) throw new Error(`run ${q.runId} has no dataset in ${q.projectFile}`)
    const ds = store.getDataset(run.datasetId)
    if (q.traceIndex >= ds.offsets.length - 1) throw new Error(`trace ${q.traceIndex} is out of range (${ds.offsets.length - 1} traces)`)
    const ref = ck.spec.refKey && run.dataHash ? store.getRefLogProbs(ck.spec.refKey, run.dataHash) : null
    if (!ref) throw new Error(`run ${q.runId} has no cached reference log-probs (${run.method} does not use π_ref)`)
    const lp = scoreSteps(ck.policy, ds, [q.traceIndex])
    const a = ds.offsets[q.traceIndex]
    const b = ds.offsets[q.traceIndex + 1]
    const mask = Array.from(ds.mask.subarray(a, b))
    const logp = Array.from(lp.subarray(a, b))
    const logref = Array.from(ref.subarray(a, b))
    return { runId: q.runId, traceIndex: q.traceIndex, step: ck.step, rho: logp.map((v, i) => (mask[i] ? v - logref[i] : null)), logp, logref, mask }
  })
}

/** One deterministic episode of a control run's policy, with the poses to draw it. The task is
 *  the one the run's dataset belongs to: "pendulum-replay" → "pendulum". */
export async function replayRun(q: { projectFile: string; runId: number; step?: number; seed: number }): Promise<EpisodeReplayData> {
  const { replayEpisode } = await import('../engine/eval/control-eval.ts')
  return withCheckpoint(q.projectFile, q.runId, q.step, async (store, ck) => {
    const run = store.getRun(q.runId)!
    const ds = run.datasetId !== null ? store.listDatasets().find((d) => d.id === run.datasetId) : null
    const names = [ds?.source?.replace(/^builtin:/, ''), ds?.name, String(run.config.dataset)].filter((x): x is string => !!x)
    const tasks = listTasks().map((t) => t.name)
    const task = tasks.find((t) => names.some((n) => n === t || n.startsWith(`${t}-`)))
    if (!task) throw new Error(`run ${q.runId} was trained on ${names[0] ?? 'a dataset'}, which belongs to no simulated task (${tasks.join(', ')}); replay needs one`)
    const r = await replayEpisode(task, ck.policy, { seed: q.seed, deterministic: true })
    const rows = (a: Float32Array, d: number, n: number): number[][] => Array.from({ length: n }, (_, i) => Array.from(a.subarray(i * d, (i + 1) * d)))
    const per = r.geoms.length * 12
    return {
      runId: q.runId,
      step: ck.step,
      task,
      seed: r.seed,
      obsDim: r.obsDim,
      actDim: r.actDim,
      length: r.length,
      ret: r.ret,
      terminated: r.terminated,
      dt: r.dt,
      obs: rows(r.obs, r.obsDim, r.length),
      actions: rows(r.actions, r.actDim, r.length),
      rewards: Array.from(r.rewards),
      geoms: r.geoms,
      poses: rows(r.poses, per, r.length + 1)
    }
  })
}

/** Evaluate a run's checkpoint: in its environment when its dataset is a built-in with one (bandit:
 *  expected reward; control: normalised score over `episodes` deterministic episodes), on the
 *  held-out problems of the arithmetic split its data came from (accuracy, pass@4), otherwise
 *  offline on the run's held-out traces (or on all traces when it held none out): mean
 *  log-likelihood per step and action error. */
export async function evaluateRun(q: { projectFile: string; runId: number; step?: number; episodes?: number }): Promise<RunEvaluation> {
  return withCheckpoint(q.projectFile, q.runId, q.step, async (store, ck) => {
    const run = store.getRun(q.runId)!
    if (run.datasetId === null) throw new Error(`run ${q.runId}'s dataset was deleted; nothing to evaluate on`)
    const summary = store.listDatasets().find((d) => d.id === run.datasetId)!
    const options = { seed: run.config.seed, ...(run.config.dataset_options ?? {}), ...(q.episodes !== undefined ? { eval_episodes: q.episodes } : {}) }
    const evaluate = evaluatorOfSource(summary.source, options)
    if (evaluate) return { runId: q.runId, step: ck.step, metrics: await evaluate(ck.policy, { step: ck.step, final: true }) }
    const ds = store.getDataset(run.datasetId)
    if (ds.kind === 'sequence')
      throw new Error(
        `run ${q.runId} trained on token sequences; only data made by a suite with held-out problems (iwsft reproduce sequence: generated:arithmetic/… sources) has an evaluation`
      )
    const held = holdoutIndices(ds.offsets.length - 1, run.config.train.holdout, datasetHash(ds))
    const idx = held.length ? held : Int32Array.from({ length: ds.offsets.length - 1 }, (_, i) => i)
    const { offlineEval } = await import('../engine/eval/control-eval.ts')
    const r = offlineEval(ck.policy, ds, idx)
    const metrics = { [held.length ? 'heldout_loglik' : 'loglik']: r.meanLogLik, [held.length ? 'heldout_action_error' : 'action_error']: r.actionError, traces: r.traces }
    return { runId: q.runId, step: ck.step, metrics }
  })
}
