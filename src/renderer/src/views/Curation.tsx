// Curation: the score histogram with the threshold / top-k / percentile-bin cutoffs drawn on
// it (drag the lines or the sliders, or type), live counts of the curated set and of each bin
// with its multiplicity (paper Algorithm 2), a virtualized trace table, a trace viewer, and
// named presets.
import { useEffect, useMemo, useState } from 'react'
import { CurationSchema, defaultConfig, domainOf, type Curation } from '../../../shared/config.ts'
import { curate, percentileSorted, sortedCopy } from '../../../shared/curation.ts'
import { histogram } from '../../../shared/weight-stats.ts'
import { Plot } from '../components/Plot.tsx'
import { TraceViewer } from '../components/TraceViewer.tsx'
import { VirtualTable, type Column } from '../components/VirtualTable.tsx'
import { usePresets, useColumns } from '../hooks.ts'
import { fmt, fmtInt, pct } from '../lib/format.ts'
import { useApp } from '../state.tsx'
import { binColor, useTheme } from '../theme.ts'

type SortKey = 'index' | 'score' | 'length' | 'm'

/** The percentile p (0..100) at which `v` sits in the sorted scores. */
function rankPercent(sorted: Float64Array, v: number): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (sorted[mid] < v) lo = mid + 1
    else hi = mid
  }
  return sorted.length > 1 ? (100 * lo) / (sorted.length - 1) : 0
}

