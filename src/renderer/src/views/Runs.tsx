// Live runs: every run of the project; the chosen ones (a launched group, or picked in the
// list) with loss, learning rate, evaluation score, ESS/N and clamp fraction updating as the
// run goes (also runs of other processes: the back end follows the project file), a progress
// bar with time left, and Cancel (after confirming), Resume, Rename and Delete. A run whose
// weights the back end warns about (runs.diagnostics: collapsed onto a few traces, or ≈ 1) has
// a ⚠ badge in the list and the warning on its card; a running run is judged again after each
// weight snapshot it saves.
import { useEffect, useMemo, useRef, useState } from 'react'
import { METHOD_LABELS } from '../../../shared/config.ts'
import type { RunInfo, Series } from '../../../shared/contract.ts'
import { Plot } from '../components/Plot.tsx'
import { ReplayPanel } from '../components/ReplayPanel.tsx'
import { EmptyRow } from '../components/TableRows.tsx'
import { WeightWarnings } from '../components/DiagnosticsPanel.tsx'
import { useRunWarnings } from '../lib/run-diagnostics.ts'
import { CheckpointsPanel, ReportControls } from '../components/RunTools.tsx'
import { evalKey, fmt, fmtDuration } from '../lib/format.ts'
import { useApp } from '../state.tsx'
import { plotColors, useTheme } from '../theme.ts'

function StatusPill({ status }: { status: RunInfo['status'] }): React.JSX.Element {
  return <span className={`status ${status}`}>{status}</span>
}

export function RunsView(): React.JSX.Element {
  const s = useApp()
  const [picked, setPicked] = useState<number[]>(() => s.params.runIds ?? [])
  useEffect(() => {
    if (s.params.runIds) setPicked(s.params.runIds)
  }, [s.params.runIds?.join(',')])
  useEffect(() => {
    // nothing picked: follow what is running, else the newest run
    if (!picked.length && s.runs.length) {
      const running = s.runs.filter((r) => r.status === 'running').map((r) => r.id)
      setPicked(running.length ? running : [s.runs[0].id])
    }
  }, [s.runs, picked.length])
  const focused = s.runs.filter((r) => picked.includes(r.id))
  const warnings = useRunWarnings(s.api, s.runs, s.live)
  const toggle = (id: number): void => setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p, id]))

  return (
    <section className="view" aria-labelledby="runs-title">
      <header className="view-head row gap wrap">
        <h1 id="runs-title">Live runs</h1>
        <span className="muted small grow">{s.caps?.onClose}</span>
        <button onClick={() => s.go('compare', { runIds: picked })} disabled={picked.length < 1}>
          Compare picked ({picked.length})
        </button>
      </header>
      <div className="grid-1-2">
        <div className="panel scroll-y">
          <table className="table compact runs-table" aria-label="runs" data-testid="runs-table">
            <colgroup>
              <col style={{ width: 28 }} />
              <col />
              <col style={{ width: 86 }} />
              <col style={{ width: 66 }} />
            </colgroup>
            <thead>
              <tr>
                <th aria-label="show" />
                <th>Run</th>
                <th>Status</th>
                <th className="num">Step</th>
              </tr>
            </thead>
            <tbody>
              {s.runs.map((r) => (
                <tr key={r.id} className={picked.includes(r.id) ? 'selected' : ''} data-testid={`run-row-${r.id}`}>
                  <td>
                    <input type="checkbox" checked={picked.includes(r.id)} onChange={() => toggle(r.id)} aria-label={`show run ${r.id}`} />
                  </td>
                  <td onClick={() => setPicked([r.id])} className="clickable">
                    <div className="run-name" title={r.name}>
                      #{r.id} {METHOD_LABELS[r.method]} · seed {r.seed}
                      {warnings[r.id]?.length ? (
                        <span className="warn-badge" title={warnings[r.id].join('\n')} aria-label={`weight warning: ${warnings[r.id].join('; ')}`} data-testid={`run-warn-${r.id}`}>
                          ⚠
                        </span>
                      ) : null}
                    </div>
                    <div className="muted small" title={`${r.name}${r.group ? `\ngroup: ${r.group}` : ''}`}>
                      {s.datasets.find((d) => d.id === r.datasetId)?.name ?? r.config.dataset}
                    </div>
                  </td>
                  <td>
                    <StatusPill status={r.status} />
                  </td>
                  <td className="num">{s.live[r.id] ? `${s.live[r.id].step}/${s.live[r.id].total}` : (r.lastStep ?? '–')}</td>
                </tr>
              ))}
              {!s.runs.length && <EmptyRow columns={4}>No runs yet: start one from “New run”.</EmptyRow>}
            </tbody>
          </table>
        </div>
        <div>
          {focused.map((r) => (
            <RunCard key={r.id} run={r} warnings={warnings[r.id] ?? []} />
          ))}
          {focused.length > 0 && <LivePlots runs={focused} />}
          {focused.length > 0 && (
            <div className="panel">
              <ReportControls runIds={focused.map((r) => r.id)} />
            </div>
          )}
          {focused.length === 1 && <CheckpointsPanel run={focused[0]} />}
          {focused.length === 1 && s.datasets.find((d) => d.id === focused[0].datasetId)?.kind === 'continuous' && <ReplayPanel run={focused[0]} />}
        </div>
      </div>
    </section>
  )
}

