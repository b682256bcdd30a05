// A sweep's results (sweeps.results) as the Compare view draws them: the swept keys, a value's
// label, and the plot of the final metric against one swept key, one trace per combination of
// the other keys' values (a 2-D grid: one trace per value of the second axis), each with its
// mean ± std band over seeds and the individual seeds' values as points.
import type { SweepParams, SweepPointResult } from '../../../shared/contract.ts'

/** The swept keys, in the order the first grid point names them. */
export function sweepKeys(results: SweepPointResult[]): string[] {
  return results.length ? Object.keys(results[0].params) : []
}

export function paramText(v: SweepParams[string] | undefined): string {
  return v === undefined ? '–' : String(v)
}

function hexA(hex: string, a: number): string {
  const n = parseInt(hex.slice(1), 16)
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`
}

/** The x axis of a swept key: numeric when every value is a number (logarithmic when they are
 *  all positive and span two decades or more; ticks at the swept values), else one category per value. */
export function sweepAxis(results: SweepPointResult[], key: string): { type: 'linear' | 'log' | 'category'; tickvals?: number[] } {
  const v = results.map((r) => r.params[key])
  if (!v.every((x) => typeof x === 'number')) return { type: 'category' }
  const n = v as number[]
  const lo = Math.min(...n)
  const hi = Math.max(...n)
  const distinct = [...new Set(n)].sort((a, b) => a - b)
  // a tick at each swept value when there are few of them
  return { type: lo > 0 && hi / lo >= 100 ? 'log' : 'linear', ...(distinct.length <= 12 ? { tickvals: distinct } : {}) }
}

export interface SweepSeries {
  /** the other keys' values this series holds (empty: a 1-D grid) */
  label: string
  points: SweepPointResult[]
}

/** The grid points grouped by the values of every key but `xKey`, each group sorted along x. */
export function sweepSeries(results: SweepPointResult[], xKey: string): SweepSeries[] {
  const others = sweepKeys(results).filter((k) => k !== xKey)
  const groups = new Map<string, SweepPointResult[]>()
  for (const r of results) {
    const label = others.map((k) => `${k}=${paramText(r.params[k])}`).join(', ')
    if (!groups.has(label)) groups.set(label, [])
    groups.get(label)!.push(r)
  }
  const numeric = results.every((r) => typeof r.params[xKey] === 'number')
  return [...groups.entries()].map(([label, points]) => ({
    label,
    points: numeric ? [...points].sort((a, b) => (a.params[xKey] as number) - (b.params[xKey] as number)) : points
  }))
}

/** Plotly traces: per series a ±std band (two fill traces), the mean line with markers (one
 *  point per grid point that has a value) and the seeds' final values as small points; along a
 *  key whose values are not numbers, the means as markers with ±std error bars. */
export function sweepTraces(results: SweepPointResult[], xKey: string, colors: string[]): Record<string, unknown>[] {
  const metric = results[0]?.metric ?? ''
  const numeric = results.every((r) => typeof r.params[xKey] === 'number')
  return sweepSeries(results, xKey).flatMap((s, i) => {
    const color = colors[i % colors.length]
    const pts = s.points.filter((p) => p.mean !== null)
    const x = pts.map((p) => p.params[xKey])
    const mean = pts.map((p) => p.mean as number)
    const std = pts.map((p) => p.std ?? 0)
    const name = s.label || `mean ${metric}`
    const seedX: Array<SweepParams[string]> = []
    const seedY: number[] = []
    for (const p of s.points)
      for (const v of p.values)
        if (v !== null) {
          seedX.push(p.params[xKey])
          seedY.push(v)
        }
    // values without an order (methods, names): no line or band between them, ±std as error bars
    const ordered = numeric
    const band = ordered
      ? [
          { type: 'scatter', mode: 'lines', x, y: mean.map((m, k) => m - std[k]), line: { width: 0, color }, hoverinfo: 'skip', showlegend: false, meta: 'band' },
          {
            type: 'scatter',
            mode: 'lines',
            x,
            y: mean.map((m, k) => m + std[k]),
            fill: 'tonexty',
            fillcolor: hexA(color, 0.18),
            line: { width: 0, color },
            hoverinfo: 'skip',
            showlegend: false,
            meta: 'band'
          }
        ]
      : []
    return [
      ...band,
      {
        type: 'scatter',
        mode: ordered ? 'lines+markers' : 'markers',
        ...(ordered ? {} : { error_y: { type: 'data', array: std, visible: true, color } }),
        x,
        y: mean,
        name,
        meta: 'mean',
        line: { color, width: 2 },
        marker: { color, size: 8 },
        customdata: pts.map((p, k) => [std[k], p.seeds]),
        hovertemplate: `${xKey} = %{x}<br>${metric} %{y:.4g} ± %{customdata[0]:.3g} (%{customdata[1]} seeds)<extra>${s.label}</extra>`
      },
      {
        type: 'scatter',
        mode: 'markers',
        x: seedX,
        y: seedY,
        name: `${s.label ? `${s.label} · ` : ''}seeds`,
        meta: 'seeds',
        marker: { color: hexA(color, 0.55), size: 5, symbol: 'circle-open' },
        hovertemplate: `${xKey} = %{x}<br>seed's final ${metric} %{y:.4g}<extra></extra>`,
        showlegend: i === 0
      }
    ]
  })
}
