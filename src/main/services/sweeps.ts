// sweeps.*: a grid of settings × seeds run as one stored group (issue 15), and the table of a
// group's final metric per setting. A sweep's runs go one after another (each in its own worker,
// through runs.start), not all at once: the machine's cores are better spent on one run at a
// time than shared by twenty. Every config is resolved before the first run starts, so a grid
// value that does not fit the config starts nothing.
import { ConfigError, resolveConfig, type FieldIssue, type RunConfig } from '../../shared/config.ts'
import { ApiError, type Handlers, type SweepParams, type SweepPointResult, type SweepStatus } from '../../shared/contract.ts'
import { meanStd } from '../suites/suite.ts'
import { runWeightDiagnostics } from '../suites/diagnostics.ts'
import type { ProjectStore, RunRow } from '../store/types.ts'
import type { ServiceContext } from './context.ts'
import { runHandlers } from './runs.ts'

type SweepRequests = 'sweeps.start' | 'sweeps.status' | 'sweeps.cancel' | 'sweeps.results'

export interface GridAxis {
  key: string
  values: Array<number | string | boolean>
}

/** Every combination of the axes' values, the first axis varying slowest. */
export function gridPoints(grid: GridAxis[]): SweepParams[] {
  let points: SweepParams[] = [{}]
  for (const axis of grid) points = points.flatMap((p) => axis.values.map((v) => ({ ...p, [axis.key]: v })))
  return points
}

/** A copy of `config` with the setting at the dotted `path` set to `value`. The setting must exist
 *  in the (fully resolved) config, so a misspelt key or a key of another variant (weights.q.beta
 *  with q "current") is an error that names it. */
export function setPath(config: RunConfig, path: string, value: number | string | boolean): Record<string, unknown> {
  const out = structuredClone(config) as unknown as Record<string, unknown>
  const keys = path.split('.')
  let node: Record<string, unknown> = out
  for (let i = 0; i < keys.length - 1; i++) {
    const next = node[keys[i]]
    if (next === null || typeof next !== 'object' || Array.isArray(next)) {
      throw new ApiError(`grid key "${path}": the config has no setting "${keys.slice(0, i + 1).join('.')}" with keys under it`, 'invalid_config')
    }
    node = next as Record<string, unknown>
  }
  const leaf = keys[keys.length - 1]
  if (!(leaf in node)) {
    throw new ApiError(
      `grid key "${path}": not a setting of this config (${keys.slice(0, -1).join('.') || 'the top level'} has ${Object.keys(node).join(', ')}); set the variant it belongs to in the config first`,
      'invalid_config'
    )
  }
  node[leaf] = value
  return out
}

/** The headline metric of a group's runs: the first of the domains' evaluations they logged,
 *  else the training loss. */
function defaultMetric(store: ProjectStore, runs: RunRow[]): string {
  const keys = new Set(runs.flatMap((r) => store.metricKeys(r.id)))
  return ['expected_reward', 'normalized_score', 'accuracy', 'heldout_loglik'].find((k) => keys.has(k)) ?? 'loss'
}

