// Everything a report shows, gathered from the project store into one plain JSON object, for
// one run or a comparison of several: config (and what differs between runs), dataset and
// curation summary, metric curves, weight histograms at each run's last snapshot, final
// metrics, seeds, backend and versions. The HTML, Markdown and PDF renderers only format it.
import { isImportanceWeighted, METHOD_LABELS, type Curation, type Method, type RunConfig } from '../../shared/config.ts'
import { curate } from '../../shared/curation.ts'
import { histogram, weightStats, type WeightStats } from '../../shared/weight-stats.ts'
import type { ProjectStore, RunRow } from '../store/types.ts'
import { appVersion } from '../export/checkpoint-export.ts'
import { runWeightDiagnostics, type RunDiagnostics } from '../suites/diagnostics.ts'

export const HIST_BINS = 40

export interface Hist {
  edges: number[]
  counts: number[]
}

export interface ReportDataset {
  id: number
  name: string
  kind: string
  source: string
  hash: string
  numTraces: number
  numSteps: number
  obsDim: number
  actDim: number
  scoreMin: number
  scoreMax: number
}

export interface ReportCuration {
  /** human description, e.g. "score > 0.5" or "quality bins at percentiles 90, 95, 98" */
  rule: string
  mode: Curation['mode']
  thresholds: number[]
  numTraces: number
  kept: number
  discarded: number
  /** Σ multiplicity (|D_Q+| as a multiset) */
  total: number
  /** [label, count] per multiplicity bin */
  bins: Array<{ label: string; count: number }>
  /** score histogram of all traces, and of the kept ones, on the same edges */
  scores: { edges: number[]; all: number[]; kept: number[] }
}

export interface ReportSnapshot {
  step: number
  count: number
  stats: WeightStats
  /** histograms on edges shared by every run of the report */
  logWRaw: Hist
  w: Hist
}

export interface ReportRun {
  id: number
  name: string
  group: string | null
  method: string
  methodLabel: string
  /** the method weights traces by q/π_ref (iw-SFT…): the snapshot's w was in its loss; for
   *  SFT, SFT(Q) and BC it was not (every trace counted with w = 1) */
  weightsInLoss: boolean
  status: string
  error: string | null
  seed: number
  /** the data generator's seed when it differs from the run seed (built-ins) */
  dataSeed: number | null
  backend: string | null
  versions: Record<string, string>
  createdAt: string
  startedAt: string | null
  endedAt: string | null
  lastStep: number | null
  config: RunConfig
  dataset: ReportDataset | null
  dataHash: string | null
  curation: ReportCuration | null
  metrics: Record<string, { steps: number[]; values: number[] }>
  /** last logged value of every metric, plus the final checkpoint's metrics */
  final: Record<string, number>
  snapshot: ReportSnapshot | null
  /** weight diagnostics at the last snapshot (suites/diagnostics.ts; the ESS/N curve is in
   *  `metrics.ess_fraction`); null for runs without weights (BC) */
  diagnostics: Omit<RunDiagnostics, 'ess_n_curve'> | null
  checkpoints: Array<{ step: number; createdAt: string; metrics: Record<string, number> }>
}

/** Runs of one configuration apart from seed, name and group (the seeds of one setting),
 *  aggregated: each final metric's mean and sample standard deviation over the runs that have it. */
export interface ReportGroup {
  label: string
  runIds: number[]
  methodLabel: string
  final: Record<string, { mean: number; std: number; n: number }>
}

export interface ReportData {
  title: string
  generatedAt: string
  generatedBy: string
  project: string
  runs: ReportRun[]
  /** union of metric keys, most useful first */
  metricKeys: string[]
  /** flattened config keys and each run's value (JSON); `differs` when not all equal */
  config: Array<{ key: string; values: string[]; differs: boolean }>
  /** settings run with two or more seeds, aggregated (empty when there are none) */
  groups: ReportGroup[]
}

export class ReportError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ReportError'
  }
}

