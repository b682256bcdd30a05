// Compare: runs or groups overlaid, a TensorBoard-style smoothing slider (debiased EMA) over a
// faint raw curve, groups as mean ± std bands across seeds, a config table of only the keys
// that differ, a final-metrics table (last, min, max or at a chosen step) and a parallel-
// coordinates plot of hyper-parameters against the final score. Each run has ONE colour (its
// band's) in the line chart and the parallel coordinates. The picked runs are kept across views
// (in this module, for the page's life) and in the address (#compare?runs=1,2,3), so a reload or
// a shared link shows the same runs; the report names the runs it will hold before it is made.
import { useEffect, useMemo, useRef, useState } from 'react'
import { METHOD_LABELS } from '../../../shared/config.ts'
import type { RunInfo, RunMetrics, Series } from '../../../shared/contract.ts'
import { Plot } from '../components/Plot.tsx'
import { ReportControls } from '../components/RunTools.tsx'
import { SweepPanel } from '../components/SweepPanel.tsx'
import { debiasedEma, decimate, meanStd } from '../lib/smooth.ts'
import { evalKey, fmt } from '../lib/format.ts'
import { useApp } from '../state.tsx'
import { plotColors, useTheme } from '../theme.ts'

export interface CurveInput {
  name: string
  series: Series
  color: string
}

function hexA(hex: string, a: number): string {
  const n = parseInt(hex.slice(1), 16)
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`
}

/** Raw curves (faint) and smoothed curves, decimated to what a plot can show (~2 points a
 *  pixel column). Exported for the UI benchmark. */
export function rawTraces(curves: CurveInput[], buckets = 400): Record<string, unknown>[] {
  // sparse curves (evaluations every few hundred steps) show their points: the smoothed line
  // may end away from the last value, the points never do
  const sparse = curves.every((c) => c.series.steps.length <= SPARSE_POINTS)
  // one trace per colour, curves separated by null gaps: plotly's cost grows with the number of
  // traces, and the faint raw curves need neither hover nor legend
  const byColor = new Map<string, { x: Array<number | null>; y: Array<number | null> }>()
  for (const c of curves) {
    const d = decimate(c.series.steps, c.series.values, buckets)
    let acc = byColor.get(c.color)
    if (!acc) byColor.set(c.color, (acc = { x: [], y: [] }))
    if (acc.x.length) {
      acc.x.push(null)
      acc.y.push(null)
    }
    for (let i = 0; i < d.x.length; i++) {
      acc.x.push(d.x[i])
      acc.y.push(d.y[i])
    }
  }
  return [...byColor.entries()].map(([color, d]) => ({
    type: 'scatter',
    mode: sparse ? 'lines+markers' : 'lines',
    x: d.x,
    y: d.y,
    name: 'raw',
    connectgaps: false,
    line: { color: hexA(color, 0.25), width: 1 },
    ...(sparse ? { marker: { color: hexA(color, 0.6), size: 5 } } : {}),
    hoverinfo: 'skip',
    showlegend: false
  }))
}
/** Curves with at most this many points show them as markers under the smoothed line. */
const SPARSE_POINTS = 120

/** The picked runs, kept while the page lives (leaving Compare and coming back keeps them). */
let keptPicks: number[] | null = null

/** Runs named in the address: #compare?runs=1,2,3 */
function picksFromHash(): number[] | null {
  const m = /^#compare\?(?:.*&)?runs=([\d,]*)/.exec(location.hash)
  if (!m) return null
  const ids = m[1]
    .split(',')
    .map(Number)
    .filter((x) => Number.isInteger(x) && x > 0)
  return ids.length ? ids : null
}

function picksToHash(ids: number[]): void {
  if (!location.hash.startsWith('#compare')) return
  history.replaceState(null, '', `${location.pathname}${location.search}#compare${ids.length ? `?runs=${ids.join(',')}` : ''}`)
}
export function smoothedTraces(curves: CurveInput[], weight: number, points = 300): Record<string, unknown>[] {
  return curves.map((c) => {
    const sm = debiasedEma(c.series.values, weight)
    // a smoothed curve has no spikes to keep: an even stride (plus the last point) is enough
    const d = stride(c.series.steps, sm, points)
    return { type: 'scatter', mode: 'lines', x: d.x, y: d.y, name: c.name, line: { color: c.color, width: 2 } }
  })
}
function stride(x: ArrayLike<number>, y: ArrayLike<number>, points: number): { x: number[]; y: number[] } {
  const n = x.length
  if (n <= points) return { x: Array.from(x), y: Array.from(y) }
  const k = Math.ceil(n / points)
  const ox: number[] = []
  const oy: number[] = []
  for (let i = 0; i < n; i += k) {
    ox.push(x[i])
    oy.push(y[i])
  }
  if ((n - 1) % k !== 0) {
    ox.push(x[n - 1])
    oy.push(y[n - 1])
  }
  return { x: ox, y: oy }
}

