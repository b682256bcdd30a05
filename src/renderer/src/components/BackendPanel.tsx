// The compute backend, calmly: a status line in the sidebar footer (what new runs use), and on
// request a details panel like `iwsft doctor`: each backend in the order "auto" tries them,
// available or not and why, the native installs, the GPU, and "Install native backend" with a
// progress bar (step k of n and what it is doing) and a clear error when a step fails.
import { useCallback, useEffect, useState } from 'react'
import type { BackendInstallProgress, BackendStatus } from '../../../shared/contract.ts'
import { useApp } from '../state.tsx'

export function BackendStatusLine(): React.JSX.Element {
  const s = useApp()
  const [status, setStatus] = useState<BackendStatus | null>(null)
  const [err, setErr] = useState<string | null>(null)
  const [open, setOpen] = useState(false)
  const [install, setInstall] = useState<BackendInstallProgress | null>(null)
  const load = useCallback(
    (refresh = false) => {
      setErr(null)
      s.api
        .invoke('backend.status', { refresh })
        .then((st) => {
          setStatus(st)
          if (st.install) setInstall(st.install)
        })
        .catch((e: Error) => setErr(e.message))
    },
    [s.api]
  )
  useEffect(() => load(false), [load])
  useEffect(
    () =>
      s.api.on('backend.install', (p) => {
        setInstall(p)
        if (p.status === 'completed') load(true)
      }),
    [s.api, load]
  )
  const installing = install?.status === 'running'
  return (
    <>
      <button className="linklike backend-line small" onClick={() => setOpen((v) => !v)} aria-expanded={open} data-testid="backend-status" title="compute backend: details">
        <span className={`dot ${status?.active ? (status.active.startsWith('native') ? 'ok' : 'warn') : err ? 'bad' : ''}`} aria-hidden />
        {installing ? `installing native backend… ${install!.step}/${install!.total}` : status ? `backend: ${status.active ?? 'none'}` : err ? 'backend: unknown' : 'backend: checking…'}
      </button>
      {open && <BackendDetails status={status} err={err} install={install} onClose={() => setOpen(false)} onRefresh={() => load(true)} />}
    </>
  )
}

function BackendDetails({
  status,
  err,
  install,
  onClose,
  onRefresh
}: {
  status: BackendStatus | null
  err: string | null
  install: BackendInstallProgress | null
  onClose(): void
  onRefresh(): void
}): React.JSX.Element {
  const s = useApp()
  const [startErr, setStartErr] = useState<string | null>(null)
  const [gpu, setGpu] = useState(false)
  const installing = install?.status === 'running'
  const nativeCpu = status?.native.find((n) => n.variant === 'cpu')
  const start = (): void => {
    setStartErr(null)
    s.api.invoke('backend.install', { gpu }).catch((e: Error) => setStartErr(e.message))
  }
  return (
    <div className="backend-panel panel" role="dialog" aria-label="compute backends" data-testid="backend-panel" onKeyDown={(e) => e.key === 'Escape' && onClose()}>
      <div className="row gap">
        <h3>Compute backends</h3>
        <span className="spacer" />
        <button className="ghost small" onClick={onRefresh} disabled={installing} data-testid="backend-refresh">
          Check again
        </button>
        <button className="ghost" onClick={onClose} aria-label="close">
          ×
        </button>
      </div>
      {err && <p className="error-text small">{err}</p>}
      {!status && !err && <p className="muted small">checking which backends load here…</p>}
      {status && (
        <>
          <p className="small">
            New runs with backend <span className="mono">auto</span> use <strong data-testid="backend-active">{status.active ?? 'none'}</strong>: the first that loads of native GPU, native
            CPU, WebAssembly, plain JavaScript.
          </p>
          <table className="table compact backend-table" data-testid="backend-list">
            <tbody>
              {status.backends.map((b) => (
                <tr key={b.name} data-testid={`backend-${b.name}`}>
                  <td className="nowrap">
                    <span className={`dot ${b.available ? 'ok' : 'bad'}`} aria-hidden /> <span className="mono">{b.name}</span>
                    {b.name === status.active && <span className="status completed">active</span>}
                  </td>
                  <td className={b.available ? 'small' : 'small muted'}>{b.available ? b.detail : `not available: ${b.detail}`}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="muted small">GPU: {status.gpu.detail}</div>
          {status.native.map((n) => (
            <div key={n.variant} className="muted small">
              native {n.variant}: {n.installed ? `installed — ${n.detail}` : n.detail}
            </div>
          ))}
        </>
      )}
      <div className="install-box">
        <div className="row gap wrap">
          <button className={nativeCpu?.installed ? '' : 'primary'} onClick={start} disabled={installing || !status} data-testid="backend-install">
            {installing ? 'Installing…' : nativeCpu?.installed && !gpu ? 'Verify native backend' : 'Install native backend'}
          </button>
          {status?.gpu.present && (
            <label className="inline small">
              <input type="checkbox" checked={gpu} onChange={(e) => setGpu(e.target.checked)} disabled={installing} /> GPU build (CUDA)
            </label>
          )}
          <span className="muted small">TensorFlow's C library from its official wheel, built into a cache outside the app; about 6× faster than WebAssembly.</span>
        </div>
        {install && (
          <div className="install-progress" data-testid="backend-install-progress">
            <progress value={install.status === 'completed' ? 1 : (install.step - 1 + (install.fraction ?? 0)) / Math.max(1, install.total)} max={1} aria-label="install progress" />
            <span className="small">
              {install.status === 'completed'
                ? `done: all ${install.total} steps`
                : `step ${Math.max(1, install.step)} of ${install.total} · ${install.label}${install.message ? ` · ${install.message}` : ''}`}
            </span>
          </div>
        )}
        {install?.status === 'completed' && <p className="ok-text small">{install.message ?? 'installed'}. New runs use it.</p>}
        {install?.status === 'failed' && (
          <pre className="error-text small install-error" data-testid="backend-install-error">
            {install.error}
          </pre>
        )}
        {startErr && <p className="error-text small">{startErr}</p>}
      </div>
    </div>
  )
}
