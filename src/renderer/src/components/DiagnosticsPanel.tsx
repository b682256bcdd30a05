// A run's weight diagnostics (runs.diagnostics; science.md "Diagnostics users need"): ESS/N
// over training, the share of the weight the top 1 and top 5 traces hold, the clamp, the rank
// correlations of w with score and quality bin, mean ρ per step and π_ref's action σ. The
// warnings are the back end's own text (ESS/N < 0.2: collapsed; > 0.98: iw-SFT is SFT here),
// shown by WeightWarnings where the view puts them (the inspector: at its top).
import { useMemo } from 'react'
import type { RunDiagnostics } from '../../../shared/weight-stats.ts'
import { fmt, pct } from '../lib/format.ts'
import { plotColors, useTheme } from '../theme.ts'
import { Kpi } from './Kpi.tsx'
import { Plot } from './Plot.tsx'

/** The back end's weight warnings, shown as an alert. */
export function WeightWarnings({ warnings, testId = 'weight-warnings' }: { warnings: string[]; testId?: string }): React.JSX.Element | null {
  if (!warnings.length) return null
  return (
    <div className="weight-warning" role="alert" data-testid={testId}>
      {warnings.map((w) => (
        <p key={w}>
          <strong>⚠ </strong>
          {w}
        </p>
      ))}
    </div>
  )
}

const num = (v: number | undefined | null, digits = 3): string => (typeof v === 'number' ? fmt(v, digits) : '–')
const share = (v: number | undefined | null): string => (typeof v === 'number' && Number.isFinite(v) ? pct(v, 1) : '–')

export function DiagnosticsPanel({ diag, error }: { diag: RunDiagnostics | null | undefined; error?: string | null }): React.JSX.Element {
  const theme = useTheme()
  const curve = useMemo(() => {
    if (!diag?.ess_n_curve.length) return []
    return [
      {
        type: 'scatter',
        mode: diag.ess_n_curve.length > 1 ? 'lines' : 'markers',
        x: diag.ess_n_curve.map((p) => p[0]),
        y: diag.ess_n_curve.map((p) => p[1]),
        name: 'ESS/N (batch)',
        line: { color: plotColors(theme).accent, width: 1.8 },
        hovertemplate: 'step %{x}: ESS/N %{y:.3f}<extra></extra>'
      }
    ]
  }, [diag, theme])
  return (
    <div className="panel" data-testid="ins-diagnostics">
      <h3>Weight diagnostics{diag?.step !== null && diag?.step !== undefined ? ` · last snapshot, step ${diag.step}` : ''}</h3>
      {error && <p className="error-text">{error}</p>}
      {diag === undefined && !error && <p className="muted small">reading…</p>}
      {diag === null && <p className="muted">This method has no importance weights to judge (behaviour cloning).</p>}
      {diag && (
        <>
          {diag.ess_n_final === null && diag.step !== null && (
            <p className="small muted">This method’s loss has no trace weights: the numbers below describe the weights its config would give.</p>
          )}
          <div className="kpis">
            <Kpi label="ESS / N (curated multiset)" value={num(diag.ess_n_final)} testId="diag-ess-final" />
            <Kpi label="ESS / N (last batch)" value={num(diag.ess_n_batch_final)} testId="diag-ess-batch" />
            <Kpi label="effective traces" value={num(diag.effective_traces, 4)} testId="diag-effective" />
            <Kpi label="top-1 / top-5 share" value={`${share(diag.top1_share)} / ${share(diag.top5_share)}`} testId="diag-top" />
            <Kpi label="at the clamp: traces / weight share" value={`${share(diag.clamp_fraction)} / ${share(diag.clamp_share)}`} testId="diag-clamp" />
            <Kpi label="Spearman w·score / w·bin" value={`${num(diag.spearman_w_score)} / ${num(diag.spearman_w_bin)}`} testId="diag-spearman" />
            <Kpi label="mean ρ per step" value={num(diag.mean_rho_per_step, 4)} testId="diag-rho" />
            {diag.ref_action_std && <Kpi label="π_ref action σ" value={diag.ref_action_std.map((v) => fmt(v, 3)).join(', ')} testId="diag-ref-std" />}
          </div>
          {curve.length > 0 ? (
            <Plot
              data={curve}
              height={160}
              layout={{ margin: { l: 46, r: 10, t: 6, b: 32 }, showlegend: false, xaxis: { title: { text: 'step' } }, yaxis: { title: { text: 'ESS/N' }, range: [0, 1.02] } }}
              testId="diag-ess-curve"
              ariaLabel="ESS/N over training"
            />
          ) : (
            <p className="muted small">No ESS/N logged.</p>
          )}
        </>
      )}
    </div>
  )
}