function RunCard({ run, warnings }: { run: RunInfo; warnings: string[] }): React.JSX.Element {
  const s = useApp()
  const live = s.live[run.id]
  const [err, setErr] = useState<string | null>(null)
  const [busy, setBusy] = useState<null | 'cancel' | 'mark' | 'resume' | 'delete' | 'rename'>(null)
  const [renaming, setRenaming] = useState<string | null>(null)
  const [final, setFinal] = useState<Record<string, number> | null>(null)
  useEffect(() => s.api.on('run.end', (e) => e.runId === run.id && setFinal(e.final)), [s.api, run.id])
  useEffect(() => setBusy(null), [run.status])
  const frac = live ? live.step / Math.max(1, live.total) : run.status === 'completed' ? 1 : (run.lastStep ?? 0) / Math.max(1, run.config.train.steps)
  const act = (what: NonNullable<typeof busy>, ask: string | null, f: () => Promise<unknown>): void => {
    if (ask !== null && !window.confirm(ask)) return
    setErr(null)
    setBusy(what)
    f()
      .catch((e: Error) => setErr(e.message))
      .finally(() => what !== 'cancel' && setBusy(null))
  }
  const going = run.status === 'running' || run.status === 'queued'
  const resumable = run.status === 'interrupted' || run.status === 'cancelled' || run.status === 'failed'
  const label = `#${run.id} “${run.name}”`
  return (
    <div className="panel run-card" data-testid={`run-card-${run.id}`}>
      <div className="row gap wrap">
        {renaming === null ? (
          <strong data-testid={`run-name-${run.id}`}>
            #{run.id} {run.name}
          </strong>
        ) : (
          <form
            className="row gap-s"
            onSubmit={(e) => {
              e.preventDefault()
              const name = renaming.trim()
              if (!name) return setErr('a run needs a name')
              act('rename', null, () => s.api.invoke('runs.rename', { runId: run.id, name }).then(() => setRenaming(null)))
            }}
          >
            <input value={renaming} onChange={(e) => setRenaming(e.target.value)} maxLength={200} aria-label={`new name of run ${run.id}`} autoFocus data-testid={`rename-input-${run.id}`} />
            <button type="submit" disabled={busy === 'rename'} data-testid={`rename-save-${run.id}`}>
              Save
            </button>
            <button type="button" className="ghost" onClick={() => setRenaming(null)}>
              Keep
            </button>
          </form>
        )}
        <StatusPill status={run.status} />
        <span className="muted small">
          {METHOD_LABELS[run.method]} · seed {run.seed} · backend {run.backend ?? run.config.backend}
        </span>
        <span className="spacer" />
        {run.status === 'running' && live && !run.elsewhere && (
          <button
            className="danger"
            disabled={busy === 'cancel'}
            onClick={() =>
              act('cancel', `Cancel run ${label}?\n\nIt stops after the current step. What it saved so far (metrics, checkpoints) stays, and it can resume from its last checkpoint.`, () =>
                s.api.invoke('runs.cancel', { runId: run.id })
              )
            }
            data-testid={`cancel-${run.id}`}
          >
            {busy === 'cancel' ? 'Cancelling…' : 'Cancel'}
          </button>
        )}
        {going && !live && !run.live && (
          <button
            disabled={busy === 'mark'}
            title="The run is recorded as running, but no progress reaches this window: if its process is gone, mark it interrupted so that it can be resumed"
            onClick={() =>
              act(
                'mark',
                `Mark run #${run.id} as interrupted?\n\nDo this only if no process runs it any more (it was killed, or the machine restarted): a process that still runs it would go on writing to it. Afterwards the run can be resumed from its last checkpoint.`,
                () => s.api.invoke('runs.markInterrupted', { runId: run.id })
              )
            }
            data-testid={`mark-interrupted-${run.id}`}
          >
            Mark interrupted
          </button>
        )}
        {resumable && (
          <button
            disabled={busy === 'resume'}
            title="Continue from its last resumable checkpoint (runs save one every train.checkpoint_every steps)"
            onClick={() => act('resume', null, () => s.api.invoke('runs.resume', { runId: run.id }))}
            data-testid={`resume-${run.id}`}
          >
            {busy === 'resume' ? 'Resuming…' : 'Resume'}
          </button>
        )}
        {renaming === null && (
          <button className="ghost" onClick={() => setRenaming(run.name)} data-testid={`rename-${run.id}`}>
            Rename
          </button>
        )}
        {!going && (
          <button
            className="ghost danger"
            disabled={busy === 'delete'}
            onClick={() =>
              act('delete', `Delete run ${label}?\n\nIts metrics, weight snapshots and checkpoints are removed from the project. This cannot be undone.`, () =>
                s.api.invoke('runs.delete', { runId: run.id })
              )
            }
            data-testid={`delete-${run.id}`}
          >
            Delete
          </button>
        )}
        <button onClick={() => s.go('inspector', { runIds: [run.id] })} disabled={run.status === 'queued'}>
          Inspect weights
        </button>
      </div>
      <div className="row gap progress-row">
        <progress value={frac} max={1} aria-label={`run ${run.id} progress`} data-testid={`progress-${run.id}`} />
        <span className="small" data-testid={`progress-text-${run.id}`}>
          {run.elsewhere && going ? 'in another process (cancel it there) · ' : ''}
          {live
            ? `${live.phase} ${live.step} / ${live.total} · ${fmtDuration(live.elapsedMs)} elapsed · ${fmtDuration(live.etaMs)} left`
            : going
              ? 'running in another process: progress shows at its next logged step'
              : `${run.lastStep ?? 0} / ${run.config.train.steps} steps`}
        </span>
      </div>
      {run.error && <p className="error-text">{run.error}</p>}
      {err && <p className="error-text">{err}</p>}
      <WeightWarnings warnings={warnings} testId={`run-warnings-${run.id}`} />
      {final && Object.keys(final).length > 0 && (
        <div className="muted small" data-testid={`run-final-${run.id}`}>
          final:{' '}
          {Object.entries(final)
            .filter(([k]) => ['loss', 'ess_fraction', 'expected_reward', 'p_right', 'normalized_score', 'tokens_per_s'].includes(k))
            .map(([k, v]) => `${k} ${fmt(v)}`)
            .join(' · ')}
        </div>
      )}
    </div>
  )
}

