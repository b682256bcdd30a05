// One run against a project store: resolve the dataset, check the inputs (nothing is written
// for a bad config, bad data or an empty curated set), create the run row, train, and write
// metrics, weight snapshots and the final checkpoint as they come. Status ends as completed,
// cancelled or failed; a process killed mid-run is found 'running' with a dead owner and
// marked interrupted on the next open (store.markInterrupted).
import { domainOf, resolveConfig, type RunConfig } from '../../shared/config.ts'
import type { ModelInfo } from '../../shared/models.ts'
import { backendVersions, initBackend } from '../engine/backend/index.ts'
import { datasetHash, type TraceDataset } from '../common/trace.ts'
import { evaluatorOfSource, getBuiltin } from '../engine/datasets/builtin.ts'
import { materializeBuiltin } from './builtin-datasets.ts'
import { curateForRun, runExperiment, scoreReference, type ExperimentOptions } from '../engine/experiment.ts'
import { holdoutIndices } from '../../shared/curation.ts'
import type { Policy } from '../engine/policies/policy.ts'
import { findCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoints.ts'
import type { MetricPoint, ProjectStore } from '../store/types.ts'
import type { RunEndEvent, RunEvent } from './types.ts'
import { modelReferenceLogProbs, resolveModelReference } from './model-reference.ts'
import { builtinDataLabel, storeBcCache } from './bc-reference-cache.ts'
import { loadLlmCheckpoint, loadRunModel, type RunModel } from './llm-policy.ts'
import { checkRunModels } from './run-model-checks.ts'
import pkg from '../../../package.json'

/** What a run records about the software that produced it, beside its config and data hash. */
function runVersions(): Record<string, string> {
  return { app: pkg.version, ...backendVersions(), platform: `${process.platform}-${process.arch}` }
}

export interface ExecuteOptions {
  signal?: AbortSignal
  onEvent?: (e: RunEvent) => void
  /** minimum time between progress events */
  progressIntervalMs?: number
  /** start θ (= π_ref) from this policy instead of config.reference (suites that train their
   *  own reference, e.g. the sequence suite); the caller keeps ownership */
  init?: Policy
  /** the domain's evaluation, when the dataset is not a built-in with one */
  evaluate?: (policy: Policy, step: number) => Record<string, number> | Promise<Record<string, number>>
}

export interface ResolvedDataset {
  id: number
  dataset: TraceDataset
  source: string
  options: Record<string, number | string | boolean>
}

/** A built-in name makes (or finds) the built-in with the run's options; its data seed defaults
 *  to the run seed, so SFT and iw-SFT with the same seed see the same data. Anything else is a
 *  dataset id or name in the project. */
async function resolveDataset(store: ProjectStore, config: RunConfig): Promise<ResolvedDataset> {
  const options = { seed: config.seed, ...(config.dataset_options ?? {}) }
  if (getBuiltin(config.dataset)) {
    const { id, dataset } = await materializeBuiltin(store, config.dataset, options)
    return { id, dataset, source: `builtin:${config.dataset}`, options }
  }
  const found = store.findDataset(config.dataset)
  if (!found) {
    const names = store.listDatasets().map((d) => `${d.id}: ${d.name}`)
    throw new Error(`dataset "${config.dataset}" is not in the project ${store.file}; known: ${names.join('; ') || 'none'} (built-ins: bandit)`)
  }
  return { id: found.id, dataset: store.getDataset(found.id), source: found.source, options }
}

export async function executeRun(store: ProjectStore, config: RunConfig, opts: ExecuteOptions = {}): Promise<RunEndEvent> {
  const backend = await initBackend(config.backend)
  const resolved = await resolveDataset(store, config)
  curateForRun(config, resolved.dataset) // throws before anything about the run is written
  // θ's and π_ref's language models: checked now (nothing is written for a model that is missing
  // or cannot read the data); π_ref is scored (or read from the cache) once the run exists
  const modelReference = checkRunModels(store, config, resolved.id)
  // θ = a language model of the project (with fresh adapters), or π_ref from an earlier run's checkpoint
  let runModel: RunModel | undefined
  let init: Policy | undefined
  if (opts.init) init = opts.init.clone(false)
  else if (config.reference.kind === 'checkpoint') {
    if (config.policy.kind === 'llm') {
      const ck = await loadLlmCheckpoint(store, config.reference.run, config.reference.step)
      runModel = { llm: ck.llm, policy: ck.policy as RunModel['policy'], dispose: () => (ck.policy.dispose(), ck.llm.dispose()) }
      init = ck.policy
    } else init = loadCheckpoint(store, findCheckpoint(store, config.reference.run, config.reference.step)).policy
  } else if (config.policy.kind === 'llm') {
    runModel = await loadRunModel(store, config.policy, config.seed)
    init = runModel.policy
  }
  let runId: number
  try {
    runId = store.createRun({
      name: config.name ?? `${config.method} · ${config.dataset} · seed ${config.seed}`,
      group: config.group ?? null,
      config,
      datasetId: resolved.id,
      dataHash: datasetHash(resolved.dataset),
      backend,
      versions: runVersions()
    })
  } catch (e) {
    init?.dispose()
    runModel?.llm.dispose()
    throw e
  }
  return driveRun(store, runId, config, resolved, backend, opts, { init, modelReference, runModel })
}

/** Continue an interrupted or cancelled run from its last resumable checkpoint; it ends with
 *  the same metrics as an unbroken run of the same seed on the same backend. */
export async function resumeRun(store: ProjectStore, runId: number, opts: ExecuteOptions = {}): Promise<RunEndEvent> {
  const run = store.getRun(runId)
  if (!run) throw new Error(`no run ${runId} in ${store.file}`)
  if (run.status === 'running' || run.status === 'completed') throw new Error(`run ${runId} is ${run.status}; only interrupted, cancelled or failed runs resume`)
  const resumable = store.listCheckpoints(runId).filter((c) => c.step > 0)
  if (resumable.length === 0) throw new Error(`run ${runId} saved no checkpoint before it stopped; set train.checkpoint_every and start it again`)
  const backend = await initBackend(run.config.backend)
  const llmCk = run.config.policy.kind === 'llm' ? await loadLlmCheckpoint(store, runId) : null
  const ckpt = llmCk ?? loadCheckpoint(store, findCheckpoint(store, runId))
  const runModel: RunModel | undefined = llmCk ? { llm: llmCk.llm, policy: llmCk.policy as RunModel['policy'], dispose: () => llmCk.llm.dispose() } : undefined
  if (!ckpt.state) {
    ckpt.policy.dispose()
    runModel?.dispose()
    throw new Error(`run ${runId}'s last checkpoint cannot resume training (no optimizer state)`)
  }
  if (run.backend && backend !== run.backend) {
    throw new Error(`run ${runId} ran on ${run.backend} but this machine gives ${backend}; resume where that backend exists (results must come from one backend)`)
  }
  if (run.datasetId === null) throw new Error(`run ${runId}'s dataset was deleted; it cannot resume`)
  const dataset = store.getDataset(run.datasetId)
  const summary = store.listDatasets().find((d) => d.id === run.datasetId)!
  const resolved: ResolvedDataset = { id: run.datasetId, dataset, source: summary.source, options: { seed: run.config.seed, ...(run.config.dataset_options ?? {}) } }
  return driveRun(store, runId, run.config, resolved, backend, opts, { init: ckpt.policy, resume: { state: ckpt.state, refKey: ckpt.spec.refKey }, runModel })
}

/** Data a run makes from a built-in's name, named by generator and options (bc-reference-cache.ts);
 *  null for data from the project (known by its hash). */
function dataLabel(config: RunConfig, options: Record<string, number | string | boolean>): string | null {
  return getBuiltin(config.dataset) ? builtinDataLabel(config.dataset, options) : null
}

async function driveRun(
  store: ProjectStore,
  runId: number,
  config: RunConfig,
  { dataset, source, options }: ResolvedDataset,
  backend: string,
  opts: ExecuteOptions,
  extra: Pick<ExperimentOptions, 'init' | 'resume'> & { modelReference?: { model: ModelInfo; refKey: string }; runModel?: RunModel }
): Promise<RunEndEvent> {
  const emit = opts.onEvent ?? (() => {})
  store.setRunStatus(runId, 'running')
  emit({ type: 'start', runId, backend, total: config.train.steps })
  const started = Date.now()
  let lastProgress = 0
  const interval = opts.progressIntervalMs ?? 200
  const evaluateData = evaluatorOfSource(source, options)
  const offline = !evaluateData && config.train.holdout > 0 && dataset.kind !== 'sequence' ? holdoutIndices(dataset.offsets.length - 1, config.train.holdout, datasetHash(dataset)) : null
  let refKey: string | null = extra.resume?.refKey ?? null
  let policyRef: Policy | null = null
  const onPhase = (phase: string, done: number, total: number): void => {
    const now = Date.now()
    if (now - lastProgress < interval && done < total) return
    lastProgress = now
    const elapsedMs = now - started
    const etaMs = done > 0 ? (elapsedMs / done) * (total - done) : 0
    emit({ type: 'progress', runId, phase, step: done, total, elapsedMs, etaMs })
  }
  try {
    let reference: ExperimentOptions['reference']
    if (extra.modelReference) {
      const logp = await modelReferenceLogProbs(store, extra.modelReference, dataset, datasetHash(dataset), { signal: opts.signal, onPhase })
      if (!logp) {
        store.setRunStatus(runId, 'cancelled')
        const end: RunEndEvent = { type: 'end', runId, status: 'cancelled', final: {} }
        emit(end)
        return end
      }
      reference = { refKey: extra.modelReference.refKey, refLogProbs: logp }
    }
    const res = await runExperiment(
      config,
      dataset,
      {
        signal: opts.signal,
        evaluate:
          opts.evaluate ??
          (evaluateData
            ? (p, step) => evaluateData(p, { step, final: step === config.train.steps })
            : offline
              ? async (p) => {
                  // data without an environment: held-out log-likelihood and action error
                  const { offlineEval } = await import('../engine/eval/control-eval.ts')
                  const r = offlineEval(p, dataset, offline)
                  return { heldout_loglik: r.meanLogLik, heldout_action_error: r.actionError }
                }
              : undefined),
        onLog: (step, metrics) => {
          const rows: MetricPoint[] = Object.entries(metrics).map(([key, value]) => ({ step, key, value }))
          store.appendMetrics(runId, rows)
          emit({ type: 'metrics', runId, step, metrics })
        },
        onSnapshot: (snap) => store.putWeightSnapshot(runId, snap),
        onReference: (key, policy) => ((refKey = key), (policyRef = policy)),
        onCheckpoint: (state) => saveCheckpoint(store, runId, policyRef!, state, refKey, {}),
        onPhase
      },
      {
        refCache: { get: (k, h) => store.getRefLogProbs(k, h), put: (k, h, a) => store.putRefLogProbs(k, h, a) },
        bcCache: storeBcCache(store, backend, dataLabel(config, options)),
        init: extra.init,
        resume: extra.resume,
        reference
      }
    )
    res.policy.dispose()
    const status = res.status === 'completed' ? 'completed' : 'cancelled'
    store.setRunStatus(runId, status)
    const end: RunEndEvent = { type: 'end', runId, status, final: res.final }
    emit(end)
    return end
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e)
    store.setRunStatus(runId, 'failed', message)
    const end: RunEndEvent = { type: 'end', runId, status: 'failed', error: message, final: {} }
    emit(end)
    return end
  } finally {
    extra.init?.dispose()
    // the language model under θ (freed after θ's own copies: the policies above)
    extra.runModel?.llm.dispose()
  }
}

