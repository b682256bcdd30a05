// The stages of a trace weight at one snapshot (paper §4, eq. 9–11; SnapshotData version 2), as
// the inspector shows them one at a time: log w raw (per curated trace), w after the clamp (per
// trace), w as the loss used it — the clamped w, self-normalised under the sampling mass μ when
// weights.normalize is on — counted μ times (a trace of quality-bin multiplicity 3 is three
// copies of the multiset the batches are drawn from), and the step's batch, one row per sampled
// trace as the loss weighted it. Version-1 snapshots have only the first three (their loss stage
// was normalised over the unique traces, without μ).
import type { SnapshotData } from '../../../shared/contract.ts'
import { effectiveSampleSize, LOG_FLOOR_W, median, minMax, sharedLogWHistograms } from '../../../shared/weight-stats.ts'

export type StageName = 'raw' | 'clamped' | 'loss' | 'batch'

export interface WeightStage {
  stage: StageName
  label: string
  /** what N counts */
  over: string
  n: number
  /** ESS/N = (Σw)² / (N Σw²) over what N counts */
  ess_n: number
  /** min / median / max of log w (weights at 0 left out; `zeros` counts them) */
  logw_min: number
  logw_median: number
  logw_max: number
  zeros: number
  /** mean w over what N counts (1 after the normalisation) */
  mean_w: number
  /** the values binned: log w raw, or w */
  values: number[]
  kind: 'log' | 'w'
}

/** Each value repeated round(μ) times: the curated multiset the loss samples from. */
export function underMass(values: ArrayLike<number>, mass: ArrayLike<number> | undefined): number[] {
  const out: number[] = []
  for (let i = 0; i < values.length; i++) {
    const k = mass ? Math.round(mass[i]) : 1
    for (let j = 0; j < k; j++) out.push(values[i])
  }
  return out
}

function fromWeights(stage: StageName, label: string, over: string, w: number[]): WeightStage {
  const logs = w.filter((v) => v > LOG_FLOOR_W).map(Math.log)
  const [lo, hi] = minMax(logs)
  const n = w.length
  return {
    stage,
    label,
    over,
    n,
    ess_n: n ? effectiveSampleSize(w) / n : 0,
    logw_min: lo,
    logw_median: median(logs),
    logw_max: hi,
    zeros: n - logs.length,
    mean_w: n ? w.reduce((a, b) => a + b, 0) / n : NaN,
    values: w,
    kind: 'w'
  }
}

/** w after the clamp alone: clamp(exp(log w raw), lo, hi) (the engine's clampedWeight before any
 *  normalisation), for snapshots that did not store it. */
export function clampOnly(logWRaw: ArrayLike<number>, [lo, hi]: [number, number]): number[] {
  return Array.from(logWRaw, (v) => Math.min(Math.max(Math.exp(v), lo), hi))
}

export function weightStages(snap: SnapshotData, normalizes: boolean): WeightStage[] {
  const raw = snap.logWRaw
  const [rlo, rhi] = minMax(raw)
  // ESS of exp(log w raw) formed after shifting by the max (ESS is scale-free; exp would overflow)
  const shifted = raw.map((v) => Math.exp(v - rhi))
  const traces = `${raw.length} curated traces`
  const stages: WeightStage[] = [
    {
      stage: 'raw',
      label: 'log w raw',
      over: traces,
      n: raw.length,
      ess_n: raw.length ? effectiveSampleSize(shifted) / raw.length : 0,
      logw_min: rlo,
      logw_median: median(raw),
      logw_max: rhi,
      zeros: 0,
      mean_w: NaN,
      values: raw,
      kind: 'log'
    },
    fromWeights('clamped', `w clamped to [${snap.clamp[0]}, ${snap.clamp[1]}]`, traces, snap.wClamped ?? clampOnly(raw, snap.clamp))
  ]
  if (snap.version === 2 && snap.mass) {
    const loss = underMass(snap.w, snap.mass)
    stages.push(
      fromWeights('loss', normalizes ? 'w in the loss (clamped, normalised under μ)' : 'w in the loss (clamped)', `the curated multiset: Σμ = ${loss.length} (each trace μ times)`, loss)
    )
  } else {
    stages.push(fromWeights('loss', normalizes ? 'w in the loss (normalised over the traces, v1)' : 'w in the loss', traces, snap.w))
  }
  if (snap.batch && snap.batch.w.length) stages.push(fromWeights('batch', 'w of the step’s batch rows', `${snap.batch.w.length} batch rows`, snap.batch.w))
  return stages
}

/** Histogram traces of one stage on bin edges shared by every stage (the switch keeps the x
 *  axis); the clamped stage has log w raw as a step outline over it. Weights at 0 are not binned. */
export function stageHistogramTraces(stages: WeightStage[], shown: StageName, bins = 60): Record<string, unknown>[] {
  const sets = stages.map((s) => (s.kind === 'log' ? { logWRaw: s.values } : { logWRaw: [] as number[], w: s.values }))
  const h = sharedLogWHistograms(sets, bins)
  if (!h.edges.length) return []
  const width = h.edges[1] - h.edges[0]
  const centers = h.edges.slice(0, -1).map((e) => e + width / 2)
  const i = Math.max(
    0,
    stages.findIndex((s) => s.stage === shown)
  )
  const s = stages[i]
  const counts = s.kind === 'log' ? h.raw[i] : h.clamped[i]
  const out: Record<string, unknown>[] = [
    { type: 'bar', x: centers, y: counts, width, name: s.kind === 'log' ? s.label : `log of ${s.label}`, opacity: 0.6, hovertemplate: `log w %{x:.3g}: %{y}<extra>${s.over}</extra>` }
  ]
  // the outline counts traces too, so it is drawn where the bars do (the loss stage counts μ copies, the batch its rows)
  if (s.stage === 'clamped')
    out.push({
      type: 'scatter',
      mode: 'lines',
      line: { shape: 'hvh', width: 1.5 },
      x: centers,
      y: h.raw[0],
      name: 'log w raw (traces)',
      hovertemplate: 'log w %{x:.3g}: %{y}<extra>raw</extra>'
    })
  return out
}

export interface BatchRow {
  row: number
  traceIndex: number
  score: number | undefined
  mass: number | undefined
  logWRaw: number | undefined
  wClamped: number | undefined
  w: number
}

/** The step's batch rows beside their trace's raw and clamped weight (looked up by trace index). */
export function batchRows(snap: SnapshotData): BatchRow[] {
  if (!snap.batch) return []
  const at = new Map<number, number>()
  snap.traceIndex.forEach((t, i) => at.set(t, i))
  const clamped = snap.wClamped ?? clampOnly(snap.logWRaw, snap.clamp)
  return snap.batch.traceIndex.map((t, row) => {
    const i = at.get(t)
    return {
      row,
      traceIndex: t,
      score: i === undefined ? undefined : snap.scores[i],
      mass: i === undefined || !snap.mass ? undefined : snap.mass[i],
      logWRaw: i === undefined ? undefined : snap.logWRaw[i],
      wClamped: i === undefined ? undefined : clamped[i],
      w: snap.batch!.w[row]
    }
  })
}