export function CurationView(): React.JSX.Element {
  const s = useApp()
  const theme = useTheme()
  const [datasetId, setDatasetId] = useState<number | undefined>(s.params.datasetId ?? s.datasets[0]?.id)
  useEffect(() => {
    if (datasetId === undefined && s.datasets[0]) setDatasetId(s.datasets[0].id)
  }, [s.datasets, datasetId])
  const ds = s.datasets.find((d) => d.id === datasetId)
  const { cols, error } = useColumns(s.api, datasetId, ds?.hash)
  const [curation, setCuration] = useState<Curation>(() => defaultConfig(domainOf(ds ?? 'bandit')).curation)
  useEffect(() => setCuration(defaultConfig(domainOf(ds ?? 'bandit')).curation), [ds?.id])
  const [presetVersion, setPresetVersion] = useState(0)
  const presets = usePresets(s.api, datasetId, presetVersion)
  const [presetName, setPresetName] = useState('')
  const [presetMsg, setPresetMsg] = useState<{ ok: boolean; text: string } | null>(null)

  const sorted = useMemo(() => (cols ? sortedCopy(cols.scores) : null), [cols])
  const valid = CurationSchema.safeParse(curation)
  const result = useMemo(() => (cols && sorted && valid.success ? curate(cols.scores, valid.data, sorted) : null), [cols, sorted, curation])

  // table state
  const [sortKey, setSortKey] = useState<SortKey>('score')
  const [sortDir, setSortDir] = useState<'asc' | 'desc'>('desc')
  const [fScoreMin, setFScoreMin] = useState('')
  const [fScoreMax, setFScoreMax] = useState('')
  const [fLenMin, setFLenMin] = useState('')
  const [fLenMax, setFLenMax] = useState('')
  const [fBin, setFBin] = useState('any')
  const [fMeta, setFMeta] = useState('')
  const [sel, setSel] = useState<number | null>(null)
  const [opened, setOpened] = useState<number | null>(null)

  const rows = useMemo(() => {
    if (!cols || !result) return new Int32Array(0)
    const n = cols.scores.length
    const smin = fScoreMin === '' ? -Infinity : Number(fScoreMin)
    const smax = fScoreMax === '' ? Infinity : Number(fScoreMax)
    const lmin = fLenMin === '' ? -Infinity : Number(fLenMin)
    const lmax = fLenMax === '' ? Infinity : Number(fLenMax)
    const needle = fMeta.trim().toLowerCase()
    const m = result.multiplicity
    const out = new Int32Array(n)
    let k = 0
    for (let i = 0; i < n; i++) {
      const sc = cols.scores[i]
      if (sc < smin || sc > smax) continue
      const len = cols.lengths[i]
      if (len < lmin || len > lmax) continue
      if (fBin === 'kept' && m[i] === 0) continue
      if (fBin === 'discarded' && m[i] !== 0) continue
      if (fBin.startsWith('m') && m[i] !== Number(fBin.slice(1))) continue
      if (needle && !cols.meta[i].toLowerCase().includes(needle) && !cols.ids[i].toLowerCase().includes(needle)) continue
      out[k++] = i
    }
    const idx = out.slice(0, k)
    const sign = sortDir === 'asc' ? 1 : -1
    const key = (i: number): number => (sortKey === 'score' ? cols.scores[i] : sortKey === 'length' ? cols.lengths[i] : sortKey === 'm' ? m[i] : i)
    if (sortKey !== 'index' || sortDir === 'desc') idx.sort((a, b) => sign * (key(a) - key(b)) || a - b)
    return idx
  }, [cols, result, sortKey, sortDir, fScoreMin, fScoreMax, fLenMin, fLenMax, fBin, fMeta])

  const hist = useMemo(() => {
    if (!cols) return null
    const h = histogram(cols.scores, 50)
    return { centers: h.counts.map((_, i) => (h.edges[i] + h.edges[i + 1]) / 2), counts: h.counts, width: h.edges[1] - h.edges[0], lo: h.edges[0], hi: h.edges[h.edges.length - 1] }
  }, [cols])

  const thresholds = result?.thresholds ?? []
  const plotData = useMemo(
    () =>
      hist
        ? [
            {
              type: 'bar',
              x: hist.centers,
              y: hist.counts,
              width: hist.width,
              name: 'traces',
              marker: { color: theme === 'dark' ? '#4a7fb5' : '#8fb6dc' },
              hovertemplate: 'score %{x:.3g}: %{y} traces<extra></extra>'
            }
          ]
        : [],
    [hist, theme]
  )
  const plotLayout = useMemo(
    () => ({
      // a fixed range: plotly's react redraws only the shapes when just they change, and then
      // places them on a default [-1, 6] axis unless the range is given
      xaxis: { title: { text: 'score S(τ)' }, range: hist ? [hist.lo - hist.width, hist.hi + hist.width] : undefined, autorange: !hist, fixedrange: true },
      yaxis: { title: { text: 'traces' }, range: hist ? [0, Math.max(...hist.counts) * 1.08] : undefined, autorange: !hist, fixedrange: true },
      bargap: 0.04,
      margin: { l: 50, r: 16, t: 24, b: 40 },
      shapes: thresholds.map((t, j) => ({ type: 'line', xref: 'x', yref: 'paper', x0: t, x1: t, y0: 0, y1: 1, line: { color: binColor(j + 1, theme), width: 2.5 } })),
      // a label sits right of its line, or left of it when the line is in the right part of
      // the axis, so it never runs past the plot's edge
      annotations: thresholds.map((t, j) => ({
        x: t,
        y: 1 - 0.09 * j,
        yref: 'paper',
        xanchor: hist && t > hist.lo + 0.6 * (hist.hi - hist.lo) ? 'right' : 'left',
        xshift: hist && t > hist.lo + 0.6 * (hist.hi - hist.lo) ? -4 : 4,
        yanchor: 'top',
        text: curation.mode === 'quality_bins' ? `a${j + 1}=${fmt(t, 3)}` : fmt(t, 3),
        showarrow: false,
        font: { size: 11, color: binColor(j + 1, theme) }
      }))
    }),
    [thresholds.join(','), theme, curation.mode, hist]
  )

  const onRelayout = (e: Record<string, number>): void => {
    if (!sorted) return
    for (const [k, v] of Object.entries(e)) {
      const m = /^shapes\[(\d+)\]\.x0$/.exec(k)
      if (!m) continue
      const j = Number(m[1])
      if (curation.mode === 'threshold') setCuration({ mode: 'threshold', threshold: Number(v.toPrecision(4)) })
      else if (curation.mode === 'top_k') setCuration({ mode: 'top_k', percent: Math.min(100, Math.max(0.1, Number((100 - rankPercent(sorted, v)).toFixed(1)))) })
      else if (curation.mode === 'quality_bins') {
        const c = [...curation.cutoffs]
        c[j] = Math.min(100, Math.max(0, Number(rankPercent(sorted, v).toFixed(1))))
        setCuration({ mode: 'quality_bins', cutoffs: c })
      }
    }
  }

  const columns: Column[] = useMemo(
    () =>
      !cols || !result
        ? []
        : [
            { key: 'index', label: '#', width: 70, align: 'right', sortable: true, render: (r) => rows[r] },
            { key: 'id', label: 'id', width: '1fr', render: (r) => <span className="mono">{cols.ids[rows[r]]}</span> },
            { key: 'score', label: 'score', width: 90, align: 'right', sortable: true, render: (r) => fmt(cols.scores[rows[r]]) },
            { key: 'length', label: 'length', width: 70, align: 'right', sortable: true, render: (r) => cols.lengths[rows[r]] },
            {
              key: 'm',
              label: 'bin m',
              width: 64,
              align: 'right',
              sortable: true,
              render: (r) => {
                const m = result.multiplicity[rows[r]]
                return (
                  <span className="pill" style={{ background: binColor(m, theme) }}>
                    {m}
                  </span>
                )
              }
            },
            { key: 'meta', label: 'metadata', width: '2fr', render: (r) => <span className="muted ellipsis">{cols.meta[rows[r]]}</span> }
          ],
    [cols, result, rows, theme]
  )

  const savePreset = async (): Promise<void> => {
    if (!datasetId || !valid.success) return
    setPresetMsg(null)
    try {
      const p = await s.api.invoke('presets.save', { datasetId, name: presetName, curation: valid.data })
      setPresetMsg({ ok: true, text: `saved "${p.name}"` })
      setPresetVersion((v) => v + 1)
    } catch (e) {
      setPresetMsg({ ok: false, text: (e as Error).message })
    }
  }

  const n = cols?.scores.length ?? 0
  const curationError = valid.success ? null : valid.error.issues.map((i) => `${i.path.join('.') || 'curation'}: ${i.message}`).join('; ')

  return (
    <section className="view" aria-labelledby="cur-title">
      <header className="view-head row gap wrap">
        <h1 id="cur-title">Curation</h1>
        <label className="inline">
          <span className="muted">dataset</span>
          <select value={datasetId ?? ''} onChange={(e) => setDatasetId(Number(e.target.value))} data-testid="curation-dataset">
            {s.datasets.map((d) => (
              <option key={d.id} value={d.id}>
                {d.name} (#{d.id})
              </option>
            ))}
          </select>
        </label>
        {error && <span className="error-text">{error}</span>}
      </header>
      <div className="grid-2-1">
        <div className="panel">
          <div className="row gap wrap controls">
            <label className="inline">
              <span className="muted">rule</span>
              <select
                value={curation.mode}
                data-testid="curation-mode"
                onChange={(e) => {
                  const mode = e.target.value as Curation['mode']
                  const mid = sorted && sorted.length ? percentileSorted(sorted, 50) : 0.5
                  setCuration(
                    mode === 'threshold'
                      ? { mode, threshold: Number(mid.toPrecision(4)) }
                      : mode === 'top_k'
                        ? { mode, percent: 10 }
                        : mode === 'quality_bins'
                          ? { mode, cutoffs: [90, 95, 98] }
                          : { mode: 'all' }
                  )
                }}
              >
                <option value="threshold">threshold: S(τ) &gt; t</option>
                <option value="top_k">top k%</option>
                <option value="quality_bins">quality bins (SFT(Q))</option>
                <option value="all">all (no filter)</option>
              </select>
            </label>
            <CutoffControls curation={curation} setCuration={setCuration} lo={ds?.scoreMin ?? 0} hi={ds?.scoreMax ?? 1} />
          </div>
          {curationError && (
            <p className="error-text" role="alert" data-testid="curation-error">
              {curationError}
            </p>
          )}
          <Plot
            data={plotData}
            layout={plotLayout}
            height={260}
            config={{ edits: { shapePosition: true } }}
            events={{ plotly_relayout: onRelayout }}
            testId="curation-histogram"
            ariaLabel="score histogram with cutoffs"
          />
          <p className="muted small">Drag a cutoff line on the plot, move a slider, or type a value. Counts update as you drag the sliders.</p>
        </div>
        <div className="panel">
          <h2>Curated set</h2>
          {result ? (
            <div data-testid="curation-counts">
              <div className="kpis">
                <div className="kpi">
                  <div className="kpi-value" data-testid="kept-count">
                    {fmtInt(result.kept)}
                  </div>
                  <div className="kpi-label">traces kept |D+| · {pct(n ? result.kept / n : 0)}</div>
                </div>
                <div className="kpi">
                  <div className="kpi-value" data-testid="total-count">
                    {fmtInt(result.total)}
                  </div>
                  <div className="kpi-label">sampled mass Σ m(τ)</div>
                </div>
              </div>
              <table className="table compact" aria-label="traces per bin">
                <thead>
                  <tr>
                    <th>bin</th>
                    <th className="num">threshold</th>
                    <th className="num" title="multiplicity m(τ)">
                      m
                    </th>
                    <th className="num">traces</th>
                  </tr>
                </thead>
                <tbody>
                  <tr>
                    <td className="nowrap">
                      <span className="pill" style={{ background: binColor(0, theme) }}>
                        0
                      </span>{' '}
                      discarded
                    </td>
                    <td className="num">–</td>
                    <td className="num">0</td>
                    <td className="num" data-testid="bin-0">
                      {fmtInt(n - result.kept)}
                    </td>
                  </tr>
                  {result.perBin.map((c, j) => (
                    <tr key={j}>
                      <td className="nowrap">
                        <span className="pill" style={{ background: binColor(j + 1, theme) }}>
                          {j + 1}
                        </span>{' '}
                        {curation.mode === 'quality_bins' ? `≥ a${j + 1} (p${curation.cutoffs[j]})` : 'kept'}
                      </td>
                      <td className="num">{result.thresholds[j] !== undefined ? fmt(result.thresholds[j]) : '–'}</td>
                      <td className="num">×{j + 1}</td>
                      <td className="num" data-testid={`bin-${j + 1}`}>
                        {fmtInt(c)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : (
            <p className="muted">{cols ? 'fix the cutoffs to see counts' : 'loading…'}</p>
          )}
          <h3>Presets</h3>
          <div className="row gap">
            <input aria-label="preset name" placeholder="preset name" value={presetName} onChange={(e) => setPresetName(e.target.value)} maxLength={200} data-testid="preset-name" />
            <button onClick={() => void savePreset()} disabled={!presetName.trim() || !valid.success} data-testid="preset-save">
              Save preset
            </button>
          </div>
          {presetMsg && <p className={presetMsg.ok ? 'ok-text small' : 'error-text small'}>{presetMsg.text}</p>}
          <ul className="plain-list">
            {presets.map((p) => (
              <li key={p.id} className="row gap">
                <button className="linklike" onClick={() => setCuration(p.curation)} title="load this curation">
                  {p.name}
                </button>
                <span className="muted small">{describeCuration(p.curation)}</span>
              </li>
            ))}
          </ul>
        </div>
      </div>
      <div className="panel">
        <div className="row gap wrap controls">
          <strong data-testid="table-count">
            {fmtInt(rows.length)} of {fmtInt(n)} traces
          </strong>
          <label className="inline">
            score ≥ <input className="narrow" type="number" value={fScoreMin} onChange={(e) => setFScoreMin(e.target.value)} aria-label="score at least" />
          </label>
          <label className="inline">
            ≤ <input className="narrow" type="number" value={fScoreMax} onChange={(e) => setFScoreMax(e.target.value)} aria-label="score at most" />
          </label>
          <label className="inline">
            length ≥ <input className="narrow" type="number" value={fLenMin} onChange={(e) => setFLenMin(e.target.value)} aria-label="length at least" />
          </label>
          <label className="inline">
            ≤ <input className="narrow" type="number" value={fLenMax} onChange={(e) => setFLenMax(e.target.value)} aria-label="length at most" />
          </label>
          <label className="inline">
            bin
            <select value={fBin} onChange={(e) => setFBin(e.target.value)} aria-label="bin filter" data-testid="bin-filter">
              <option value="any">any</option>
              <option value="kept">kept (m ≥ 1)</option>
              <option value="discarded">discarded (m = 0)</option>
              {(result?.perBin ?? []).map((_, j) => (
                <option key={j} value={`m${j + 1}`}>
                  m = {j + 1}
                </option>
              ))}
            </select>
          </label>
          <input placeholder="id or metadata contains…" value={fMeta} onChange={(e) => setFMeta(e.target.value)} aria-label="metadata filter" />
        </div>
        <div className="table-and-viewer">
          <VirtualTable
            label="traces"
            testId="trace-table"
            rowCount={rows.length}
            columns={columns}
            height={300}
            sortKey={sortKey}
            sortDir={sortDir}
            onSort={(k) => {
              if (k === sortKey) setSortDir((d) => (d === 'asc' ? 'desc' : 'asc'))
              else {
                setSortKey(k as SortKey)
                setSortDir('desc')
              }
            }}
            selected={sel}
            onSelect={(r) => {
              setSel(r)
              setOpened(rows[r])
            }}
            onOpen={(r) => setOpened(rows[r])}
          />
          <div className="viewer-pane">{datasetId && opened !== null ? <TraceViewer datasetId={datasetId} index={opened} /> : <p className="muted">Select a trace to view it.</p>}</div>
        </div>
      </div>
    </section>
  )
}

export function describeCuration(c: Curation): string {
  if (c.mode === 'threshold') return `S > ${c.threshold}`
  if (c.mode === 'top_k') return `top ${c.percent}%`
  if (c.mode === 'quality_bins') return `bins at p${c.cutoffs.join(', p')}`
  return 'all traces'
}

function CutoffControls({ curation, setCuration, lo, hi }: { curation: Curation; setCuration(c: Curation): void; lo: number; hi: number }): React.JSX.Element | null {
  if (curation.mode === 'threshold') {
    const step = (hi - lo) / 1000 || 0.001
    return (
      <span className="row gap">
        <label className="inline">
          t =
          <input
            className="narrow"
            type="number"
            step="any"
            value={curation.threshold}
            onChange={(e) => setCuration({ mode: 'threshold', threshold: Number(e.target.value) })}
            aria-label="threshold"
            data-testid="threshold-input"
          />
        </label>
        <input
          type="range"
          min={lo}
          max={hi}
          step={step}
          value={curation.threshold}
          onChange={(e) => setCuration({ mode: 'threshold', threshold: Number(e.target.value) })}
          aria-label="threshold slider"
        />
      </span>
    )
  }
  if (curation.mode === 'top_k') {
    return (
      <span className="row gap">
        <label className="inline">
          k =
          <input
            className="narrow"
            type="number"
            step="any"
            min={0.1}
            max={100}
            value={curation.percent}
            onChange={(e) => setCuration({ mode: 'top_k', percent: Number(e.target.value) })}
            aria-label="top k percent"
            data-testid="topk-input"
          />
          %
        </label>
        <input
          type="range"
          min={0.5}
          max={100}
          step={0.5}
          value={curation.percent}
          onChange={(e) => setCuration({ mode: 'top_k', percent: Number(e.target.value) })}
          aria-label="top k slider"
        />
      </span>
    )
  }
  if (curation.mode === 'quality_bins') {
    const set = (j: number, v: number): void => {
      const c = [...curation.cutoffs]
      c[j] = v
      setCuration({ mode: 'quality_bins', cutoffs: c })
    }
    return (
      <span className="row gap wrap">
        {curation.cutoffs.map((c, j) => (
          <span key={j} className="cutoff">
            <label className="inline">
              c{j + 1} = p
              <input
                className="narrow"
                type="number"
                step="any"
                min={0}
                max={100}
                value={c}
                onChange={(e) => set(j, Number(e.target.value))}
                aria-label={`cutoff ${j + 1} percentile`}
                data-testid={`cutoff-${j}`}
              />
            </label>
            <input type="range" min={0} max={100} step={0.5} value={c} onChange={(e) => set(j, Number(e.target.value))} aria-label={`cutoff ${j + 1} slider`} />
          </span>
        ))}
        <button
          className="ghost"
          onClick={() => setCuration({ mode: 'quality_bins', cutoffs: [...curation.cutoffs, Math.min(99.5, (curation.cutoffs.at(-1) ?? 90) + 1)] })}
          disabled={curation.cutoffs.length >= 5}
          aria-label="add a cutoff"
        >
          +
        </button>
        <button
          className="ghost"
          onClick={() => setCuration({ mode: 'quality_bins', cutoffs: curation.cutoffs.slice(0, -1) })}
          disabled={curation.cutoffs.length <= 1}
          aria-label="remove the last cutoff"
        >
          −
        </button>
      </span>
    )
  }
  return null
}