/** "Score with reference model": build the reference a run on this dataset would use (the
 *  domain's defaults, overridden by `configInput`), score every step, and cache the result in
 *  the project. Progress comes as 'progress' events with phase "reference" or "scoring". */
export async function scoreDatasetReference(
  store: ProjectStore,
  datasetId: number,
  configInput: Record<string, unknown> = {},
  opts: Pick<ExecuteOptions, 'signal' | 'onEvent'> = {}
): Promise<{ status: 'completed' | 'cancelled'; refKey: string | null; steps: number }> {
  const summary = store.listDatasets().find((d) => d.id === datasetId)
  if (!summary) throw new Error(`no dataset ${datasetId} in ${store.file}`)
  const config = resolveConfig({ domain: domainOf(summary), ...configInput, dataset: String(datasetId) })
  const backend = await initBackend(config.backend)
  const dataset = store.getDataset(datasetId)
  if (config.reference.kind === 'model') {
    const r = resolveModelReference(store, config.reference.model, datasetId)
    const started = Date.now()
    const logp = await modelReferenceLogProbs(store, r, dataset, summary.hash, {
      signal: opts.signal,
      onPhase: (phase, done, total) => {
        const elapsedMs = Date.now() - started
        opts.onEvent?.({ type: 'progress', runId: 0, phase, step: done, total, elapsedMs, etaMs: done > 0 ? (elapsedMs / done) * (total - done) : 0 })
      }
    })
    return logp ? { status: 'completed', refKey: r.refKey, steps: logp.length } : { status: 'cancelled', refKey: null, steps: 0 }
  }
  const init = config.reference.kind === 'checkpoint' ? loadCheckpoint(store, findCheckpoint(store, config.reference.run, config.reference.step)).policy : undefined
  const started = Date.now()
  try {
    const r = await scoreReference(
      config,
      dataset,
      {
        signal: opts.signal,
        onPhase: (phase, done, total) => {
          const elapsedMs = Date.now() - started
          opts.onEvent?.({ type: 'progress', runId: 0, phase, step: done, total, elapsedMs, etaMs: done > 0 ? (elapsedMs / done) * (total - done) : 0 })
        }
      },
      { get: (k, h) => store.getRefLogProbs(k, h), put: (k, h, a) => store.putRefLogProbs(k, h, a) },
      init,
      storeBcCache(store, backend, null) // a stored dataset: known by its hash
    )
    return r === 'cancelled' ? { status: 'cancelled', refKey: null, steps: 0 } : { status: 'completed', ...r }
  } finally {
    init?.dispose()
  }
}