function bandTraces(name: string, members: Series[], weight: number, color: string): Record<string, unknown>[] {
  const ms = meanStd(members.map((m) => ({ steps: m.steps, values: debiasedEma(m.values, weight) })))
  const up = ms.mean.map((m, i) => m + ms.std[i])
  const lo = ms.mean.map((m, i) => m - ms.std[i])
  return [
    { type: 'scatter', mode: 'lines', x: ms.steps, y: lo, line: { width: 0, color }, hoverinfo: 'skip', showlegend: false },
    { type: 'scatter', mode: 'lines', x: ms.steps, y: up, fill: 'tonexty', fillcolor: hexA(color, 0.18), line: { width: 0, color }, hoverinfo: 'skip', showlegend: false },
    { type: 'scatter', mode: 'lines', x: ms.steps, y: ms.mean, name, hovertemplate: `${name}<br>mean ± std over seeds<br>step %{x}: %{y:.4g}<extra></extra>`, line: { color, width: 2 } }
  ]
}

/** Runs whose configs are equal once seed, name and group are left out belong to one band. */
function bandKey(r: RunInfo): string {
  const f = flatten({ ...r.config, seed: undefined, name: undefined, group: undefined })
  return Object.keys(f)
    .sort()
    .filter((k) => f[k] !== undefined)
    .map((k) => `${k}=${f[k]}`)
    .join('\n')
}

function flatten(o: unknown, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  if (o && typeof o === 'object' && !Array.isArray(o)) {
    for (const [k, v] of Object.entries(o as Record<string, unknown>)) flatten(v, prefix ? `${prefix}.${k}` : k, out)
  } else out[prefix] = JSON.stringify(o)
  return out
}

type FinalMode = 'last' | 'min' | 'max' | 'at'

function finalValue(s: Series | undefined, mode: FinalMode, at: number): number | undefined {
  if (!s || !s.values.length) return undefined
  if (mode === 'last') return s.values[s.values.length - 1]
  if (mode === 'min') return Math.min(...s.values)
  if (mode === 'max') return Math.max(...s.values)
  let best = 0
  for (let i = 0; i < s.steps.length; i++) if (Math.abs(s.steps[i] - at) < Math.abs(s.steps[best] - at)) best = i
  return s.values[best]
}