type SeriesMap = Record<number, Record<string, Series>>

function LivePlots({ runs }: { runs: RunInfo[] }): React.JSX.Element {
  const s = useApp()
  const theme = useTheme()
  const ids = runs.map((r) => r.id)
  const data = useRef<SeriesMap>({})
  const [version, setVersion] = useState(0)
  const dirty = useRef(false)
  useEffect(() => {
    let alive = true
    data.current = {}
    s.api.invoke('runs.metrics', { runIds: ids }).then((ms) => {
      if (!alive) return
      for (const m of ms) data.current[m.runId] = m.series
      setVersion((v) => v + 1)
    })
    const off = s.api.on('run.metrics', (e) => {
      if (!ids.includes(e.runId)) return
      const ser = (data.current[e.runId] ??= {})
      for (const [k, v] of Object.entries(e.metrics)) {
        const x = (ser[k] ??= { steps: [], values: [] })
        if (x.steps.length && x.steps[x.steps.length - 1] >= e.step) continue
        x.steps.push(e.step)
        x.values.push(v)
      }
      dirty.current = true
    })
    // redraw at most 4 times a second, whatever the metric rate
    const t = setInterval(() => {
      if (dirty.current) {
        dirty.current = false
        setVersion((v) => v + 1)
      }
    }, 250)
    return () => {
      alive = false
      off()
      clearInterval(t)
    }
  }, [s.api, ids.join(',')])

  const ek = useMemo(() => evalKey(Object.values(data.current).flatMap((x) => Object.keys(x))), [version])
  const panels: Array<{ key: string; title: string; log?: boolean }> = [
    { key: 'loss', title: 'loss' },
    { key: 'lr', title: 'learning rate' },
    ...(ek ? [{ key: ek, title: `evaluation: ${ek}` }] : []),
    { key: 'ess_fraction', title: 'ESS / N' },
    { key: 'clamp_fraction', title: 'clamp fraction' },
    // language models: training throughput, logged by the trainer (tokens of the batch / step time)
    ...(runs.some((r) => r.config.policy.kind === 'llm') ? [{ key: 'tokens_per_s', title: 'tokens / s (training)' }] : [])
  ]
  const colors = plotColors(theme).series
  return (
    <>
      <div className="row gap wrap small legend" aria-label="legend">
        {runs.map((r, i) => (
          <span key={r.id} className="row gap-s">
            <span className="swatch" style={{ background: colors[i % colors.length] }} />#{r.id} {METHOD_LABELS[r.method]} · seed {r.seed}
          </span>
        ))}
      </div>
      <div className="plots-grid" data-testid="live-plots">
        {panels.map((p) => (
          <LiveChart key={p.key} title={p.title} metric={p.key} runs={runs} data={data.current} version={version} colors={colors} />
        ))}
      </div>
    </>
  )
}