const KEY_ORDER = [
  'loss',
  'expected_reward',
  'p_right',
  'return',
  'eval_return',
  'normalized_return',
  'accuracy',
  'pass_at_1',
  'ess_fraction',
  'ess',
  'clamp_fraction',
  'logw_raw_median',
  'logw_raw_min',
  'logw_raw_max',
  'logw_median',
  'logw_min',
  'logw_max',
  'spearman',
  'grad_norm',
  'lr'
]

/** Metric keys, known ones in a fixed useful order, then the rest (eval keys first) alphabetically. */
export function orderKeys(keys: Iterable<string>): string[] {
  const set = new Set(keys)
  const known = KEY_ORDER.filter((k) => set.has(k))
  const rest = [...set]
    .filter((k) => !KEY_ORDER.includes(k))
    .sort((a, b) => Number(!/eval|return|reward|acc|pass/.test(a)) - Number(!/eval|return|reward|acc|pass/.test(b)) || a.localeCompare(b))
  return [...known, ...rest]
}

export function describeCuration(c: Curation): string {
  if (c.mode === 'all') return 'all traces'
  if (c.mode === 'threshold') return `score > ${c.threshold}`
  if (c.mode === 'top_k') return `top ${c.percent}% of scores`
  return `quality bins at percentiles ${c.cutoffs.join(', ')}`
}

function flatten(x: unknown, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  if (x && typeof x === 'object' && !Array.isArray(x)) {
    for (const [k, v] of Object.entries(x)) flatten(v, prefix ? `${prefix}.${k}` : k, out)
  } else if (prefix) out[prefix] = JSON.stringify(x)
  return out
}

function curationSummary(store: ProjectStore, run: RunRow, ds: ReportDataset | null): ReportCuration | null {
  if (!ds) return null
  let scores: Float64Array
  try {
    scores = store.getDataset(ds.id).scores
  } catch {
    return null
  }
  const c: Curation = run.method === 'bc' ? { mode: 'all' } : run.config.curation
  const r = curate(scores, c)
  const bins =
    c.mode === 'quality_bins'
      ? r.perBin.map((count, j) => ({ label: `m = ${j + 1} (score ≥ p${c.cutoffs[j]} = ${fmt(r.thresholds[j])}${j + 1 < c.cutoffs.length ? `, < p${c.cutoffs[j + 1]}` : ''})`, count }))
      : [{ label: c.mode === 'all' ? 'kept (all)' : `kept (${describeCuration(c)})`, count: r.kept }]
  bins.push({ label: 'discarded', count: scores.length - r.kept })
  const all = histogram(scores, 30)
  const keptScores = scores.filter((_, i) => r.multiplicity[i] > 0)
  const lo = all.edges[0]
  const hi = all.edges[all.edges.length - 1]
  const kept = all.edges.length ? histogram(keptScores, 30, lo, hi).counts : []
  return {
    rule: run.method === 'bc' ? 'all traces (BC trains on all data)' : describeCuration(c),
    mode: c.mode,
    thresholds: r.thresholds,
    numTraces: scores.length,
    kept: r.kept,
    discarded: scores.length - r.kept,
    total: r.total,
    bins,
    scores: { edges: all.edges, all: all.counts, kept }
  }
}

export function fmt(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined) return '–'
  if (!Number.isFinite(v)) return String(v)
  if (v === 0) return '0'
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v)
  const a = Math.abs(v)
  if (a >= 1e5 || a < 1e-3) return v.toExponential(Math.max(1, digits - 2))
  return String(Number(v.toPrecision(digits)))
}

export interface BuildReportOptions {
  title?: string
  bins?: number
}

