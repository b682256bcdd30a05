// One run against a project store: resolve the dataset, check the inputs (nothing is written
// for a bad config, bad data or an empty curated set), create the run row, train, and write
// metrics, weight snapshots and the final checkpoint as they come. Status ends as completed,
// cancelled or failed; a process killed mid-run is found 'running' with a dead owner and
// marked interrupted on the next open (store.markInterrupted).
import type { RunConfig } from '../../shared/config.ts'
import { backendVersions, initBackend } from '../engine/backend/index.ts'
import { datasetHash, type TraceDataset } from '../engine/data/trace.ts'
import { builtinOfSource, getBuiltin, materializeBuiltin } from '../engine/datasets/builtin.ts'
import { curateForRun, runExperiment } from '../engine/experiment.ts'
import { readWeights } from '../engine/policies/policy.ts'
import type { MetricPoint, ProjectStore } from '../store/types.ts'
import type { RunEndEvent, RunEvent } from './types.ts'

export interface ExecuteOptions {
  signal?: AbortSignal
  onEvent?: (e: RunEvent) => void
  /** minimum time between progress events */
  progressIntervalMs?: number
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
export async function resolveDataset(store: ProjectStore, config: RunConfig): Promise<ResolvedDataset> {
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
  const emit = opts.onEvent ?? (() => {})
  const backend = await initBackend(config.backend)
  const { id: datasetId, dataset, source, options } = await resolveDataset(store, config)
  curateForRun(config, dataset) // throws before anything about the run is written
  const dataHash = datasetHash(dataset)
  const runId = store.createRun({
    name: config.name ?? `${config.method} · ${config.dataset} · seed ${config.seed}`,
    group: config.group ?? null,
    config,
    datasetId,
    dataHash,
    backend,
    versions: backendVersions()
  })
  store.setRunStatus(runId, 'running')
  emit({ type: 'start', runId, backend, total: config.train.steps })

  const started = Date.now()
  let lastProgress = 0
  const interval = opts.progressIntervalMs ?? 200
  const builtin = builtinOfSource(source)
  try {
    const res = await runExperiment(
      config,
      dataset,
      {
        signal: opts.signal,
        evaluate: builtin?.evaluate ? (p) => builtin.evaluate!(p, options) : undefined,
        onLog: (step, metrics) => {
          const rows: MetricPoint[] = Object.entries(metrics).map(([key, value]) => ({ step, key, value }))
          store.appendMetrics(runId, rows)
          emit({ type: 'metrics', runId, step, metrics })
        },
        onSnapshot: (snap) => store.putWeightSnapshot(runId, snap),
        onPhase: (phase, done, total) => {
          const now = Date.now()
          if (now - lastProgress < interval && done < total) return
          lastProgress = now
          const elapsedMs = now - started
          const etaMs = done > 0 ? (elapsedMs / done) * (total - done) : 0
          emit({ type: 'progress', runId, phase, step: done, total, elapsedMs, etaMs })
        }
      },
      { get: (k, h) => store.getRefLogProbs(k, h), put: (k, h, a) => store.putRefLogProbs(k, h, a) }
    )
    try {
      if (res.status === 'completed') store.putCheckpoint(runId, res.steps, readWeights(res.policy), res.policy.spec, res.final)
    } finally {
      res.policy.dispose()
    }
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
  }
}
