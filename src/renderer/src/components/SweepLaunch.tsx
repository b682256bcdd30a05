// New run's "Sweep" (issue 15): the form's config with settings at dotted key paths taking each
// of a list of values, every combination (the grid) × a number of seeds, run as one stored group
// by sweeps.start (the same as `iwsft sweep CONFIG --grid KEY=V1,V2 --seeds N`). The back end
// resolves every point before the first run starts, so a key the config does not have starts
// nothing and its error is shown beside that axis. Once the first run is recorded, Compare
// opens with the group.
import { useEffect, useRef, useState } from 'react'
import { ApiError, type SweepStatus } from '../../../shared/contract.ts'
import { useApp } from '../state.tsx'
import { parseGridValues } from '../../../shared/sweep-grid.ts'

/** Keys worth sweeping (free text takes any other setting of the config). */
export const SWEEP_KEYS = ['weights.temp', 'weights.q.beta', 'weights.normalize', 'weights.aggregate', 'optim.lr', 'optim.weight_decay', 'train.steps', 'train.batch_size', 'method'] as const
const KEY_RE = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$/

interface Axis {
  key: string
  values: string
}

function axisError(a: Axis, all: Axis[]): { field: 'key' | 'values'; message: string } | null {
  const key = a.key.trim()
  if (!key) return { field: 'key', message: 'name a setting, e.g. weights.temp' }
  if (!KEY_RE.test(key)) return { field: 'key', message: 'a dotted key path such as weights.temp (lower case, digits, _)' }
  if (all.filter((b) => b.key.trim() === key).length > 1) return { field: 'key', message: 'each key once in a sweep' }
  const v = parseGridValues(a.values)
  if (!v.length) return { field: 'values', message: 'give the values, separated by commas: 1, 3, 10' }
  if (v.length > 50) return { field: 'values', message: 'at most 50 values a setting' }
  return null
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export function SweepLaunch(props: {
  /** the form's config, or null while it has errors */
  config: Record<string, unknown> | null
}): React.JSX.Element {
  const s = useApp()
  const [axes, setAxes] = useState<Axis[]>([{ key: 'weights.temp', values: '1, 3, 10' }])
  const [seedsText, setSeedsText] = useState('3')
  const [group, setGroup] = useState('')
  const [busy, setBusy] = useState(false)
  const [serverErr, setServerErr] = useState<{ axis: number | null; message: string } | null>(null)
  // a user who left New run while the sweep was starting is not taken to Compare
  const mounted = useRef(true)
  useEffect(() => {
    mounted.current = true
    return () => {
      mounted.current = false
    }
  }, [])
  const set = (i: number, patch: Partial<Axis>): void => {
    setServerErr(null)
    setAxes((xs) => xs.map((x, j) => (j === i ? { ...x, ...patch } : x)))
  }
  const errors = axes.map((a) => axisError(a, axes))
  const seeds = Number(seedsText)
  const seedsError = Number.isInteger(seeds) && seeds >= 1 && seeds <= 20 ? null : 'a whole number of seeds, 1 … 20'
  const points = axes.reduce((n, a) => n * parseGridValues(a.values).length, 1)
  const ok = !!props.config && !errors.some(Boolean) && !seedsError && axes.length > 0
  const total = points * (seedsError ? 0 : seeds)

  const start = async (): Promise<void> => {
    if (!ok || !props.config) return
    setBusy(true)
    setServerErr(null)
    const grid = axes.map((a) => ({ key: a.key.trim(), values: parseGridValues(a.values) }))
    try {
      const r = await s.api.invoke('sweeps.start', { config: props.config, grid, seeds, ...(group.trim() ? { group: group.trim() } : {}) })
      // the runs go one after another: wait for the first to be recorded, then show the group
      let st: SweepStatus = await s.api.invoke('sweeps.status', { group: r.group })
      while (st.status === 'running' && st.runIds.length === 0 && mounted.current) {
        await sleep(250)
        st = await s.api.invoke('sweeps.status', { group: r.group })
      }
      if (st.status === 'failed' && st.runIds.length === 0) throw new Error(st.error ?? 'the sweep failed before its first run')
      if (mounted.current) s.go('compare', { runIds: st.runIds, group: r.group })
    } catch (e) {
      const msg = (e as Error).message
      const issue = e instanceof ApiError ? e.issues.find((i) => /^grid\.\d+/.test(i.path)) : undefined
      const byPath = issue ? Number(issue.path.split('.')[1]) : -1
      const byKey = axes.findIndex((a) => msg.includes(`"${a.key.trim()}"`))
      const axis = byPath >= 0 ? byPath : byKey >= 0 ? byKey : null
      if (!mounted.current) return
      setServerErr({ axis, message: issue && axis !== null ? issue.message : msg })
      setBusy(false)
    }
  }

  return (
    <div className="sweep-panel" data-testid="sweep-panel">
      <p className="muted small">
        Every combination of the values below × the seeds, run one after another as one group; Compare then shows the group. Keys are the config's dotted settings (a key of another variant,
        such as weights.q.beta with q “current”, is refused: set the variant in the form first).
      </p>
      <datalist id="sweep-keys">
        {SWEEP_KEYS.map((k) => (
          <option key={k} value={k} />
        ))}
      </datalist>
      <div className="sweep-axes">
        {axes.map((a, i) => {
          // the back end's error about this axis names its key (sweeps.ts setPath)
          const mine = errors[i] ?? (serverErr?.axis === i ? { field: 'key' as const, message: serverErr.message } : null)
          const err = mine?.message
          return (
            <div className="sweep-axis" key={i} data-testid={`sweep-axis-${i}`}>
              <div className={`field${mine?.field === 'key' ? ' invalid' : ''}`}>
                <label htmlFor={`sweep-key-${i}`}>setting</label>
                <input
                  id={`sweep-key-${i}`}
                  className="mono"
                  list="sweep-keys"
                  value={a.key}
                  onChange={(e) => set(i, { key: e.target.value })}
                  data-testid={`sweep-key-${i}`}
                  aria-invalid={!!err}
                />
              </div>
              <div className={`field grow${mine?.field === 'values' ? ' invalid' : ''}`}>
                <label htmlFor={`sweep-values-${i}`}>values</label>
                <input
                  id={`sweep-values-${i}`}
                  value={a.values}
                  onChange={(e) => set(i, { values: e.target.value })}
                  placeholder="1, 3, 10"
                  data-testid={`sweep-values-${i}`}
                  aria-invalid={!!err}
                />
              </div>
              <button className="ghost small" onClick={() => setAxes((xs) => xs.filter((_, j) => j !== i))} disabled={axes.length === 1} aria-label={`remove the axis ${a.key}`}>
                Remove
              </button>
              {err && (
                <span className="field-error sweep-axis-error" role="alert" data-testid={`sweep-error-${i}`}>
                  {err}
                </span>
              )}
            </div>
          )
        })}
      </div>
      <div className="row gap wrap sweep-foot">
        <button className="ghost" onClick={() => setAxes((xs) => [...xs, { key: '', values: '' }])} disabled={axes.length >= 8} data-testid="sweep-add">
          Add a setting
        </button>
        <div className={`field${seedsError ? ' invalid' : ''}`}>
          <label htmlFor="sweep-seeds">seeds (0 … n−1)</label>
          <input
            id="sweep-seeds"
            className="narrow"
            inputMode="numeric"
            value={seedsText}
            onChange={(e) => setSeedsText(e.target.value)}
            data-testid="sweep-seeds"
            aria-invalid={!!seedsError}
          />
        </div>
        <div className="field">
          <label htmlFor="sweep-group">group</label>
          <input id="sweep-group" value={group} onChange={(e) => setGroup(e.target.value)} placeholder="automatic" maxLength={200} data-testid="sweep-group" />
        </div>
        <span className="small sweep-count" data-testid="sweep-count">
          {errors.some(Boolean) || seedsError ? '—' : `${points} grid point${points === 1 ? '' : 's'} × ${seeds} seed${seeds === 1 ? '' : 's'} = ${total} run${total === 1 ? '' : 's'}`}
        </span>
        <button className="primary" onClick={() => void start()} disabled={busy || !ok} data-testid="sweep-start">
          {busy ? 'Starting…' : `Start sweep${ok ? ` (${total} runs)` : ''}`}
        </button>
      </div>
      {seedsError && (
        <span className="field-error" role="alert">
          {seedsError}
        </span>
      )}
      {!props.config && <span className="field-error">fix the highlighted fields to start a sweep</span>}
      {serverErr && serverErr.axis === null && (
        <p className="error-text small" role="alert" data-testid="sweep-error">
          {serverErr.message}
        </p>
      )}
    </div>
  )
}
