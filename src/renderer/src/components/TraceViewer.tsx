// One trace: text tokens with the completion (masked-in) steps highlighted, or per-step
// plots of actions and rewards for control data. Optional per-step values (e.g. ρ_t) shade
// tokens or draw a line.
import { useEffect, useMemo, useState } from 'react'
import type { TraceDetail } from '../../../shared/contract.ts'
import { fmt, visibleToken } from '../lib/format.ts'
import { useApp } from '../state.tsx'
import { Plot } from './Plot.tsx'

/** Diverging shade for ρ_t: blue where q favours the step more than π_ref, red where less. */
function rhoColor(v: number | null, scale: number): string | undefined {
  if (v === null || !Number.isFinite(v)) return undefined
  const a = Math.min(1, Math.abs(v) / (scale || 1))
  return v >= 0 ? `rgba(59,130,196,${0.15 + 0.6 * a})` : `rgba(201,72,72,${0.15 + 0.6 * a})`
}

export function TraceViewer({ datasetId, index, extra, rho }: { datasetId: number; index: number; extra?: React.ReactNode; rho?: Array<number | null> | null }): React.JSX.Element {
  const s = useApp()
  const [t, setT] = useState<TraceDetail | null>(null)
  const [err, setErr] = useState<string | null>(null)
  const [showIds, setShowIds] = useState(false)
  useEffect(() => {
    let alive = true
    setErr(null)
    s.api
      .invoke('datasets.trace', { datasetId, index })
      .then((x) => alive && setT(x))
      .catch((e: Error) => alive && setErr(e.message))
    return () => {
      alive = false
    }
  }, [s.api, datasetId, index])
  const plot = useMemo(() => {
    if (!t || t.kind === 'sequence') return null
    const steps = t.actions.map((_, i) => i)
    const dims = t.actions[0]?.length ?? 0
    const data: Record<string, unknown>[] = []
    for (let k = 0; k < Math.min(dims, 8); k++)
      data.push({ type: 'scatter', mode: t.actions.length > 1 ? 'lines' : 'markers', x: steps, y: t.actions.map((a) => a[k]), name: t.kind === 'discrete' ? 'action' : `a[${k}]` })
    if (t.rewards) data.push({ type: 'scatter', mode: t.rewards.length > 1 ? 'lines' : 'markers', x: steps, y: t.rewards, name: 'reward', yaxis: 'y2', line: { dash: 'dot' } })
    if (rho)
      data.push({
        type: 'scatter',
        mode: rho.length > 1 ? 'lines' : 'markers',
        x: steps,
        y: rho,
        name: 'ρ_t',
        yaxis: 'y3',
        line: { color: '#c2477a', width: 1.5 },
        marker: { color: '#c2477a', size: 8 }
      })
    return data
  }, [t, rho])
  const rhoScale = useMemo(() => (rho ? Math.max(1e-9, ...rho.map((v) => (v === null ? 0 : Math.abs(v)))) : 1), [rho])
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
          <div className="row gap small muted wrap">
            <label className="inline">
              <input type="checkbox" checked={showIds} onChange={(e) => setShowIds(e.target.checked)} data-testid="trace-token-ids" /> token ids
            </label>
            <span>highlighted: completion steps that count in the loss</span>
            <span data-testid="trace-tokenizer">
              {t.tokenTexts
                ? `text by ${t.tokenizerNote} · ␣ space, ⏎ line break`
                : t.tokenizerNote
                  ? `token ids: ${t.tokenizerNote}`
                  : byteLevel
                    ? 'bytes as text · ␣ space, ⏎ line break'
                    : 'token ids (no tokenizer recorded for this dataset)'}
            </span>
          </div>
          <div className="tokens" aria-label="tokens (highlighted: completion steps that count in the loss)" data-testid="trace-tokens">
            {t.actions.map((a, i) => {
              const text = t.tokenTexts?.[i]
              return (
                <span
                  key={i}
                  className={t.mask[i] ? 'tok on' : 'tok'}
                  style={rho ? { background: rhoColor(rho[i] ?? null, rhoScale), color: rho[i] !== null && rho[i] !== undefined ? 'inherit' : undefined } : undefined}
                  title={`step ${i} · ${text !== undefined ? `${JSON.stringify(text)} (id ${a[0]})` : `token ${a[0]}`}${t.mask[i] ? ' (counted)' : ' (prompt, masked)'}${rho && rho[i] !== null && rho[i] !== undefined ? ` · ρ = ${fmt(rho[i]!)}` : ''}`}
                  data-id={a[0]}
                >
                  {showIds ? a[0] : text !== undefined ? visibleToken(text) : byteLevel ? byteText(a[0]) : a[0]}
                </span>
              )
            })}
          </div>
        </>
      ) : t.actions.length <= 3 ? (
        <table className="table compact step-list" aria-label="steps">
          <thead>
            <tr>
              <th>step</th>
              <th>action</th>
              {t.rewards && <th>reward</th>}
              {rho && <th>ρ_t</th>}
              {t.obsDim > 0 && <th>observation</th>}
            </tr>
          </thead>
          <tbody>
            {t.actions.map((a, i) => (
              <tr key={i}>
                <td>{i}</td>
                <td>{a.map((x) => fmt(x)).join(', ')}</td>
                {t.rewards && <td>{fmt(t.rewards[i])}</td>}
                {rho && (
                  <td className="mono" style={{ background: rhoColor(rho[i] ?? null, rhoScale) }}>
                    {rho[i] === null || rho[i] === undefined ? '–' : fmt(rho[i]!)}
                  </td>
                )}
                {t.obsDim > 0 && <td className="mono">{t.obs[i].map((x) => fmt(x, 3)).join(', ')}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        plot && (
          <Plot
            data={plot}
            height={rho ? 300 : 200}
            layout={{
              margin: { l: 48, r: 48, t: rho ? 30 : 10, b: 40 },
              ...(rho ? { legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom' } } : {}),
              // ρ_t on its own axis below the actions (it is a log ratio, not an action value)
              yaxis: { domain: rho ? [0.42, 1] : [0, 1], title: { text: 'action' } },
              yaxis2: { overlaying: 'y', side: 'right', showgrid: false, title: { text: 'reward' } },
              ...(rho ? { yaxis3: { domain: [0, 0.3], anchor: 'x', title: { text: 'ρ_t' }, zeroline: true } } : {}),
              // with ρ_t below, the shared step axis sits under it
              xaxis: { title: { text: 'step t' }, ...(rho ? { anchor: 'y3' } : {}) }
            }}
            testId="trace-plot"
            ariaLabel={rho ? 'per-step actions and rewards, and ρ_t below on its own axis' : 'per-step actions and rewards'}
          />
        )
      )}
      {Object.keys(meta).length > 0 && <pre className="meta">{JSON.stringify(meta, null, 1).slice(0, 2000)}</pre>}
    </div>
  )
}

function byteText(id: number): string {
  if (id === 32 || id === 10 || id === 9) return visibleToken(String.fromCharCode(id))
  if (id > 32 && id < 127) return String.fromCharCode(id)
  return `⟨${id}⟩`
}
