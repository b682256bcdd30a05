// Weight inspector: a run and one of its saved steps (slider). Histogram of log w raw against
// the clamped weights (log-scale toggle); ESS, ESS/N, clamp fraction, min / median / max;
// weight against score coloured by quality bin; the most and least weighted traces; the
// distribution over all saved steps as a heatmap; a second run overlaid at the same step.
// Each stage of the weight is labelled on its own (paper §4, eq. 9): log w raw = k · Σ_t ρ_t
// (k = temp/|τ| for "mean", temp for "sum"), then the clamp on w, then, when the run normalises,
// the self-normalisation over the set — the clamped figures never include the normalisation.
// Runs whose method does not weight traces (SFT, SFT(Q), BC) say that their weights were not in
// the loss: their snapshots show what iw-SFT would have weighted. Below, each stage of the weight
// at the snapshot behind a switch (WeightStages: raw, clamped, as the loss used it under the
// sampling mass, the step's batch) and the run's weight diagnostics (runs.diagnostics), whose
// warnings (weights collapsed, or ≈ 1) head the view.
import { useEffect, useMemo, useState } from 'react'
import { isImportanceWeighted, METHOD_LABELS, type RunConfig } from '../../../shared/config.ts'
import type { HeatmapData, RunInfo, SnapshotData, TraceRho } from '../../../shared/contract.ts'
import { curate } from '../../../shared/curation.ts'
import { sharedLogWHistograms, spearman, weightStats } from '../../../shared/weight-stats.ts'
import { Plot } from '../components/Plot.tsx'
import { LogWHistogram } from '../components/LogWHistogram.tsx'
import { TraceViewer } from '../components/TraceViewer.tsx'
import { useColumns } from '../hooks.ts'
import { fmt, fmtInt, pct } from '../lib/format.ts'
import { useApp } from '../state.tsx'
import { binColor, useTheme } from '../theme.ts'
import { Kpi } from '../components/Kpi.tsx'
import { WeightStages } from '../components/WeightStages.tsx'
import { DiagnosticsPanel, WeightWarnings } from '../components/DiagnosticsPanel.tsx'
import { clampOnly } from '../lib/weight-stages.ts'
import { useRunDiagnostics } from '../lib/run-diagnostics.ts'

/** Raw-vs-clamped histogram traces of one or more weight sets on shared bin edges (also used by
 *  the UI benchmark): clamped as filled bars, raw as a step outline on top, so both stay readable
 *  where they agree. Weights clamped to 0 are not binned (the stats count them). */
export function weightHistogramTraces(sets: Array<{ logWRaw: ArrayLike<number>; w: ArrayLike<number>; label?: string }>, bins = 60): Record<string, unknown>[] {
  const h = sharedLogWHistograms(sets, bins)
  if (!h.edges.length) return []
  const width = h.edges[1] - h.edges[0]
  const centers = h.edges.slice(0, -1).map((e) => e + width / 2)
  return sets.flatMap(({ label = '' }, i) => [
    { type: 'bar', x: centers, y: h.clamped[i], width, name: `log w clamped${label}`, opacity: 0.55, hovertemplate: 'log w %{x:.3g}: %{y}<extra>clamped</extra>' },
    { type: 'scatter', mode: 'lines', line: { shape: 'hvh', width: 1.8 }, x: centers, y: h.raw[i], name: `log w raw${label}`, hovertemplate: 'log w %{x:.3g}: %{y}<extra>raw</extra>' }
  ])
}