/** Gather a report of one or several runs. Unknown run ids are an error naming the known ones. */
export function buildReport(store: ProjectStore, runIds: number[], opts: BuildReportOptions = {}): ReportData {
  if (runIds.length === 0) throw new ReportError('a report needs at least one run')
  const rows = runIds.map((id) => {
    const r = store.getRun(id)
    if (!r)
      throw new ReportError(
        `no run ${id} in ${store.file}; runs: ${
          store
            .listRuns()
            .map((x) => x.id)
            .join(', ') || 'none'
        }`
      )
    return r
  })
  const bins = opts.bins ?? HIST_BINS
  const datasets = new Map(store.listDatasets().map((d) => [d.id, d]))
  // raw snapshots first, so histograms of a comparison share their bin edges
  const snaps = rows.map((r) => {
    const steps = store.listSnapshotSteps(r.id)
    return steps.length ? store.getWeightSnapshot(r.id, steps[steps.length - 1]) : null
  })
  const range = (pick: (s: NonNullable<(typeof snaps)[number]>) => ArrayLike<number>): [number, number] | null => {
    let lo = Infinity
    let hi = -Infinity
    for (const s of snaps) {
      if (!s) continue
      const x = pick(s)
      for (let i = 0; i < x.length; i++) {
        if (!Number.isFinite(x[i])) continue
        if (x[i] < lo) lo = x[i]
        if (x[i] > hi) hi = x[i]
      }
    }
    return Number.isFinite(lo) ? [lo, hi === lo ? lo + 1 : hi] : null
  }
  const rRaw = range((s) => s.logWRaw)
  const rW = range((s) => s.w)

  const runs: ReportRun[] = rows.map((r, i) => {
    const d = r.datasetId !== null ? datasets.get(r.datasetId) : undefined
    const dataset: ReportDataset | null = d
      ? {
          id: d.id,
          name: d.name,
          kind: d.kind,
          source: d.source,
          hash: d.hash,
          numTraces: d.numTraces,
          numSteps: d.numSteps,
          obsDim: d.obsDim,
          actDim: d.actDim,
          scoreMin: d.scoreMin,
          scoreMax: d.scoreMax
        }
      : null
    const metrics: ReportRun['metrics'] = {}
    for (const p of store.getMetrics(r.id)) {
      const m = (metrics[p.key] ??= { steps: [], values: [] })
      m.steps.push(p.step)
      m.values.push(p.value)
    }
    for (const m of Object.values(metrics)) {
      const idx = m.steps.map((_, k) => k).sort((a, b) => m.steps[a] - m.steps[b])
      m.steps = idx.map((k) => m.steps[k])
      m.values = idx.map((k) => m.values[k])
    }
    const checkpoints = store
      .listCheckpoints(r.id)
      .sort((a, b) => a.step - b.step)
      .map((c) => ({ step: c.step, createdAt: c.createdAt, metrics: c.metrics }))
    const final: Record<string, number> = {}
    for (const [k, m] of Object.entries(metrics)) final[k] = m.values[m.values.length - 1]
    const lastCp = checkpoints[checkpoints.length - 1]
    if (lastCp) for (const [k, v] of Object.entries(lastCp.metrics)) if (typeof v === 'number' && !(k in final)) final[k] = v
    const s = snaps[i]
    const snapshot: ReportSnapshot | null = s
      ? {
          step: s.step,
          count: s.w.length,
          stats: weightStats(s.logWRaw, s.w, r.config.weights.clamp),
          logWRaw: rRaw ? histogram(s.logWRaw, bins, rRaw[0], rRaw[1]) : { edges: [], counts: [] },
          w: rW ? histogram(s.w, bins, rW[0], rW[1]) : { edges: [], counts: [] }
        }
      : null
    const optSeed = r.config.dataset_options?.seed
    return {
      id: r.id,
      name: r.name,
      group: r.group,
      method: r.method,
      methodLabel: METHOD_LABELS[r.method] ?? r.method,
      weightsInLoss: r.method in METHOD_LABELS ? isImportanceWeighted(r.method as Method) : true,
      status: r.status,
      error: r.error,
      seed: r.seed,
      dataSeed: typeof optSeed === 'number' && optSeed !== r.seed ? optSeed : null,
      backend: r.backend,
      versions: r.versions,
      createdAt: r.createdAt,
      startedAt: r.startedAt,
      endedAt: r.endedAt,
      lastStep: r.lastStep,
      config: r.config,
      dataset,
      dataHash: r.dataHash,
      curation: curationSummary(store, r, dataset),
      metrics,
      final,
      snapshot,
      diagnostics: reportDiagnostics(store, r.id),
      checkpoints
    }
  })

  const flats = runs.map((r) => flatten(r.config))
  const keys = [...new Set(flats.flatMap((f) => Object.keys(f)))]
  const config = keys.map((key) => {
    const values = flats.map((f) => f[key] ?? '–')
    return { key, values, differs: values.some((v) => v !== values[0]) }
  })
  const title = opts.title ?? (runs.length === 1 ? `Run ${runs[0].id}: ${runs[0].name}` : `Comparison of ${runs.length} runs: ${runs.map((r) => `${r.id} (${r.methodLabel})`).join(', ')}`)
  return {
    title,
    generatedAt: new Date().toISOString(),
    generatedBy: `IW-SFT Workbench ${appVersion()}`,
    project: store.file,
    runs,
    metricKeys: orderKeys(runs.flatMap((r) => Object.keys(r.metrics))),
    config,
    groups: aggregateGroups(runs)
  }
}

