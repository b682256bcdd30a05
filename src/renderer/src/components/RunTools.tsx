// A run's checkpoints (step and metrics), exporting one (TensorFlow.js or safetensors) into a
// folder the user chooses, and one-click reports (HTML, Markdown, PDF, CSV) of one or more runs.
// The desktop uses native dialogs; the browser build takes a folder path (the server is local)
// and downloads reports. Nothing is replaced without asking: the back end answers 'exists' and
// the control asks before retrying with overwrite. Errors are shown beside the control.
import { useEffect, useState } from 'react'
import { ApiError, type CheckpointInfo, type ReportFile, type RunInfo } from '../../../shared/contract.ts'
import { fmt } from '../lib/format.ts'
import { useApp } from '../state.tsx'

const METRIC_ORDER = ['loss', 'normalized_score', 'expected_reward', 'eval_return', 'ess_fraction']

/** Save files the server sent (browser build): a download per file. */
function downloadFiles(files: ReportFile[]): void {
  for (const f of files) {
    let blob: Blob
    if (f.encoding === 'base64') {
      const bin = atob(f.content)
      const bytes = new Uint8Array(bin.length)
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i)
      blob = new Blob([bytes], { type: f.mime })
    } else blob = new Blob([f.content], { type: f.mime })
    const url = URL.createObjectURL(blob)
    const a = document.createElement('a')
    a.href = url
    a.download = f.name
    a.rel = 'noopener'
    document.body.appendChild(a)
    a.click()
    a.remove()
    setTimeout(() => URL.revokeObjectURL(url), 10_000)
  }
}

function dirOf(file: string | undefined): string {
  if (!file) return ''
  const i = Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\'))
  return i > 0 ? file.slice(0, i) : ''
}