function LiveChart({
  title,
  metric,
  runs,
  data,
  version,
  colors
}: {
  title: string
  metric: string
  runs: RunInfo[]
  data: SeriesMap
  version: number
  colors: string[]
}): React.JSX.Element {
  const traces = useMemo(
    () =>
      runs.map((r, i) => {
        const x = data[r.id]?.[metric]
        return {
          type: 'scatter',
          mode: (x?.steps.length ?? 0) > 1 ? 'lines' : 'markers',
          x: x ? [...x.steps] : [],
          y: x ? [...x.values] : [],
          name: `#${r.id} seed ${r.seed}`,
          line: { color: colors[i % colors.length], width: 1.8 },
          marker: { color: colors[i % colors.length] }
        }
      }),
    [version, metric, runs.map((r) => r.id).join(','), colors]
  )
  const last = runs.length === 1 ? data[runs[0].id]?.[metric]?.values.at(-1) : undefined
  const empty = runs.every((r) => !data[r.id]?.[metric]?.values.length)
  if (empty) {
    const unweighted = runs.every((r) => !r.method.startsWith('iw-'))
    return (
      <div className="panel chart" data-testid={`chart-${metric}`}>
        <h3>{title}</h3>
        <p className="muted small">{unweighted && (metric === 'ess_fraction' || metric === 'clamp_fraction') ? 'not logged: this method does not weight traces' : 'nothing logged yet'}</p>
      </div>
    )
  }
  return (
    <div className="panel chart" data-testid={`chart-${metric}`}>
      <div className="row gap">
        <h3>{title}</h3>
        {last !== undefined && (
          <span className="mono small" data-testid={`last-${metric}`}>
            {fmt(last)}
          </span>
        )}
      </div>
      <Plot data={traces} height={180} layout={{ margin: { l: 46, r: 10, t: 6, b: 28 }, showlegend: false, xaxis: { title: { text: '' } } }} ariaLabel={title} />
    </div>
  )
}
