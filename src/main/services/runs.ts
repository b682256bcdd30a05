// config.* and runs.*: resolve a config against the project, start, resume, cancel and delete
// runs (each in its own worker; events stream back), and read what runs saved: metrics, weight
// snapshots, checkpoints, per-step ρ, an evaluation, a replayed episode.
import { ConfigError, domainOf, METHOD_LABELS, resolveConfig, type FieldIssue, type RunConfig } from '../../shared/config.ts'
import { ApiError, type Handlers, type RunInfo } from '../../shared/contract.ts'
import { curate } from '../../shared/curation.ts'
import { sharedLogWHistograms } from '../../shared/weight-stats.ts'
import { evaluatorOfSource, getBuiltin } from '../engine/datasets/builtin.ts'
import * as runner from '../jobs/runner.ts'
import { builtinDataLabel, referenceCost } from '../jobs/bc-reference-cache.ts'
import { checkRunModels } from '../jobs/run-model-checks.ts'
import type { RunEvent, RunHandle } from '../jobs/types.ts'
import type { ProjectStore, RunRow } from '../store/types.ts'
import type { ServiceContext } from './context.ts'
import { configIssues } from './errors.ts'
import { runInWorker } from './import-job.ts'
import { runWeightDiagnostics } from '../suites/diagnostics.ts'

type RunRequests =
  | 'config.validate'
  | 'runs.list'
  | 'runs.get'
  | 'runs.start'
  | 'runs.cancel'
  | 'runs.markInterrupted'
  | 'runs.resume'
  | 'runs.delete'
  | 'runs.rename'
  | 'runs.referenceCost'
  | 'runs.eval'
  | 'runs.metrics'
  | 'runs.snapshotSteps'
  | 'runs.snapshot'
  | 'runs.weights'
  | 'runs.diagnostics'
  | 'runs.heatmap'
  | 'runs.traceRho'
  | 'runs.checkpoints'
  | 'runs.replay'

/** Merge a config over the defaults of its dataset's domain (domainOf): a dataset stored in the
 *  project, named by id or by name, by its kind; a built-in by its name. */
export function resolveFor(store: ProjectStore, config: Record<string, unknown>, source?: string): RunConfig {
  const name = typeof config.dataset === 'string' ? config.dataset : undefined
  const stored = name !== undefined && !getBuiltin(name) ? store.findDataset(name) : null
  return resolveConfig(stored ? { domain: domainOf(stored), ...config } : config, source)
}

/** The start's model checks (jobs/run-model-checks.ts) on a config before it starts, so that New
 *  run and `iwsft run` refuse it up front: each refusal is a field issue of the model it is about.
 *  A dataset not in the project is left to the start. */
function runModelIssues(store: ProjectStore, config: RunConfig): FieldIssue[] {
  const dataset = store.findDataset(config.dataset)
  if (!dataset) return []
  const issues: FieldIssue[] = []
  checkRunModels(store, config, dataset.id, (path, e) => issues.push({ path, message: e.message }))
  return issues
}

/** A run job's event as the services' events (run.start, run.progress, run.metrics, run.end),
 *  with the job's live progress kept for runs.list; the job leaves ctx.jobs at its end. */
export function forwardRunEvent(ctx: ServiceContext, e: RunEvent): void {
  const { emit, jobs } = ctx
  const job = jobs.get(e.runId)
  if (e.type === 'start') {
    emit('run.start', { runId: e.runId, backend: e.backend, total: e.total })
    emit('project.changed', { what: 'runs' })
  } else if (e.type === 'progress') {
    if (job) job.live = { phase: e.phase, step: e.step, total: e.total, elapsedMs: e.elapsedMs, etaMs: e.etaMs }
    emit('run.progress', { runId: e.runId, phase: e.phase, step: e.step, total: e.total, elapsedMs: e.elapsedMs, etaMs: e.etaMs })
  } else if (e.type === 'metrics') {
    emit('run.metrics', { runId: e.runId, step: e.step, metrics: e.metrics })
  } else if (e.type === 'end') {
    jobs.delete(e.runId)
    emit('run.end', { runId: e.runId, status: e.status, ...(e.error ? { error: e.error } : {}), final: e.final })
    emit('project.changed', { what: 'runs' })
  }
}

/** Start a run job and register it under its id once the worker has created the run row;
 *  resolves with that id, or rejects with why the job could not start. */
