import { useEffect, useMemo, useState } from 'react'
import { BackendStatusLine } from './components/BackendPanel.tsx'
import { ProjectPanel } from './components/ProjectPanel.tsx'
import { useApp, VIEWS } from './state.tsx'
import { CompareView } from './views/Compare.tsx'
import { CurationView } from './views/Curation.tsx'
import { DatasetsView } from './views/Datasets.tsx'
import { ImportedWeightsView, type ImportedWeightsApi } from './views/ImportedWeights.tsx'
import { InspectorView } from './views/Inspector.tsx'
import { ModelsView } from './views/Models.tsx'
import { NewRunView } from './views/NewRun.tsx'
import { RunsView } from './views/Runs.tsx'

export function App(): React.JSX.Element {
  const s = useApp()
  useEffect(() => {
    // Alt+1..8 switch views (Ctrl+digits belong to the browser's tabs)
    const f = (e: KeyboardEvent): void => {
      if (!e.altKey || e.ctrlKey || e.metaKey) return
      const v = VIEWS.find((x) => x.key === e.key)
      if (v) {
        e.preventDefault()
        s.go(v.id)
      }
    }
    // a file dropped outside the drop zone must not replace the app with the file
    const block = (e: DragEvent): void => {
      if (e.dataTransfer?.types.includes('Files')) e.preventDefault()
    }
    window.addEventListener('keydown', f)
    window.addEventListener('dragover', block)
    window.addEventListener('drop', block)
    return () => {
      window.removeEventListener('keydown', f)
      window.removeEventListener('dragover', block)
      window.removeEventListener('drop', block)
    }
  }, [s.go])
  const running = Object.keys(s.live).length
  const [projects, setProjects] = useState(false)
  const byoApi = useMemo<ImportedWeightsApi>(
    () => ({
      listDatasets: () => s.api.invoke('datasets.list', {}),
      inspect: (i) => s.api.invoke('byo.inspect', i),
      traceRho: (i) => s.api.invoke('byo.traceRho', i),
      importFile: (i) => s.api.invoke('byo.import', i),
      follow: (i) => s.api.invoke('byo.follow', i),
      unfollow: (i) => s.api.invoke('byo.unfollow', i),
      onFollowUpdate: (cb) => s.api.on('byo.update', cb),
      onFollowError: (cb) => s.api.on('byo.error', cb),
      ...(s.client.pickFile ? { pickFile: () => s.client.pickFile!('dataset') } : {})
    }),
    [s.api, s.client]
  )
  return (
    <div className="app">
      <nav className="sidebar" aria-label="Views">
        <div className="brand">
          <span className="logo" aria-hidden>
            w
          </span>
          <div>
            <div className="brand-name">IW-SFT Workbench</div>
            <button className="linklike brand-project" title={`${s.project?.file ?? ''} · switch project`} onClick={() => setProjects((v) => !v)} data-testid="project-button">
              {s.project?.name ?? '…'} ▾
            </button>
          </div>
        </div>
        {projects && <ProjectPanel onClose={() => setProjects(false)} />}
        <ul>
          {VIEWS.map((v) => (
            <li key={v.id}>
              <button
                className={`nav-item${s.view === v.id ? ' active' : ''}`}
                aria-current={s.view === v.id ? 'page' : undefined}
                onClick={() => s.go(v.id)}
                title={`Alt+${v.key}`}
                data-testid={`nav-${v.id}`}
              >
                <span>{v.label}</span>
                {v.id === 'runs' && running > 0 ? (
                  <span className="badge" aria-label={`${running} running`}>
                    {running}
                  </span>
                ) : (
                  <kbd>{v.key}</kbd>
                )}
              </button>
            </li>
          ))}
        </ul>
        <div className="sidebar-foot">
          <BackendStatusLine />
          <div className="muted small">{s.client.desktop ? 'Desktop' : 'Browser build · 127.0.0.1'}</div>
          <div className="muted small" title={s.project?.file}>
            {s.project?.file}
          </div>
        </div>
      </nav>
      <main className="content" id="main">
        {s.notice && (
          <div className="banner error" role="alert">
            {s.notice}
            <button className="ghost" onClick={() => s.setNotice(null)} aria-label="dismiss">
              ×
            </button>
          </div>
        )}
        {s.project?.damage && (
          <div className="banner error" role="alert" data-testid="damaged-banner">
            {s.project.damage}
          </div>
        )}
        {s.view === 'datasets' && <DatasetsView />}
        {s.view === 'curation' && <CurationView />}
        {s.view === 'new-run' && <NewRunView />}
        {s.view === 'runs' && <RunsView />}
        {s.view === 'inspector' && <InspectorView />}
        {s.view === 'compare' && <CompareView />}
        {s.view === 'byo' && <ImportedWeightsView api={byoApi} initialDatasetId={s.params.datasetId} />}
        {s.view === 'models' && <ModelsView />}
      </main>
    </div>
  )
}
