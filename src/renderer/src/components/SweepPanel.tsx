// Compare's view of a sweep group: the metric picker (the metrics its runs logged), the table of
// grid points and the plot of the final metric against a swept key, from sweeps.results.
import { useEffect, useState } from 'react'
import type { Api, SweepResults } from '../../../shared/contract.ts'
import { sweepKeys } from '../lib/sweep.ts'
import { SweepPlot } from './SweepPlot.tsx'
import { SweepTable } from './SweepTable.tsx'

export function SweepPanel({
  api,
  group,
  metrics,
  refresh,
  note,
  onInspect
}: {
  api: Api
  group: string
  /** the metric keys the group's runs logged */
  metrics: string[]
  /** changes when a run of the group changes status (the table is fetched again) */
  refresh: string
  /** a line under the title (e.g. that the table holds runs beyond the picked ones) */
  note?: string
  onInspect?: (runId: number) => void
}): React.JSX.Element {
  const [metric, setMetric] = useState<string>('')
  const [res, setRes] = useState<SweepResults | null>(null)
  const [err, setErr] = useState<string | null>(null)
  const [xPick, setX] = useState<string>('')
  useEffect(() => {
    let alive = true
    setErr(null)
    api
      .invoke('sweeps.results', { group, ...(metric ? { metric } : {}) })
      .then((r) => alive && setRes(r))
      .catch((e: Error) => alive && setErr(e.message))
    return () => {
      alive = false
    }
  }, [api, group, metric, refresh])
  const results = res && res.group === group ? res.results : []
  const keys = sweepKeys(results)
  const xKey = keys.includes(xPick) ? xPick : (keys[0] ?? '')
  const shown = res?.metric ?? metric
  return (
    <div className="panel sweep-panel" data-testid="sweep-panel">
      <div className="row gap wrap controls">
        <h3 className="grow">
          Sweep <span className="mono">{group}</span>
        </h3>
        <label className="inline">
          <span className="muted">final metric</span>
          <select value={shown} onChange={(e) => setMetric(e.target.value)} data-testid="sweep-metric">
            {[...new Set([shown, ...metrics])].filter(Boolean).map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
        {keys.length > 1 && (
          <label className="inline">
            <span className="muted">against</span>
            <select value={xKey} onChange={(e) => setX(e.target.value)} data-testid="sweep-x">
              {keys.map((k) => (
                <option key={k}>{k}</option>
              ))}
            </select>
          </label>
        )}
      </div>
      {note && <p className="small muted">{note}</p>}
      {err && <p className="error-text">{err}</p>}
      {results.length > 0 && keys.length === 0 && <p className="muted">The group's runs do not differ in any setting: it is not a sweep.</p>}
      {results.length > 0 && keys.length > 0 && (
        <>
          <SweepTable results={results} onInspect={onInspect} />
          <SweepPlot results={results} xKey={xKey} />
        </>
      )}
    </div>
  )
}
