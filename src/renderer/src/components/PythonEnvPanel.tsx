// The Python trainer's environment (issue 18) in New run's "accelerate on this machine" panel:
// the installed versions when it is ready; else what is wrong, the command that makes it and an
// "Install Python environment" button (python.install), with its progress from python.install
// events. `onReady` is told the new status, so the panel's owner can ask for a new plan.
import { useEffect, useState } from 'react'
import type { PythonInstallProgress, PythonStatus } from '../../../shared/launch.ts'
import { useApp } from '../state.tsx'
import { CopyCommand } from './CopyCommand.tsx'

export function PythonEnvPanel(props: { status: PythonStatus; onChange(s: PythonStatus): void }): React.JSX.Element {
  const { status, onChange } = props
  const s = useApp()
  const [progress, setProgress] = useState<PythonInstallProgress | null>(null)
  const [err, setErr] = useState<string | null>(null)
  useEffect(() => s.api.on('python.install', (p) => setProgress(p)), [s.api])
  const installing = progress?.status === 'running'
  const install = (): void => {
    setErr(null)
    setProgress({ step: 0, total: 1, label: 'starting', status: 'running' })
    s.api
      .invoke('python.install', {})
      .then((st) => {
        onChange(st)
        setProgress((p) => (p?.status === 'running' ? { ...p, step: p.total, status: 'completed' } : p))
      })
      .catch((e: Error) => {
        setErr(e.message)
        setProgress((p) => (p?.status === 'running' ? { ...p, status: 'failed', error: e.message } : p))
      })
  }
  const versions = Object.entries(status.versions)
  return (
    <div className="python-env" data-testid="python-env">
      <div className="row gap">
        <span className={`dot ${status.ready ? 'ok' : 'warn'}`} aria-hidden />
        <strong className="small">Python environment</strong>
        <span className="muted small mono ellipsis" title={status.venv}>
          {status.venv}
        </span>
      </div>
      {status.ready ? (
        <p className="small" data-testid="python-versions">
          ready · {versions.length ? versions.map(([k, v]) => `${k} ${v}`).join(' · ') : 'no versions reported'}
        </p>
      ) : (
        <p className="field-warn" data-testid="python-problem">
          {status.problem ?? 'not installed'}
        </p>
      )}
      {/* a ready environment is not offered again from here (`iwsft python install --force` remakes it) */}
      {(!status.ready || progress) && (
        <div className="row gap">
          <button className="primary" onClick={install} disabled={installing || status.ready} data-testid="python-install">
            {installing ? 'Installing…' : 'Install Python environment'}
          </button>
          <span className="muted small">torch, transformers, trl, accelerate and peft from the package index, hash-checked (a few GB)</span>
        </div>
      )}
      {!status.ready && <CopyCommand command={status.installCommand} label="or in a terminal" testId="python-install-command" />}
      {progress && (
        <div className="install-progress" data-testid="python-install-progress">
          <progress value={progress.status === 'completed' ? 1 : Math.max(0, progress.step - 1) / Math.max(1, progress.total)} max={1} aria-label="Python install progress" />
          <span className="small">
            {progress.status === 'completed'
              ? `done: all ${progress.total} steps`
              : `step ${Math.max(1, progress.step)} of ${progress.total} · ${progress.label}${progress.message ? ` · ${progress.message}` : ''}`}
          </span>
        </div>
      )}
      {(err ?? progress?.error) && (
        <pre className="error-text small install-error" data-testid="python-install-error">
          {err ?? progress?.error}
        </pre>
      )}
    </div>
  )
}