export function CompareView(): React.JSX.Element {
  const s = useApp()
  const theme = useTheme()
  const colors = plotColors(theme).series
  const done = s.runs.filter((r) => r.status !== 'queued')
  // by default the two newest finished runs
  const defaults = (): number[] => [...done.filter((r) => r.status === 'completed'), ...done.filter((r) => r.status !== 'completed')].slice(0, 2).map((r) => r.id)
  const [picked, setPicked] = useState<number[]>(() => s.params.runIds ?? picksFromHash() ?? keptPicks ?? defaults())
  const chosen = useRef(picked.length > 0)
  useEffect(() => {
    // until the user picks, the newest runs (the list may arrive after the view)
    if (!chosen.current && !picked.length && done.length) setPicked(defaults())
  }, [done.length])
  useEffect(() => {
    if (picked.length) chosen.current = true
    keptPicks = picked
    picksToHash(picked)
  }, [picked])
  // a group handed over (New run's sweep): its runs join the picks as they are recorded
  const handedGroup = s.params.group
  useEffect(() => {
    if (!handedGroup) return
    const ids = s.runs.filter((r) => r.group === handedGroup).map((r) => r.id)
    setPicked((p) => {
      const add = ids.filter((id) => !p.includes(id))
      return add.length ? [...p, ...add] : p
    })
  }, [handedGroup, s.runs.map((r) => r.id).join(',')])
  const [byGroup, setByGroup] = useState(true)
  const [metric, setMetric] = useState<string>('')
  const [smoothing, setSmoothing] = useState(0.6)
  const [finalMode, setFinalMode] = useState<FinalMode>('last')
  const [atStep, setAtStep] = useState(0)
  const [metrics, setMetrics] = useState<Record<number, RunMetrics['series']>>({})

  const runs = s.runs.filter((r) => picked.includes(r.id))
  useEffect(() => {
    if (!picked.length) return
    let alive = true
    s.api
      .invoke('runs.metrics', { runIds: picked })
      .then((ms) => alive && setMetrics(Object.fromEntries(ms.map((m) => [m.runId, m.series]))))
      .catch(() => {})
    return () => {
      alive = false
    }
  }, [s.api, picked.join(','), s.runs.map((r) => `${r.id}:${r.status}`).join(',')])

  const keys = useMemo(() => [...new Set(Object.values(metrics).flatMap((m) => Object.keys(m)))].sort(), [metrics])
  const ek = evalKey(keys)
  const m = metric && keys.includes(metric) ? metric : (ek ?? keys[0] ?? 'loss')

  // a band holds the runs whose configs differ only by seed and name (the `group` field is
  // ignored: a reproduce group holds many methods and tasks, each its own band)
  const groups = useMemo(() => {
    const g = new Map<string, RunInfo[]>()
    for (const r of runs) {
      const k = byGroup ? bandKey(r) : `#${r.id}`
      if (!g.has(k)) g.set(k, [])
      g.get(k)!.push(r)
    }
    const entries = [...g.values()]
    const dsName = (r: RunInfo): string => s.datasets.find((d) => d.id === r.datasetId)?.name ?? r.config.dataset
    const base = (r: RunInfo): string => `${METHOD_LABELS[r.method]} · ${dsName(r)}`
    // bands that share method and dataset are told apart by the config keys that differ
    const labels = entries.map((rs) => {
      const same = entries.filter((o) => base(o[0]) === base(rs[0]))
      if (same.length < 2) return base(rs[0])
      const flat = same.map((o) => flatten({ ...o[0].config, seed: undefined, name: undefined, group: undefined }))
      const mine = flatten({ ...rs[0].config, seed: undefined, name: undefined, group: undefined })
      const keys = Object.keys(mine)
        .filter((k) => new Set(flat.map((f) => f[k])).size > 1)
        .slice(0, 2)
      return `${base(rs[0])} · ${keys.map((k) => `${k.split('.').pop()}=${(mine[k] ?? '–').replace(/^"|"$/g, '')}`).join(', ')}`
    })
    return entries.map((rs, i) => [rs.length > 1 ? `${labels[i]} (n=${rs.length})` : labels[i], rs] as [string, RunInfo[]])
  }, [runs, byGroup, s.datasets])

  // one colour per run, its band's, in every chart
  const runColor = useMemo(() => {
    const c = new Map<number, string>()
    groups.forEach(([, rs], gi) => rs.forEach((r) => c.set(r.id, colors[gi % colors.length])))
    return c
  }, [groups, theme])
  const rawData = useMemo(() => {
    const curves: CurveInput[] = []
    groups.forEach(([, rs]) => rs.forEach((r) => metrics[r.id]?.[m] && curves.push({ name: `#${r.id}`, series: metrics[r.id][m], color: runColor.get(r.id)! })))
    return rawTraces(curves)
  }, [groups, metrics, m, runColor])
  const smoothData = useMemo(() => {
    const out: Record<string, unknown>[] = []
    groups.forEach(([name, rs], gi) => {
      const color = colors[gi % colors.length]
      const members = rs.map((r) => metrics[r.id]?.[m]).filter((x): x is Series => !!x)
      if (!members.length) return
      if (rs.length > 1) out.push(...bandTraces(name, members, smoothing, color))
      else out.push(...smoothedTraces([{ name: `#${rs[0].id} ${METHOD_LABELS[rs[0].method]} seed ${rs[0].seed}`, series: members[0], color }], smoothing))
    })
    return out
  }, [groups, metrics, m, smoothing, theme])
  const plotData = useMemo(() => [...rawData, ...smoothData], [rawData, smoothData])

  const diff = useMemo(() => {
    const flat = runs.map((r) => flatten({ ...r.config, seed: r.seed, group: r.group ?? undefined, name: undefined }))
    const all = [...new Set(flat.flatMap((f) => Object.keys(f)))].sort()
    return all.filter((k) => new Set(flat.map((f) => f[k])).size > 1).map((k) => ({ key: k, values: flat.map((f) => f[k]) }))
  }, [runs])

  const finalKeys = useMemo(
    () => ['loss', ...(ek ? [ek] : []), 'ess_fraction', 'clamp_fraction', ...keys.filter((k) => k === 'p_right')].filter((k, i, a) => a.indexOf(k) === i && keys.includes(k)),
    [keys, ek]
  )

  const parcoords = useMemo(() => {
    const numeric = diff.filter((d) => d.key !== 'seed' && d.key !== 'name' && d.values.every((v) => v !== undefined))
    const dims = numeric.map((d) => {
      const nums = d.values.map((v) => Number(v))
      if (nums.every((x) => Number.isFinite(x))) return { label: d.key, values: nums, ticks: null as string[] | null }
      const cats = [...new Set(d.values.map((v) => String(v)))]
      return { label: d.key, values: d.values.map((v) => cats.indexOf(String(v))), ticks: cats.map((c) => c.replace(/"/g, '')) }
    })
    const score = ek ? runs.map((r) => finalValue(metrics[r.id]?.[ek], 'last', 0) ?? NaN) : []
    return { dims, score, scoreLabel: ek ?? '' }
  }, [diff, runs, metrics, ek])

  // a sweep: every picked run in one group, and their configs differ (more than one band)
  const sweepGroup = useMemo(() => {
    const g = runs[0]?.group
    if (!g || runs.length < 2 || !runs.every((r) => r.group === g)) return null
    return new Set(runs.map(bandKey)).size > 1 ? g : null
  }, [runs])
  const sweepRuns = sweepGroup ? s.runs.filter((r) => r.group === sweepGroup) : []

  const toggle = (id: number): void => setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p, id]))
  const allGroups = [...new Set(done.map((r) => r.group).filter((g): g is string => !!g))]
  const groupIds = (g: string): number[] => done.filter((r) => r.group === g).map((r) => r.id)
  const groupPicked = (g: string): boolean => groupIds(g).every((id) => picked.includes(id))
  // a chip adds its group's runs to the picks, or takes them out when all are picked
  const toggleGroup = (g: string): void => {
    const ids = groupIds(g)
    setPicked((p) => (ids.every((id) => p.includes(id)) ? p.filter((x) => !ids.includes(x)) : [...p, ...ids.filter((id) => !p.includes(id))]))
  }
  const runLabel = (r: RunInfo): string => `#${r.id} ${METHOD_LABELS[r.method]} · s${r.seed}`

  if (!done.length) {
    return (
      <section className="view" aria-labelledby="cmp-title">
        <header className="view-head">
          <h1 id="cmp-title">Compare</h1>
        </header>
        <div className="panel empty-state" data-testid="cmp-empty">
          <h3>No runs to compare yet</h3>
          <p className="muted">
            Compare overlays the curves of finished runs, shows the config keys that differ and the final metrics. Start a run (or a group of seeds) first; runs started from the command line
            (iwsft run, iwsft reproduce) appear here too.
          </p>
          <button className="primary" onClick={() => s.go('new-run')}>
            New run…
          </button>
        </div>
      </section>
    )
  }

  return (
    <section className="view" aria-labelledby="cmp-title">
      <header className="view-head row gap wrap">
        <h1 id="cmp-title" className="grow">
          Compare
        </h1>
        {/* the runs named below (a picked run deleted since is left out) */}
        <ReportControls runIds={runs.map((r) => r.id)} compact />
      </header>
      <p className="small muted report-runs" data-testid="cmp-report-runs">
        {runs.length ? `The report will hold ${runs.length} run${runs.length > 1 ? 's' : ''}: ${runs.map(runLabel).join(', ')}` : 'Pick runs on the left: the report holds the picked runs.'}
      </p>
      <div className="grid-1-3">
        <div className="panel scroll-y picker" data-testid="cmp-picker">
          <h3>Runs</h3>
          {allGroups.length > 0 && (
            <div className="row gap wrap small">
              {allGroups.map((g) => (
                <button
                  key={g}
                  className={`chip${groupPicked(g) ? ' on' : ''}`}
                  aria-pressed={groupPicked(g)}
                  onClick={() => toggleGroup(g)}
                  title={groupPicked(g) ? 'take this group’s runs out' : 'add this group’s runs'}
                  data-testid={`cmp-group-${g}`}
                >
                  {g}
                </button>
              ))}
            </div>
          )}
          <ul className="plain-list">
            {done.map((r) => (
              <li key={r.id}>
                <label className="inline">
                  <input type="checkbox" checked={picked.includes(r.id)} onChange={() => toggle(r.id)} data-testid={`cmp-run-${r.id}`} />
                  <span className="swatch" style={{ background: picked.includes(r.id) ? runColor.get(r.id) : 'transparent' }} aria-hidden />
                  <span title={`${r.name}${r.group ? `\ngroup: ${r.group}` : ''}`}>
                    #{r.id} {METHOD_LABELS[r.method]} · seed {r.seed}
                    {r.status !== 'completed' ? <span className="muted small"> · {r.status}</span> : null}
                  </span>
                </label>
              </li>
            ))}
          </ul>
        </div>
        <div>
          {sweepGroup && (
            <SweepPanel
              api={s.api}
              group={sweepGroup}
              metrics={keys}
              refresh={sweepRuns.map((r) => `${r.id}:${r.status}`).join(',')}
              note={sweepRuns.length > runs.length ? `The table holds all ${sweepRuns.length} runs of the group (${runs.length} picked).` : undefined}
              onInspect={(id) => s.go('inspector', { runIds: [id] })}
            />
          )}
          <div className="panel">
            <div className="row gap wrap controls">
              <label className="inline">
                <span className="muted">metric</span>
                <select value={m} onChange={(e) => setMetric(e.target.value)} data-testid="cmp-metric">
                  {keys.map((k) => (
                    <option key={k}>{k}</option>
                  ))}
                </select>
              </label>
              <label className="inline grow">
                <span className="muted">smoothing</span>
                <input
                  type="range"
                  min={0}
                  max={0.99}
                  step={0.01}
                  value={smoothing}
                  onChange={(e) => setSmoothing(Number(e.target.value))}
                  aria-label="smoothing"
                  data-testid="cmp-smoothing"
                  className="grow"
                />
                <span className="mono">{smoothing.toFixed(2)}</span>
              </label>
              <label className="inline">
                <input type="checkbox" checked={byGroup} onChange={(e) => setByGroup(e.target.checked)} /> groups as mean ± std
              </label>
            </div>
            <Plot
              data={plotData}
              height={340}
              layout={{
                xaxis: { title: { text: 'step' } },
                yaxis: { title: { text: m } },
                legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom' },
                margin: { l: 56, r: 16, t: 40, b: 44 }
              }}
              testId="cmp-plot"
              ariaLabel={`${m} over steps`}
            />
          </div>
          <div className="cmp-tables">
            <div className="panel">
              <div className="row gap">
                <h3>Final metrics</h3>
                <select value={finalMode} onChange={(e) => setFinalMode(e.target.value as FinalMode)} aria-label="final value" data-testid="cmp-final-mode">
                  <option value="last">last</option>
                  <option value="min">min</option>
                  <option value="max">max</option>
                  <option value="at">at step</option>
                </select>
                {finalMode === 'at' && <input className="narrow" type="number" value={atStep} onChange={(e) => setAtStep(Number(e.target.value))} aria-label="at step" />}
              </div>
              <div className="scroll-x">
                <table className="table compact" data-testid="cmp-final">
                  <thead>
                    <tr>
                      <th>run</th>
                      {finalKeys.map((k) => (
                        <th key={k} className="num">
                          {k}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {runs.map((r) => (
                      <tr key={r.id}>
                        <td className="nowrap" title={r.name}>
                          #{r.id} {METHOD_LABELS[r.method]} · s{r.seed}
                        </td>
                        {finalKeys.map((k) => (
                          <td key={k} className="num" data-testid={`final-${r.id}-${k}`}>
                            {fmt(finalValue(metrics[r.id]?.[k], finalMode, atStep), 5)}
                          </td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </div>
            <div className="panel">
              <h3>Config: keys that differ</h3>
              {diff.length ? (
                <div className="scroll-x">
                  <table className="table compact diff" data-testid="cmp-diff">
                    <thead>
                      <tr>
                        <th>key</th>
                        {runs.map((r) => (
                          <th key={r.id}>#{r.id}</th>
                        ))}
                      </tr>
                    </thead>
                    <tbody>
                      {diff.map((d) => (
                        <tr key={d.key}>
                          <td className="mono">{d.key}</td>
                          {d.values.map((v, i) => (
                            <td key={i} className="mono" title={v === undefined ? undefined : v.replace(/^"|"$/g, '')}>
                              {v === undefined ? '–' : v.replace(/^"|"$/g, '')}
                            </td>
                          ))}
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              ) : (
                <p className="muted">{runs.length < 2 ? 'Pick two or more runs.' : 'The configs are identical.'}</p>
              )}
            </div>
          </div>
          <div className="panel">
            <h3>Hyper-parameters against the final {parcoords.scoreLabel || 'score'}</h3>
            <ParallelCoordinates
              dims={parcoords.dims}
              score={parcoords.score}
              scoreLabel={parcoords.scoreLabel}
              runLabels={runs.map((r) => `#${r.id}`)}
              runColors={runs.map((r) => runColor.get(r.id) ?? colors[0])}
            />
          </div>
        </div>
      </div>
    </section>
  )
}

interface Dim {
  label: string
  values: number[]
  ticks: string[] | null
}

/** Parallel coordinates in SVG (plotly's parcoords needs WebGL and eval, which the CSP forbids). */
function ParallelCoordinates({
  dims,
  score,
  scoreLabel,
  runLabels,
  runColors
}: {
  dims: Dim[]
  score: number[]
  scoreLabel: string
  runLabels: string[]
  runColors: string[]
}): React.JSX.Element {
  const c = plotColors(useTheme())
  const all: Dim[] = [...dims, ...(score.length ? [{ label: `final ${scoreLabel}`, values: score, ticks: null }] : [])]
  if (all.length < 2 || !runLabels.length) return <p className="muted">Pick runs whose hyper-parameters differ to see this plot.</p>
  const W = 900
  const H = 240
  const pad = { l: 60, r: 60, t: 44, b: 24 }
  const x = (i: number): number => pad.l + (i * (W - pad.l - pad.r)) / (all.length - 1)
  const ranges = all.map((d) => {
    const f = d.values.filter(Number.isFinite)
    const lo = Math.min(...f)
    const hi = Math.max(...f)
    return hi > lo ? [lo, hi] : [lo - 0.5, hi + 0.5]
  })
  const y = (j: number, v: number): number => pad.t + (1 - (v - ranges[j][0]) / (ranges[j][1] - ranges[j][0])) * (H - pad.t - pad.b)
  // the run's colour in the line chart (the score has its own axis)
  const colorOf = (k: number): string => runColors[k]
  const label = (j: number, v: number): string => (all[j].ticks ? (all[j].ticks![Math.round(v)] ?? '') : fmt(v, 3))
  return (
    <svg viewBox={`0 0 ${W} ${H}`} className="parcoords" role="img" aria-label="parallel coordinates of hyper-parameters and final score" data-testid="cmp-parcoords">
      {all.map((d, j) => (
        <g key={d.label}>
          <line x1={x(j)} x2={x(j)} y1={pad.t} y2={H - pad.b} stroke={c.muted} strokeWidth={1} />
          <text x={x(j)} y={pad.t - 24} textAnchor="middle" fill={c.text} fontSize={11}>
            {d.label}
          </text>
          <text x={x(j)} y={pad.t - 8} textAnchor="middle" fill={c.muted} fontSize={10}>
            {label(j, ranges[j][1])}
          </text>
          <text x={x(j)} y={H - pad.b + 14} textAnchor="middle" fill={c.muted} fontSize={10}>
            {label(j, ranges[j][0])}
          </text>
        </g>
      ))}
      {runLabels.map((rl, k) => (
        <polyline
          key={rl}
          fill="none"
          stroke={colorOf(k)}
          strokeWidth={2}
          opacity={0.85}
          points={all.map((d, j) => `${x(j)},${y(j, Number.isFinite(d.values[k]) ? d.values[k] : ranges[j][0])}`).join(' ')}
        >
          <title>{`${rl}: ${all.map((d, j) => `${d.label}=${label(j, d.values[k])}`).join(', ')}`}</title>
        </polyline>
      ))}
    </svg>
  )
}