/** The settings that differ between a group's runs (seed, name and group aside), as flattened key paths. */
function varyingParams(runs: RunRow[]): SweepParams[] {
  const flat = (o: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> => {
    if (o && typeof o === 'object' && !Array.isArray(o)) for (const [k, v] of Object.entries(o)) flat(v, prefix ? `${prefix}.${k}` : k, out)
    else out[prefix] = o
    return out
  }
  const flats = runs.map((r) => flat(r.config))
  const keys = [...new Set(flats.flatMap((f) => Object.keys(f)))].filter(
    (k) => !['seed', 'name', 'group'].includes(k) && flats.some((f) => JSON.stringify(f[k]) !== JSON.stringify(flats[0][k]))
  )
  return flats.map((f) => Object.fromEntries(keys.map((k) => [k, (typeof f[k] === 'object' ? JSON.stringify(f[k]) : f[k]) as number | string | boolean])))
}

/** A stored group's results: one row per grid point (runs with equal params), in first-run order. */
export function sweepResults(store: ProjectStore, group: string, metric?: string, keys?: string[]): { group: string; metric: string; results: SweepPointResult[] } {
  const runs = store
    .listRuns()
    .filter((r) => r.group === group)
    .sort((a, b) => a.id - b.id)
  if (runs.length === 0) throw new ApiError(`no runs in group "${group}" in ${store.file}`, 'not_found')
  const m = metric ?? defaultMetric(store, runs)
  const params = keys ? runs.map((r) => Object.fromEntries(keys.map((k) => [k, readPath(r.config, k)]))) : varyingParams(runs)
  const points = new Map<string, { params: SweepParams; runs: RunRow[] }>()
  runs.forEach((r, i) => {
    const key = JSON.stringify(params[i])
    if (!points.has(key)) points.set(key, { params: params[i], runs: [] })
    points.get(key)!.runs.push(r)
  })
  const results = [...points.values()].map(({ params: p, runs: rs }): SweepPointResult => {
    const values = rs.map((r) => {
      const pts = store.getMetrics(r.id, [m])
      return r.status === 'completed' && pts.length && Number.isFinite(pts[pts.length - 1].value) ? pts[pts.length - 1].value : null
    })
    const ok = values.filter((v): v is number => v !== null)
    const diags = rs.map((r) => (r.status === 'completed' ? runWeightDiagnostics(store, r.id) : null))
    const ess = diags.map((d) => d?.ess_n_final).filter((v): v is number => typeof v === 'number')
    const ms = ok.length ? meanStd(ok) : null
    return {
      params: p,
      metric: m,
      mean: ms?.mean ?? null,
      std: ms?.std ?? null,
      seeds: ok.length,
      values,
      ess_n_final: ess.length ? ess.reduce((a, b) => a + b, 0) / ess.length : null,
      run_ids: rs.map((r) => r.id),
      warnings: diags.flatMap((d, i) => (d?.warnings ?? []).map((w) => `run ${rs[i].id} (seed ${rs[i].seed}): ${w}`))
    }
  })
  return { group, metric: m, results }
}

function readPath(config: RunConfig, path: string): number | string | boolean {
  let node: unknown = config
  for (const k of path.split('.')) node = node && typeof node === 'object' ? (node as Record<string, unknown>)[k] : undefined
  return (node !== null && typeof node === 'object' ? JSON.stringify(node) : node) as number | string | boolean
}

interface SweepState extends SweepStatus {
  keys: string[]
  cancelled: boolean
}

export function sweepHandlers(ctx: ServiceContext): Pick<Handlers, SweepRequests> {
  const sweeps = new Map<string, SweepState>()
  const startRuns = runHandlers(ctx)['runs.start']
  ctx.onProjectClose(() => {
    for (const s of sweeps.values()) s.cancelled = true
    sweeps.clear()
  })

  const drive = async (state: SweepState, configs: Record<string, unknown>[], source?: string): Promise<void> => {
    for (const config of configs) {
      if (state.cancelled) break
      let runId: number
      try {
        ;[runId] = (await startRuns({ config, seeds: [config.seed as number], group: state.group, source })).runIds
      } catch (e) {
        state.status = 'failed'
        state.error = e instanceof Error ? e.message : String(e)
        return
      }
      state.runIds.push(runId)
      const job = ctx.jobs.get(runId)
      if (state.cancelled) job?.handle.cancel() // cancelled while this run was starting
      const end = job
        ? await job.handle.done.catch((e: unknown) => ({ status: 'failed' as const, error: String(e) }))
        : { status: ctx.store.getRun(runId)?.status ?? 'failed', error: undefined }
      state.done++
      if (end.status === 'failed') {
        state.status = 'failed'
        state.error = `run ${runId} failed${end.error ? `: ${end.error}` : ''}`
        return
      }
      if (end.status === 'cancelled') state.cancelled = true
    }
    state.status = state.cancelled ? 'cancelled' : 'completed'
  }

  return {
    'sweeps.start': async ({ config, grid, seeds, group, source }) => {
      // the config as a run would have it (defaults of its domain, stored datasets by kind), then each point
      const base = (await runHandlers(ctx)['config.validate']({ config, source })) as { ok: boolean; config?: RunConfig; message?: string; issues?: FieldIssue[] }
      if (!base.ok || !base.config) throw new ConfigError(base.message ?? 'invalid config', source, base.issues)
      const resolved = base.config
      const points = gridPoints(grid)
      if (points.length * seeds > 500)
        throw new ApiError(`a sweep of ${points.length} grid points × ${seeds} seeds is ${points.length * seeds} runs; keep it to 500 or fewer`, 'invalid_config')
      const label = Object.keys(points[0]).join(', ')
      const name = group ?? `sweep ${label} · ${resolved.dataset} · ${new Date().toISOString().slice(0, 19).replace('T', ' ')}`
      if (sweeps.get(name)?.status === 'running' || ctx.store.listRuns().some((r) => r.group === name))
        throw new ApiError(`group "${name}" already has runs; name the sweep's group anew`, 'invalid_config')
      const runs: Array<{ params: SweepParams; seed: number }> = []
      const configs = points.flatMap((p) =>
        Array.from({ length: seeds }, (_, seed) => {
          let c = resolved
          for (const [k, v] of Object.entries(p)) c = setPath(c, k, v) as unknown as RunConfig
          const text = Object.entries(p)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')
          runs.push({ params: p, seed })
          // validated now, all or nothing; the run resolves it again against the project
          const full = { ...c, seed, group: name, name: `${resolved.name ?? resolved.method} · ${text} · seed ${seed}` }
          resolveConfig(full as unknown as Record<string, unknown>, source)
          return full as unknown as Record<string, unknown>
        })
      )
      const state: SweepState = { group: name, status: 'running', total: configs.length, done: 0, runIds: [], keys: grid.map((g) => g.key), cancelled: false }
      sweeps.set(name, state)
      void drive(state, configs, source)
      return { group: name, runs }
    },
    'sweeps.status': async ({ group }) => {
      const s = sweeps.get(group)
      if (!s) throw new ApiError(`no sweep "${group}" was started by this back end`, 'not_found')
      const { keys: _k, cancelled: _c, ...status } = s
      return { ...status, runIds: [...status.runIds] }
    },
    'sweeps.cancel': async ({ group }) => {
      const s = sweeps.get(group)
      if (!s || s.status !== 'running') throw new ApiError(`sweep "${group}" is not running here, so there is nothing to cancel`, 'failed')
      s.cancelled = true
      const current = s.runIds[s.runIds.length - 1]
      if (current !== undefined) ctx.jobs.get(current)?.handle.cancel()
      return { ok: true as const }
    },
    'sweeps.results': async ({ group, metric }) => sweepResults(ctx.store, group, metric, sweeps.get(group)?.keys)
  }
}