/** log w raw = k · Σ_t g(ρ_t), spelt out for one trace with the run's settings. */
function logWFormula(weights: RunConfig['weights'], rho: Array<number | null>): string {
  const n = rho.filter((v) => v !== null).length
  const sum = rho.reduce<number>((a, v) => a + (v ?? 0), 0)
  const k = weights.aggregate === 'mean' ? weights.temp / Math.max(n, 1) : weights.temp
  const kText = weights.aggregate === 'mean' ? 'temp/|τ|' : 'temp'
  const kValue = weights.aggregate === 'mean' ? `${fmt(weights.temp)}/${n}` : fmt(weights.temp)
  if (weights.per_step) return `Σρ = ${fmt(sum)} over |τ| = ${n} counted steps; log w raw = ${kText} · Σ g(ρ_t) (g: the run's per-step transform)`
  // ρ_t here is under θ; a run whose q is an EMA or periodic copy of θ weighted with that q instead
  const q = weights.q.kind === 'current' ? '' : ` (with θ for q; this run's q is ${weights.q.kind === 'ema' ? 'an EMA' : 'a periodic copy'} of θ, so its snapshot's log w raw differs)`
  return `Σρ = ${fmt(sum)} over |τ| = ${n} counted steps; log w raw = ${kText} · Σρ = ${kValue} · ${fmt(sum)} = ${fmt(k * sum)}${q}`
}