export async function trackRun(ctx: ServiceContext, start: (onEvent: (e: RunEvent) => void) => RunHandle): Promise<number> {
  const { jobs } = ctx
  const forward = (e: RunEvent): void => forwardRunEvent(ctx, e)
  let knownId: number | null = null
  const pending: RunEvent[] = []
  const handle = start((e) => {
    if (knownId === null) {
      // events can arrive before the job is registered under its id
      if (e.type === 'start') {
        knownId = e.runId
        jobs.set(e.runId, { handle, live: null })
        forward(e)
        for (const p of pending.splice(0)) forward(p)
      } else pending.push(e)
    } else forward(e)
  })
  handle.done.catch((err: unknown) => {
    // the job's worker died after the run started (the runner marked the run interrupted): end it here too
    if (knownId === null || !jobs.has(knownId)) return
    forward({ type: 'end', runId: knownId, status: 'failed', error: err instanceof Error ? err.message : String(err), final: {} })
  })
  return handle.runId
}

export function runHandlers(ctx: ServiceContext): Pick<Handlers, RunRequests> {
  const { emit, jobs } = ctx
  const toRunInfo = (r: RunRow): RunInfo => {
    const elsewhere = r.status === 'running' && !jobs.has(r.id)
    return { ...r, live: jobs.get(r.id)?.live ?? (elsewhere ? ctx.followed.get(r.id) : undefined) ?? null, elsewhere }
  }

  const track = (start: (onEvent: (e: RunEvent) => void) => RunHandle): Promise<number> => trackRun(ctx, start)

  return {
    'config.validate': async ({ config, source }) => {
      try {
        const resolved = resolveFor(ctx.store, config, source)
        const issues = runModelIssues(ctx.store, resolved)
        if (issues.length) throw new ConfigError(`${source ?? 'config'}: cannot run\n  ${issues.map((i) => `${i.path}: ${i.message}`).join('\n  ')}`, source, issues)
        return { ok: true as const, config: resolved }
      } catch (e) {
        return { ok: false as const, message: e instanceof Error ? e.message : String(e), issues: configIssues(e) }
      }
    },
    'runs.list': async () => ctx.store.listRuns().map(toRunInfo),
    'runs.get': async ({ runId }) => toRunInfo(ctx.run(runId)),
    'runs.start': async ({ config, seeds, group, source }) => {
      // validate every seed's config before anything starts: all or nothing
      const resolved = resolveFor(ctx.store, config, source)
      const label = `${METHOD_LABELS[resolved.method]} · ${ctx.store.findDataset(resolved.dataset)?.name ?? resolved.dataset}`
      const groupName = group ?? (seeds.length > 1 ? `${label} · ${new Date().toISOString().slice(0, 16).replace('T', ' ')}` : undefined)
      const configs = seeds.map((seed) => {
        const name = typeof config.name === 'string' && config.name ? `${config.name}${seeds.length > 1 ? ` · seed ${seed}` : ''}` : `${label} · seed ${seed}`
        return resolveFor(ctx.store, { ...config, name, seed, ...(groupName ? { group: groupName } : {}) }, source)
      })
      // the seeds start together (each in its own worker); ids come back in seed order
      const started = await Promise.allSettled(configs.map((c) => track((on) => runner.startRun(ctx.store.file, c, on))))
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      const runIds = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
      if (failed) {
        // all or nothing: stop the seeds that did start, and say why the others did not
        for (const id of runIds) jobs.get(id)?.handle.cancel()
        throw failed.reason
      }
      return { runIds, group: groupName ?? null }
    },
    'runs.resume': async ({ runId }) => {
      const run = ctx.run(runId)
      if (run.backend === 'accelerate') {
        throw new ApiError(
          `run ${runId} ran on the Python trainer (TRL + accelerate), which does not resume from a checkpoint; launch the config again, or follow its job folder (${run.versions?.job_dir ?? 'see the run'}) if the job is still going elsewhere`,
          'invalid_input'
        )
      }
      if (jobs.has(runId)) throw new ApiError(`run ${runId} is still going; it can resume once it has stopped`, 'failed')
      return { runId: await track((on) => runner.resumeRun(ctx.store.file, runId, on)) }
    },
    'runs.cancel': async ({ runId }) => {
      ctx.run(runId)
      const job = jobs.get(runId)
      if (!job) throw new ApiError(`run ${runId} is not running here, so there is nothing to cancel`, 'failed')
      job.handle.cancel()
      return { ok: true as const }
    },
    'runs.markInterrupted': async ({ runId }) => {
      const run = ctx.run(runId)
      if (jobs.has(runId)) throw new ApiError(`run ${runId} is running here, in this back end; cancel it instead`, 'failed')
      if (run.status !== 'running' && run.status !== 'queued') throw new ApiError(`run ${runId} is ${run.status}, not stuck as running; nothing to mark`, 'failed')
      ctx.store.markRunInterrupted(
        runId,
        `marked interrupted by hand on ${new Date().toISOString().slice(0, 16).replace('T', ' ')}: its process was taken to be gone; resume it from its last checkpoint (iwsft resume ${runId}) or start it again`
      )
      emit('project.changed', { what: 'runs' })
      return { ok: true as const }
    },
    'runs.delete': async ({ runId }) => {
      const run = ctx.run(runId)
      if (jobs.has(runId) || run.status === 'running')
        throw new ApiError(`run ${runId} ("${run.name}") is still running; cancel it (or mark it interrupted if its process is gone) before deleting it`, 'failed')
      ctx.store.deleteRun(runId)
      emit('project.changed', { what: 'runs' })
      return { ok: true as const }
    },
    'runs.rename': async ({ runId, name }) => {
      ctx.run(runId)
      ctx.store.renameRun(runId, name)
      emit('project.changed', { what: 'runs' })
      return { ok: true as const }
    },
    'runs.referenceCost': async ({ config, source }) => {
      const resolved = resolveFor(ctx.store, config, source)
      const backend = resolved.backend === 'auto' ? null : resolved.backend
      if (getBuiltin(resolved.dataset)) {
        const options = { seed: resolved.seed, ...(resolved.dataset_options ?? {}) }
        return referenceCost(ctx.store, resolved, { hash: null, label: builtinDataLabel(resolved.dataset, options) }, backend)
      }
      const ds = ctx.store.findDataset(resolved.dataset)
      if (!ds) throw new ApiError(`dataset "${resolved.dataset}" is not in the project; pick one in Datasets`, 'not_found')
      return referenceCost(ctx.store, resolved, { hash: ds.hash, label: null }, backend)
    },
    'runs.eval': async ({ runId, step, episodes }) => {
      const run = ctx.run(runId)
      if (run.datasetId === null) throw new ApiError(`run ${runId}'s dataset was deleted; nothing to evaluate on`, 'invalid_input')
      const ds = ctx.datasetSummary(run.datasetId)
      if (ds.kind === 'sequence' && !evaluatorOfSource(ds.source, {})) {
        throw new ApiError(
          `run ${runId} trained on token sequences without held-out problems to solve; only data made by a suite (iwsft reproduce sequence: generated:arithmetic/… sources) has an evaluation`,
          'invalid_input'
        )
      }
      return runInWorker('evaluate', { projectFile: ctx.store.file, runId, step, episodes })
    },
    'runs.metrics': async ({ runIds, keys }) =>
      runIds.map((runId) => {
        ctx.run(runId)
        const series: Record<string, { steps: number[]; values: number[] }> = {}
        for (const p of ctx.store.getMetrics(runId, keys)) {
          const s = (series[p.key] ??= { steps: [], values: [] })
          s.steps.push(p.step)
          s.values.push(p.value)
        }
        return { runId, series }
      }),
    'runs.snapshotSteps': async ({ runId }) => {
      ctx.run(runId)
      return ctx.store.listSnapshotSteps(runId)
    },
    'runs.snapshot': async ({ runId, step }) => {
      const run = ctx.run(runId)
      const snap = ctx.store.getWeightSnapshot(runId, step)
      if (!snap) throw new ApiError(`run ${runId} has no weight snapshot at step ${step}; saved steps: ${ctx.store.listSnapshotSteps(runId).join(', ') || 'none'}`, 'not_found')
      let scores: number[] = []
      if (run.datasetId !== null) {
        try {
          const ds = ctx.dataset(run.datasetId)
          scores = Array.from(snap.traceIndex, (i) => ds.scores[i])
        } catch {
          scores = []
        }
      }
      return {
        runId,
        step,
        traceIndex: Array.from(snap.traceIndex),
        logWRaw: Array.from(snap.logWRaw),
        w: Array.from(snap.w),
        version: snap.version ?? 1,
        ...(snap.wClamped ? { wClamped: Array.from(snap.wClamped) } : {}),
        ...(snap.mass ? { mass: Array.from(snap.mass) } : {}),
        batch: snap.batch ? { traceIndex: Array.from(snap.batch.traceIndex), w: Array.from(snap.batch.w) } : null,
        clamp: run.config.weights.clamp,
        scores
      }
    },
    'runs.diagnostics': async ({ runId }) => {
      if (!ctx.store.getRun(runId)) throw new ApiError(`no run ${runId} in ${ctx.store.file}`, 'not_found')
      return runWeightDiagnostics(ctx.store, runId)
    },
    'runs.weights': async ({ runId, step }) => {
      const run = ctx.run(runId)
      const steps = ctx.store.listSnapshotSteps(runId)
      if (steps.length === 0) throw new ApiError(`run ${runId} has no weight snapshots (BC runs and runs stopped before their first snapshot have none)`, 'not_found')
      const at = step ?? steps[steps.length - 1]
      const snap = ctx.store.getWeightSnapshot(runId, at)
      if (!snap) throw new ApiError(`run ${runId} has no snapshot at step ${at}; saved steps: ${steps.join(', ')}`, 'not_found')
      if (run.datasetId === null) throw new ApiError(`run ${runId}'s dataset was deleted; its traces' ids and scores are gone`, 'not_found')
      const ds = ctx.dataset(run.datasetId)
      // the trace's quality bin: its multiplicity under the run's curation (0 = left out)
      const bins = curate(ds.scores, run.config.curation).multiplicity
      const traces = Array.from(snap.traceIndex, (t, i) => ({ trace: t, id: ds.ids[t], logWRaw: snap.logWRaw[i], w: snap.w[i], score: ds.scores[t], bin: bins[t] }))
      return { runId, step: at, traces }
    },
    'runs.heatmap': async ({ runId, bins }) => {
      ctx.run(runId)
      const steps = ctx.store.listSnapshotSteps(runId)
      const sets = steps.map((s) => ({ logWRaw: ctx.store.getWeightSnapshot(runId, s)!.logWRaw }))
      const h = sharedLogWHistograms(sets, bins ?? 40)
      return { runId, steps, edges: h.edges, counts: h.raw }
    },
    'runs.traceRho': async ({ runId, traceIndex, step }) => {
      ctx.run(runId)
      // θ from the checkpoint nearest the asked step (runs save one every train.checkpoint_every steps)
      const cks = ctx.store.listCheckpoints(runId)
      if (!cks.length) {
        if (jobs.has(runId)) throw new ApiError(`run ${runId} has saved no checkpoint yet; per-step ρ needs one (every train.checkpoint_every steps, and at the end)`, 'failed')
        throw new ApiError(`run ${runId} has no checkpoint, so per-step ρ cannot be computed`, 'not_found')
      }
      const target = step ?? Math.max(...cks.map((c) => c.step))
      const nearest = cks.reduce((a, b) => (Math.abs(b.step - target) < Math.abs(a.step - target) ? b : a))
      return runInWorker('traceRho', { projectFile: ctx.store.file, runId, traceIndex, step: nearest.step })
    },
    'runs.checkpoints': async ({ runId }) => {
      ctx.run(runId)
      return ctx.store
        .listCheckpoints(runId)
        .map((c) => ({ id: c.id, step: c.step, createdAt: c.createdAt, metrics: c.metrics }))
        .sort((a, b) => a.step - b.step)
    },
    'runs.replay': async ({ runId, step, seed }) => {
      const run = ctx.run(runId)
      const ds = run.datasetId !== null ? ctx.store.listDatasets().find((d) => d.id === run.datasetId) : undefined
      if (ds && ds.kind !== 'continuous') throw new ApiError(`run ${runId} trained on ${ds.name} (${ds.kind} data); episodes can be replayed for control runs only`, 'invalid_input')
      if (!ctx.store.listCheckpoints(runId).length) throw new ApiError(`run ${runId} has no checkpoint yet; replay plays a saved policy`, 'not_found')
      return runInWorker('replay', { projectFile: ctx.store.file, runId, step, seed: seed ?? 0 })
    }
  }
}