export function CheckpointsPanel({ run }: { run: RunInfo }): React.JSX.Element {
  const s = useApp()
  const [cks, setCks] = useState<CheckpointInfo[] | null>(null)
  const [err, setErr] = useState<string | null>(null)
  useEffect(() => {
    let alive = true
    setCks(null)
    const load = (): void => {
      s.api
        .invoke('runs.checkpoints', { runId: run.id })
        .then((c) => alive && setCks(c))
        .catch((e: Error) => alive && setErr(e.message))
    }
    load()
    // while the run goes, new checkpoints appear every train.checkpoint_every steps
    const t = run.status === 'running' ? setInterval(load, 5000) : null
    return () => {
      alive = false
      if (t) clearInterval(t)
    }
  }, [s.api, run.id, run.status, run.lastStep])
  const keys = cks ? METRIC_ORDER.filter((k) => cks.some((c) => k in c.metrics)) : []
  return (
    <div className="panel" data-testid={`checkpoints-${run.id}`}>
      <div className="row gap wrap">
        <h3>Checkpoints</h3>
        <span className="muted small">saved every train.checkpoint_every steps ({run.config.train.checkpoint_every ?? 'end only'}) and at the end</span>
      </div>
      {err && <p className="error-text">{err}</p>}
      {cks && cks.length === 0 && <p className="muted small">No checkpoint saved yet.</p>}
      {cks && cks.length > 0 && (
        <div className="scroll-y ck-table">
          <table className="table compact" data-testid="ck-table">
            <thead>
              <tr>
                <th className="num">step</th>
                {keys.map((k) => (
                  <th key={k} className="num">
                    {k}
                  </th>
                ))}
                <th>saved</th>
              </tr>
            </thead>
            <tbody>
              {cks.map((c) => (
                <tr key={c.id}>
                  <td className="num">{c.step}</td>
                  {keys.map((k) => (
                    <td key={k} className="num">
                      {fmt(c.metrics[k])}
                    </td>
                  ))}
                  <td className="muted small nowrap">{c.createdAt.replace('T', ' ').slice(0, 19)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cks && cks.length > 0 && <ExportControls run={run} steps={cks.map((c) => c.step)} />}
    </div>
  )
}

function ExportControls({ run, steps }: { run: RunInfo; steps: number[] }): React.JSX.Element {
  const s = useApp()
  const desktop = !!s.client.pickFile && s.caps?.dialogs
  const [format, setFormat] = useState<'tfjs' | 'safetensors'>('safetensors')
  const [step, setStep] = useState<number>(steps[steps.length - 1])
  useEffect(() => setStep(steps[steps.length - 1]), [steps.join(',')])
  const projectDir = dirOf(s.project?.file)
  const [dir, setDir] = useState('')
  const suggested = `${projectDir}/exports/run${run.id}-step${step}-${format}`
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<string | null>(null)
  const [ask, setAsk] = useState<string | null>(null)
  const [done, setDone] = useState<string | null>(null)

  const exportTo = async (outDir: string, overwrite: boolean): Promise<void> => {
    setBusy(true)
    setErr(null)
    setAsk(null)
    setDone(null)
    try {
      const r = await s.api.invoke('runs.export', { runId: run.id, step, format, outDir, overwrite })
      setDone(`wrote ${r.files.length} file${r.files.length === 1 ? '' : 's'} (step ${r.step}) to ${dirOf(r.files[0])}: ${r.files.map((f) => f.slice(dirOf(f).length + 1)).join(', ')}`)
    } catch (e) {
      if (e instanceof ApiError && e.code === 'exists') setAsk(e.message)
      else setErr((e as Error).message)
    } finally {
      setBusy(false)
    }
  }
  const target = (): string => dir.trim() || suggested
  const start = async (): Promise<void> => {
    if (desktop) {
      const picked = await s.client.pickFile!('folder')
      if (!picked) return
      setDir(picked)
      await exportTo(picked, false)
    } else await exportTo(target(), false)
  }
  return (
    <div className="export-box">
      <div className="row gap wrap">
        <strong className="small">Export</strong>
        <label className="inline small">
          step
          <select value={step} onChange={(e) => setStep(Number(e.target.value))} aria-label="checkpoint step" data-testid="export-step">
            {steps.map((st) => (
              <option key={st} value={st}>
                {st}
              </option>
            ))}
          </select>
        </label>
        <label className="inline small">
          format
          <select value={format} onChange={(e) => setFormat(e.target.value as 'tfjs' | 'safetensors')} aria-label="export format" data-testid="export-format">
            <option value="safetensors">safetensors (PyTorch)</option>
            <option value="tfjs">TensorFlow.js</option>
          </select>
        </label>
        {desktop && (
          <button onClick={() => void start()} disabled={busy} data-testid="export-button">
            {busy ? 'Exporting…' : 'Export to folder…'}
          </button>
        )}
      </div>
      {!desktop && (
        <div className="row gap">
          <input
            className="grow path-input"
            value={dir}
            placeholder={suggested}
            onChange={(e) => setDir(e.target.value)}
            aria-label="export folder on the server's machine"
            title="a folder on the machine running iwsft serve (created if missing)"
            data-testid="export-dir"
          />
          <button onClick={() => void start()} disabled={busy} data-testid="export-button">
            {busy ? 'Exporting…' : 'Export'}
          </button>
        </div>
      )}
      {ask && (
        <div className="confirm" role="alertdialog" aria-label="replace files?" data-testid="export-confirm">
          <span>{ask}</span>
          <button className="danger" onClick={() => void exportTo(dir.trim() || target(), true)} data-testid="export-overwrite">
            Replace
          </button>
          <button onClick={() => setAsk(null)}>Keep</button>
        </div>
      )}
      {err && (
        <p className="error-text small" data-testid="export-error">
          {err}
        </p>
      )}
      {done && (
        <p className="ok-text small" data-testid="export-done">
          {done}
        </p>
      )}
    </div>
  )
}

type ReportFormat = 'html' | 'md' | 'pdf' | 'csv'
const REPORT_LABEL: Record<ReportFormat, string> = { html: 'HTML', md: 'Markdown', pdf: 'PDF', csv: 'CSV (metrics, weights)' }

/** One-click report of the given runs. */
export function ReportControls({ runIds, compact }: { runIds: number[]; compact?: boolean }): React.JSX.Element {
  const s = useApp()
  const desktop = !!s.client.pickFile && s.caps?.dialogs
  const [format, setFormat] = useState<ReportFormat>('html')
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<string | null>(null)
  const [ask, setAsk] = useState<{ message: string; out: string } | null>(null)
  const [done, setDone] = useState<string | null>(null)
  const make = async (out?: string, overwrite = false): Promise<void> => {
    setBusy(true)
    setErr(null)
    setAsk(null)
    setDone(null)
    try {
      const r = await s.api.invoke('reports.make', { runIds, format, ...(out ? { out, overwrite } : {}) })
      if (r.files.length) {
        downloadFiles(r.files)
        setDone(`downloaded ${r.files.map((f) => f.name).join(', ')}`)
      } else setDone(`saved ${r.written.join(', ')}`)
    } catch (e) {
      if (e instanceof ApiError && e.code === 'exists' && out) setAsk({ message: e.message, out })
      else setErr((e as Error).message)
    } finally {
      setBusy(false)
    }
  }
  const start = async (): Promise<void> => {
    if (desktop) {
      const out = await s.client.pickFile!(format === 'csv' ? 'folder' : (`report-${format}` as const))
      if (!out) return
      // the save dialog already asked before replacing a file
      await make(out, format !== 'csv')
    } else await make()
  }
  return (
    <div className={compact ? 'report-box compact' : 'report-box'} data-testid="report-controls">
      <div className="row gap wrap">
        <strong className="small">Report{runIds.length > 1 ? ` of ${runIds.length} runs` : ''}</strong>
        <select value={format} onChange={(e) => setFormat(e.target.value as ReportFormat)} aria-label="report format" data-testid="report-format">
          {(Object.keys(REPORT_LABEL) as ReportFormat[]).map((f) => (
            <option key={f} value={f}>
              {REPORT_LABEL[f]}
            </option>
          ))}
        </select>
        <button onClick={() => void start()} disabled={busy || !runIds.length} data-testid="report-button">
          {busy ? 'Making…' : desktop ? 'Save report…' : 'Download report'}
        </button>
      </div>
      {ask && (
        <div className="confirm" role="alertdialog" aria-label="replace files?">
          <span>{ask.message}</span>
          <button className="danger" onClick={() => void make(ask.out, true)}>
            Replace
          </button>
          <button onClick={() => setAsk(null)}>Keep</button>
        </div>
      )}
      {err && (
        <p className="error-text small" data-testid="report-error">
          {err}
        </p>
      )}
      {done && (
        <p className="ok-text small" data-testid="report-done">
          {done}
        </p>
      )}
    </div>
  )
}