/** Mean and sample standard deviation (n − 1; 0 for one value). */
export function meanStd(xs: number[]): { mean: number; std: number; n: number } {
  const n = xs.length
  const mean = xs.reduce((a, b) => a + b, 0) / n
  const std = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0
  return { mean, std, n }
}

/** Runs whose configs are equal once seed, name and group are left out form a group (the seeds
 *  of one setting; a reproduce group holding several methods gives one group a method). */
export function aggregateGroups(runs: ReportRun[]): ReportGroup[] {
  const byKey = new Map<string, ReportRun[]>()
  for (const r of runs) {
    const f = flatten({ ...r.config, seed: undefined, name: undefined, group: undefined })
    const key = Object.keys(f)
      .sort()
      .filter((k) => f[k] !== undefined)
      .map((k) => `${k}=${f[k]}`)
      .join('\n')
    byKey.set(key, [...(byKey.get(key) ?? []), r])
  }
  return [...byKey.values()]
    .filter((rs) => rs.length > 1)
    .map((rs) => {
      const keys = [...new Set(rs.flatMap((r) => Object.keys(r.final)))]
      const final: ReportGroup['final'] = {}
      for (const k of keys) {
        const xs = rs.map((r) => r.final[k]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v))
        if (xs.length) final[k] = meanStd(xs)
      }
      const r0 = rs[0]
      return {
        label: `${r0.methodLabel}${r0.group ? ` · ${r0.group}` : ''} (n=${rs.length}: runs ${rs.map((r) => r.id).join(', ')})`,
        runIds: rs.map((r) => r.id),
        methodLabel: r0.methodLabel,
        final
      }
    })
}

function reportDiagnostics(store: ProjectStore, runId: number): ReportRun['diagnostics'] {
  const d = runWeightDiagnostics(store, runId)
  if (!d) return null
  const { ess_n_curve: _curve, ...rest } = d
  return rest
}

/** The weight-diagnostics table of a report (one row a run with diagnostics), as plain strings
 *  for the HTML and Markdown renderers. */
export function diagnosticsTable(d: ReportData): { head: string[]; rows: string[][]; warnings: string[] } {
  const head = ['run', 'step', 'ESS/N', 'ESS/N last batch', 'top 1 share', 'top 5 share', 'at clamp', 'their share', 'ρs(w, score)', 'ρs(w, bin)', 'mean ρ per step', 'π_ref action σ']
  const runs = d.runs.filter((r) => r.diagnostics)
  // a NaN correlation (one side constant, e.g. every curated score equal) shows as missing
  const f = (v: number | null | undefined): string => (v === undefined || v === null || Number.isNaN(v) ? '–' : fmt(v))
  const rows = runs.map((r) => {
    const x = r.diagnostics!
    return [
      `${r.id} · ${r.methodLabel}`,
      f(x.step),
      f(x.ess_n_final),
      f(x.ess_n_batch_final),
      f(x.top1_share),
      f(x.top5_share),
      f(x.clamp_fraction),
      f(x.clamp_share),
      f(x.spearman_w_score),
      f(x.spearman_w_bin),
      f(x.mean_rho_per_step),
      x.ref_action_std ? x.ref_action_std.map((v) => fmt(v)).join(', ') : '–'
    ]
  })
  return { head, rows, warnings: runs.flatMap((r) => r.diagnostics!.warnings.map((w) => `run ${r.id} (${r.methodLabel}): ${w}`)) }
}
