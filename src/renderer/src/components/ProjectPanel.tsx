// Projects: the open project, the recent list, open or create another by path (the desktop
// app also offers its native pickers here and in the File menu).
import { useState } from 'react'
import { useApp } from '../state.tsx'

export function ProjectPanel({ onClose }: { onClose(): void }): React.JSX.Element {
  const s = useApp()
  const [path, setPath] = useState('')
  const [err, setErr] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const open = async (file: string, create: boolean): Promise<void> => {
    setBusy(true)
    setErr(null)
    try {
      await s.api.invoke('project.open', { file, create })
      s.refresh()
      onClose()
    } catch (e) {
      setErr((e as Error).message)
    } finally {
      setBusy(false)
    }
  }
  const pick = async (kind: 'project-open' | 'project-new'): Promise<void> => {
    const f = await s.client.pickFile?.(kind)
    if (f) await open(f, kind === 'project-new')
  }
  return (
    <div className="project-panel panel" role="dialog" aria-label="projects" data-testid="project-panel" onKeyDown={(e) => e.key === 'Escape' && onClose()}>
      <div className="row gap">
        <h3>Projects</h3>
        <span className="spacer" />
        <button className="ghost" onClick={onClose} aria-label="close">
          ×
        </button>
      </div>
      <div className="muted small">Open: {s.project?.file}</div>
      {s.project && s.project.recent.length > 1 && (
        <>
          <div className="small muted">Recent</div>
          <ul className="plain-list">
            {s.project.recent
              .filter((f) => f !== s.project?.file)
              .map((f) => (
                <li key={f}>
                  <button className="linklike ellipsis" title={f} onClick={() => void open(f, false)} disabled={busy}>
                    {f.split(/[\\/]/).pop()}
                  </button>
                </li>
              ))}
          </ul>
        </>
      )}
      {s.client.pickFile ? (
        <div className="row gap wrap">
          <button onClick={() => void pick('project-open')} disabled={busy}>
            Open…
          </button>
          <button onClick={() => void pick('project-new')} disabled={busy}>
            New…
          </button>
        </div>
      ) : (
        <>
          <input value={path} onChange={(e) => setPath(e.target.value)} placeholder="/path/to/project.iwsft" aria-label="project file path" data-testid="project-path" autoFocus />
          <div className="row gap">
            <button onClick={() => void open(path.trim(), false)} disabled={busy || !path.trim()} data-testid="project-open">
              Open
            </button>
            <button onClick={() => void open(path.trim(), true)} disabled={busy || !path.trim()} data-testid="project-create">
              Create
            </button>
          </div>
        </>
      )}
      {err && (
        <p className="error-text small" role="alert">
          {err}
        </p>
      )}
    </div>
  )
}