export function InspectorView(): React.JSX.Element {
  const s = useApp()
  const theme = useTheme()
  const candidates = s.runs.filter((r) => r.status !== 'queued')
  const [runId, setRunId] = useState<number | undefined>(s.params.runIds?.[0] ?? candidates[0]?.id)
  useEffect(() => {
    if (runId === undefined && candidates[0]) setRunId(candidates[0].id)
  }, [candidates.length, runId])
  const run = s.runs.find((r) => r.id === runId)
  const [otherId, setOtherId] = useState<number | ''>('')
  const other = s.runs.find((r) => r.id === otherId)
  // the saved steps, with the run they belong to: a switch of run never asks the new run for the
  // old run's step (that was the stale "no weight snapshot at step N")
  const [stepsOf, setStepsOf] = useState<{ runId: number; steps: number[] } | null>(null)
  const steps = useMemo(() => (stepsOf && stepsOf.runId === runId ? stepsOf.steps : []), [stepsOf, runId])
  const [stepIdx, setStepIdx] = useState(0)
  const [logY, setLogY] = useState(false)
  const [snapAny, setSnap] = useState<SnapshotData | null>(null)
  // the snapshot of this run only (a late answer for the previous run is not shown)
  const snap = snapAny && snapAny.runId === runId ? snapAny : null
  const [otherSnap, setOtherSnap] = useState<SnapshotData | null>(null)
  const [heat, setHeat] = useState<HeatmapData | null>(null)
  const [err, setErr] = useState<string | null>(null)
  const [openTrace, setOpenTrace] = useState<number | null>(null)
  const [traceRho, setRho] = useState<TraceRho | null>(null)
  const [rhoErr, setRhoErr] = useState<string | null>(null)
  useEffect(() => {
    setRho(null)
    setRhoErr(null)
    if (openTrace === null || !runId) return
    let alive = true
    // θ from the checkpoint nearest the slider's step (the back end picks it)
    const at = steps[stepIdx]
    s.api
      .invoke('runs.traceRho', { runId, traceIndex: openTrace, ...(at !== undefined ? { step: at } : {}) })
      .then((r) => alive && setRho(r))
      .catch((e: Error) => alive && setRhoErr(e.message))
    return () => {
      alive = false
    }
  }, [s.api, runId, openTrace, run?.status, steps[stepIdx]])

  useEffect(() => {
    setErr(null)
    setOpenTrace(null)
  }, [runId])
  useEffect(() => {
    if (!runId) return
    let alive = true
    s.api
      .invoke('runs.snapshotSteps', { runId })
      .then((st) => {
        if (!alive) return
        setStepsOf((cur) => {
          // keep the slider where it was while the run is the same and grows
          if (!cur || cur.runId !== runId) setStepIdx(st.length - 1)
          return { runId, steps: st }
        })
      })
      .catch((e: Error) => alive && setErr(e.message))
    s.api
      .invoke('runs.heatmap', { runId, bins: 40 })
      .then((h) => alive && setHeat(h))
      .catch(() => setHeat(null))
    return () => {
      alive = false
    }
  }, [s.api, runId, run?.status, run?.lastStep])
  const step = steps[stepIdx]
  useEffect(() => {
    if (!runId || step === undefined) {
      setSnap(null)
      return
    }
    let alive = true
    s.api
      .invoke('runs.snapshot', { runId, step })
      .then((x) => {
        if (!alive) return
        setSnap(x)
        setErr(null)
      })
      .catch((e: Error) => alive && setErr(e.message))
    return () => {
      alive = false
    }
  }, [s.api, runId, step])
  useEffect(() => {
    if (!otherId || step === undefined) {
      setOtherSnap(null)
      return
    }
    let alive = true
    // the other run at the same step, or the nearest step it saved
    s.api
      .invoke('runs.snapshotSteps', { runId: otherId })
      .then((st) => {
        if (!st.length) return alive && setOtherSnap(null)
        const near = st.reduce((a, b) => (Math.abs(b - step) < Math.abs(a - step) ? b : a))
        return s.api.invoke('runs.snapshot', { runId: otherId, step: near }).then((x) => alive && setOtherSnap(x))
      })
      .catch(() => setOtherSnap(null))
    return () => {
      alive = false
    }
  }, [s.api, otherId, step])

  const { diag, error: diagErr } = useRunDiagnostics(s.api, run, runId !== undefined ? s.live[runId]?.step : undefined)
  const { cols } = useColumns(s.api, run?.datasetId ?? undefined)
  const multiplicity = useMemo(() => (cols && run ? curate(cols.scores, run.config.curation).multiplicity : null), [cols, run?.id])
  const normalizes = Boolean(run?.config.weights.normalize)
  const weighted = run ? isImportanceWeighted(run.method) : true
  const clamped = useMemo(() => (snap ? clampOnly(snap.logWRaw, snap.clamp) : null), [snap])
  const stats = useMemo(() => (snap ? weightStats(snap.logWRaw, snap.w, snap.clamp) : null), [snap])
  const clampStats = useMemo(() => (snap && clamped ? weightStats(snap.logWRaw, clamped, snap.clamp) : null), [snap, clamped])
  const rho = useMemo(() => (snap && snap.scores.length === snap.logWRaw.length ? spearman(snap.logWRaw, snap.scores) : NaN), [snap])

  const histData = useMemo(() => {
    if (!snap) return []
    // the clamp alone (a normalising run's normalisation is a separate stage, not binned here)
    const sets = [{ logWRaw: snap.logWRaw, w: clampOnly(snap.logWRaw, snap.clamp), label: other ? ` · #${snap.runId}` : '' }]
    // the other run on the same bin edges, so the two can be read against each other
    if (otherSnap) sets.push({ logWRaw: otherSnap.logWRaw, w: clampOnly(otherSnap.logWRaw, otherSnap.clamp), label: ` · #${otherSnap.runId} @${otherSnap.step}` })
    return weightHistogramTraces(sets, 60)
  }, [snap, otherSnap, other])

  const distinctScores = useMemo(() => (snap ? new Set(snap.scores).size : 0), [snap])
  const scatter = useMemo(() => {
    if (!snap || !snap.scores.length) return []
    const n = snap.logWRaw.length
    if (distinctScores <= 12) {
      // few distinct scores (pass/fail, grades): a box of log w per score and bin reads better than a strip of dots
      const groups = new Map<string, { m: number; y: number[]; x: string[] }>()
      for (let i = 0; i < n; i++) {
        const m = multiplicity ? multiplicity[snap.traceIndex[i]] : 1
        const key = String(m)
        let g = groups.get(key)
        if (!g) groups.set(key, (g = { m, y: [], x: [] }))
        g.y.push(snap.logWRaw[i])
        g.x.push(`S = ${fmt(snap.scores[i], 3)}`)
      }
      return [...groups.values()]
        .sort((a, b) => a.m - b.m)
        .map((g) => ({
          type: 'box',
          x: g.x,
          y: g.y,
          name: g.m === 0 ? 'discarded' : `bin m=${g.m}`,
          marker: { color: binColor(g.m, theme), size: 3 },
          boxpoints: 'outliers',
          hoverinfo: 'y'
        }))
    }
    // at most 4000 points: an even stride plus the 50 most and least weighted
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => snap.logWRaw[a] - snap.logWRaw[b])
    const keep = new Set<number>([...order.slice(0, 50), ...order.slice(-50)])
    const stride = Math.max(1, Math.ceil(n / 4000))
    for (let i = 0; i < n; i += stride) keep.add(i)
    const idx = [...keep]
    const byBin = new Map<number, number[]>()
    for (const i of idx) {
      const m = multiplicity ? multiplicity[snap.traceIndex[i]] : 1
      if (!byBin.has(m)) byBin.set(m, [])
      byBin.get(m)!.push(i)
    }
    const [smin, smax] = [Math.min(...snap.scores), Math.max(...snap.scores)]
    const jitter = (smax - smin || 1) * 0.015
    return [...byBin.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([m, ii]) => ({
        type: 'scatter',
        mode: 'markers',
        name: m === 0 ? 'discarded' : `bin m=${m}`,
        x: ii.map((i) => snap.scores[i] + (((i * 2654435761) % 1000) / 1000 - 0.5) * jitter),
        y: ii.map((i) => snap.logWRaw[i]),
        text: ii.map((i) => `trace ${snap.traceIndex[i]}`),
        marker: { size: 5, color: binColor(m, theme), opacity: 0.7 },
        hovertemplate: '%{text}<br>score %{x:.3g}<br>log w raw %{y:.3g}<extra></extra>'
      }))
  }, [snap, multiplicity, theme, distinctScores])

  const extremes = useMemo(() => {
    if (!snap) return { top: [], bottom: [] }
    const order = Array.from({ length: snap.logWRaw.length }, (_, i) => i).sort((a, b) => snap.logWRaw[b] - snap.logWRaw[a])
    return { top: order.slice(0, 5), bottom: order.slice(-5).reverse() }
  }, [snap])

  const heatData = useMemo(() => {
    if (!heat || !heat.edges.length) return []
    const centers = heat.edges.slice(0, -1).map((e, i) => (e + heat.edges[i + 1]) / 2)
    const z = centers.map((_, b) => heat.counts.map((c) => Math.log10(1 + (c[b] ?? 0))))
    return [
      {
        type: 'heatmap',
        x: heat.steps.map(String),
        y: centers,
        z,
        colorscale: 'Viridis',
        colorbar: { title: { text: 'log₁₀(1+n)' }, thickness: 10 },
        hovertemplate: 'step %{x}<br>log w raw %{y:.3g}<br>log₁₀(1+n) %{z:.2f}<extra></extra>'
      }
    ]
  }, [heat])

  const row = (i: number): React.ReactNode =>
    snap && (
      <tr key={i} className="clickable" onClick={() => setOpenTrace(snap.traceIndex[i])} tabIndex={0} onKeyDown={(e) => e.key === 'Enter' && setOpenTrace(snap.traceIndex[i])}>
        <td>{snap.traceIndex[i]}</td>
        <td className="num">{fmt(snap.scores[i])}</td>
        <td className="num">{fmt(snap.logWRaw[i])}</td>
        <td className="num">{fmt(snap.w[i])}</td>
      </tr>
    )

  if (!candidates.length) {
    return (
      <section className="view" aria-labelledby="ins-title">
        <header className="view-head">
          <h1 id="ins-title">Weight inspector</h1>
        </header>
        <div className="panel empty-state" data-testid="insp-empty">
          <h3>No runs to inspect yet</h3>
          <p className="muted">
            The inspector shows the importance weights w = q(τ)/π_ref(τ) a run saved at its snapshot steps: their histogram, ESS, clamp fraction and the traces they favour. Start a run first
            (iw-SFT weights its traces; SFT runs save the weights iw-SFT would give, for comparison), or import log-probs under Imported weights.
          </p>
          <div className="row gap">
            <button className="primary" onClick={() => s.go('new-run')}>
              New run…
            </button>
            <button onClick={() => s.go('byo')}>Imported weights…</button>
          </div>
        </div>
      </section>
    )
  }

  return (
    <section className="view" aria-labelledby="ins-title">
      <header className="view-head row gap wrap">
        <h1 id="ins-title">Weight inspector</h1>
        <label className="inline">
          <span className="muted">run</span>
          <select value={runId ?? ''} onChange={(e) => setRunId(Number(e.target.value))} data-testid="ins-run">
            {candidates.map((r) => (
              <option key={r.id} value={r.id}>
                #{r.id} {r.name}
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          <span className="muted">overlay</span>
          <select value={otherId} onChange={(e) => setOtherId(e.target.value ? Number(e.target.value) : '')} data-testid="ins-other">
            <option value="">none</option>
            {candidates
              .filter((r) => r.id !== runId)
              .map((r) => (
                <option key={r.id} value={r.id}>
                  #{r.id} {r.name}
                </option>
              ))}
          </select>
        </label>
      </header>
      {err && <p className="error-text">{err}</p>}
      {diag && <WeightWarnings warnings={diag.warnings} testId="ins-warning-banner" />}
      {run && !steps.length && (
        <p className="muted">
          Run #{run.id} has no weight snapshots yet{run.method && !run.method.startsWith('iw') ? ` (${METHOD_LABELS[run.method]} does not weight traces; weights are all 1)` : ''}.
        </p>
      )}
      {steps.length > 0 && (
        <div className="panel row gap wrap">
          <label className="inline grow">
            <span className="muted">step</span>
            <input
              type="range"
              min={0}
              max={steps.length - 1}
              step={1}
              value={stepIdx}
              onChange={(e) => setStepIdx(Number(e.target.value))}
              aria-label="saved step"
              aria-valuetext={`step ${step}`}
              data-testid="ins-step"
              className="grow"
            />
            <strong data-testid="ins-step-value">{step}</strong>
            <span className="muted small">
              ({stepIdx + 1} of {steps.length} saved)
            </span>
          </label>
          <label className="inline">
            <input type="checkbox" checked={logY} onChange={(e) => setLogY(e.target.checked)} data-testid="ins-logy" /> log-scale counts
          </label>
        </div>
      )}
      {run && !weighted && steps.length > 0 && (
        <p className="notice small" role="note" data-testid="ins-not-in-loss">
          {METHOD_LABELS[run.method]} does not weight traces: these weights were NOT in its loss (every trace counted with w = 1). They are what iw-SFT would give the same traces under this
          run's q and π_ref, shown for comparison.
        </p>
      )}
      {snap && stats && clampStats && (
        <>
          <div className="kpis panel" data-testid="ins-stats">
            <Kpi label="ESS (each trace once)" value={fmt(stats.ess, 6)} testId="ins-ess" />
            <Kpi label="ESS / N (each trace once)" value={pct(stats.ess_fraction, 2)} testId="ins-ess-fraction" />
            <Kpi label="N traces" value={fmtInt(snap.w.length)} testId="ins-n" />
            <Kpi label="clamp fraction" value={pct(stats.clamp_fraction, 2)} testId="ins-clamp" />
            <Kpi label="log w raw min / median / max" value={`${fmt(stats.logw_raw_min)} / ${fmt(stats.logw_raw_median)} / ${fmt(stats.logw_raw_max)}`} testId="ins-raw-mmm" />
            <Kpi
              label={`log w clamped to [${snap.clamp[0]}, ${snap.clamp[1]}] min / median / max`}
              value={`${fmt(clampStats.logw_min)} / ${fmt(clampStats.logw_median)} / ${fmt(clampStats.logw_max)}`}
              testId="ins-clamped-mmm"
            />
            {normalizes && (
              <Kpi
                label="log w clamped, then normalised (set mean 1) min / median / max"
                value={`${fmt(stats.logw_min)} / ${fmt(stats.logw_median)} / ${fmt(stats.logw_max)}`}
                testId="ins-normalised-mmm"
              />
            )}
            <Kpi label="Spearman(w, score)" value={Number.isNaN(rho) ? 'n/a (one score)' : fmt(rho, 3)} testId="ins-spearman" />
          </div>
          <div className="grid-2">
            <WeightStages snap={snap} normalizes={normalizes} weighted={weighted} logY={logY} />
            <DiagnosticsPanel diag={diag} error={diagErr} />
          </div>
          <div className="grid-2">
            <div className="panel">
              <h3>
                log w raw vs clamped · clamp [{snap.clamp[0]}, {snap.clamp[1]}]
              </h3>
              <LogWHistogram data={histData} logY={logY} testId="ins-histogram" />
            </div>
            <div className="panel">
              <h3>weight against score, by quality bin</h3>
              <Plot
                data={scatter}
                height={260}
                layout={{
                  xaxis: { title: { text: distinctScores <= 12 ? 'score S(τ)' : 'score S(τ) (jittered)' }, type: distinctScores <= 12 ? 'category' : 'linear' },
                  yaxis: { title: { text: 'log w raw' } },
                  legend: { orientation: 'h', y: 1.12 },
                  boxmode: 'group'
                }}
                testId="ins-scatter"
                ariaLabel="log weight against score"
              />
            </div>
          </div>
          <div className="grid-2">
            <div className="panel">
              <h3>Most and least weighted traces</h3>
              <div>
                {(['top', 'bottom'] as const).map((k) => (
                  <table key={k} className="table compact" aria-label={k === 'top' ? 'most weighted traces' : 'least weighted traces'} data-testid={`ins-${k}`}>
                    <thead>
                      <tr>
                        <th>{k === 'top' ? 'most weighted' : 'least weighted'} · trace</th>
                        <th className="num">score</th>
                        <th className="num">log w raw</th>
                        <th className="num">{normalizes ? 'w (clamped, normalised)' : 'w (clamped)'}</th>
                      </tr>
                    </thead>
                    <tbody>{extremes[k].map(row)}</tbody>
                  </table>
                ))}
              </div>
              {openTrace !== null && run?.datasetId && (
                <TraceViewer
                  datasetId={run.datasetId}
                  index={openTrace}
                  rho={traceRho?.rho ?? null}
                  extra={
                    <span className="muted small" data-testid="ins-rho-status">
                      {traceRho
                        ? `ρ_t = log π_θ − log π_ref, θ from the checkpoint at step ${traceRho.step}${steps[stepIdx] !== undefined && steps[stepIdx] !== traceRho.step ? ` (the nearest to step ${steps[stepIdx]})` : ''}: ${logWFormula(run.config.weights, traceRho.rho)}`
                        : rhoErr
                          ? `per-step ρ: ${rhoErr}`
                          : 'computing per-step ρ…'}
                    </span>
                  }
                />
              )}
            </div>
            <div className="panel">
              <h3>log w raw over all saved steps</h3>
              <Plot
                data={heatData}
                height={300}
                layout={{ xaxis: { title: { text: 'step' }, type: 'category' }, yaxis: { title: { text: 'log w raw' } } }}
                testId="ins-heatmap"
                ariaLabel="heatmap of the weight distribution over saved steps"
              />
            </div>
          </div>
        </>
      )}
    </section>
  )
}

export type { RunInfo }
