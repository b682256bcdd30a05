// One trace: text tokens with the completion (masked-in) steps highlighted, or per-step
// plots of actions and rewards for control data. Optional per-step values (e.g. ρ_t) shade
// tokens or draw a line.
import { useEffect, useMemo, useState } from 'react'
import type { TraceDetail } from '../../../shared/contract.ts'
import { fmt } from '../lib/format.ts'
import { useApp } from '../state.tsx'
import { Plot } from './Plot.tsx'

export function TraceViewer({ datasetId, index, extra }: { datasetId: number; index: number; extra?: React.ReactNode }): React.JSX.Element {
  const s = useApp()
  const [t, setT] = useState<TraceDetail | null>(null)
  const [err, setErr] = useState<string | null>(null)
  const [showIds, setShowIds] = useState(false)
  useEffect(() => {
    let alive = true
    setErr(null)
    s.api.invoke('datasets.trace', { datasetId, index }).then((x) => alive && setT(x)).catch((e: Error) => alive && setErr(e.message))
    return () => {
      alive = false
    }
  }, [s.api, datasetId, index])
  const plot = useMemo(() => {
    if (!t || t.kind === 'sequence') return null
    const steps = t.actions.map((_, i) => i)
    const dims = t.actions[0]?.length ?? 0
    const data: Record<string, unknown>[] = []
    for (let k = 0; k < Math.min(dims, 8); k++) data.push({ type: 'scatter', mode: t.actions.length > 1 ? 'lines' : 'markers', x: steps, y: t.actions.map((a) => a[k]), name: t.kind === 'discrete' ? 'action' : `a[${k}]` })
    if (t.rewards) data.push({ type: 'scatter', mode: t.rewards.length > 1 ? 'lines' : 'markers', x: steps, y: t.rewards, name: 'reward', yaxis: 'y2', line: { dash: 'dot' } })
    return data
  }, [t])
  // a vocabulary of ≤ 260 is the byte tokenizer (256 bytes + a few specials): show the text
  const byteLevel = (t?.actDim ?? 0) <= 260
  if (err) return <p className="error-text">{err}</p>
  if (!t) return <p className="muted">loading trace…</p>
  const meta = t.meta ?? {}
  const text = ['prompt', 'completion', 'text'].filter((k) => typeof meta[k] === 'string')
  return (
    <div className="trace-viewer" data-testid="trace-viewer">
      <div className="row gap wrap">
        <strong>trace {t.index}</strong>
        <span className="mono">{t.id}</span>
        <span>score {fmt(t.score)}</span>
        <span className="muted">
          {t.mask.length} steps{t.truncated ? ' (first 2000 shown)' : ''} · {t.mask.reduce((a, b) => a + b, 0)} counted
        </span>
        {extra}
      </div>
      {t.kind === 'sequence' ? (
        <>
          {text.length > 0 && (
            <div className="trace-text">
              {text.map((k) => (
                <div key={k} className={k === 'completion' ? 'completion' : 'prompt'}>
                  <span className="muted small">{k}</span> {String(meta[k])}
                </div>
              ))}
            </div>
          )}
          <div className="row gap small muted">
            <label className="inline">
              <input type="checkbox" checked={showIds} onChange={(e) => setShowIds(e.target.checked)} /> token ids
            </label>
            <span>highlighted: completion steps that count in the loss</span>
          </div>
          <div className="tokens" aria-label="tokens (highlighted: completion steps that count in the loss)">
            {t.actions.map((a, i) => (
              <span key={i} className={t.mask[i] ? 'tok on' : 'tok'} title={`step ${i} · token ${a[0]}${t.mask[i] ? ' (counted)' : ' (prompt, masked)'}`}>
                {showIds || !byteLevel ? a[0] : byteText(a[0])}
              </span>
            ))}
          </div>
        </>
      ) : t.actions.length <= 3 ? (
        <table className="table compact step-list" aria-label="steps">
          <thead>
            <tr>
              <th>step</th>
              <th>action</th>
              {t.rewards && <th>reward</th>}
              {t.obsDim > 0 && <th>observation</th>}
            </tr>
          </thead>
          <tbody>
            {t.actions.map((a, i) => (
              <tr key={i}>
                <td>{i}</td>
                <td>{a.map((x) => fmt(x)).join(', ')}</td>
                {t.rewards && <td>{fmt(t.rewards[i])}</td>}
                {t.obsDim > 0 && <td className="mono">{t.obs[i].map((x) => fmt(x, 3)).join(', ')}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        plot && <Plot data={plot} height={200} layout={{ margin: { l: 40, r: 40, t: 10, b: 30 }, yaxis2: { overlaying: 'y', side: 'right', showgrid: false, title: { text: 'reward' } }, xaxis: { title: { text: 'step t' } } }} ariaLabel="per-step actions and rewards" />
      )}
      {Object.keys(meta).length > 0 && <pre className="meta">{JSON.stringify(meta, null, 1).slice(0, 2000)}</pre>}
    </div>
  )
}

function byteText(id: number): string {
  if (id === 32) return '␠'
  if (id === 10) return '⏎'
  if (id > 32 && id < 127) return String.fromCharCode(id)
  return `⟨${id}⟩`
}
