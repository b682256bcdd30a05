// App-wide state: the client, capabilities, project, datasets and runs (refreshed on the
// back end's project.changed events), live progress of running jobs, and navigation.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState } from 'react'
import type { Api, Capabilities, DatasetInfo, LiveProgress, ProjectInfo, RunInfo } from '../../shared/contract.ts'
import type { Client } from './api.ts'

export type View = 'datasets' | 'curation' | 'new-run' | 'runs' | 'inspector' | 'compare' | 'byo' | 'models'
export const VIEWS: Array<{ id: View; label: string; key: string }> = [
  { id: 'datasets', label: 'Datasets', key: '1' },
  { id: 'curation', label: 'Curation', key: '2' },
  { id: 'new-run', label: 'New run', key: '3' },
  { id: 'runs', label: 'Live runs', key: '4' },
  { id: 'inspector', label: 'Weight inspector', key: '5' },
  { id: 'compare', label: 'Compare', key: '6' },
  { id: 'byo', label: 'Imported weights', key: '7' },
  { id: 'models', label: 'Models', key: '8' }
]

export interface NavParams {
  datasetId?: number
  runIds?: number[]
  presetId?: number
  /** a run group to show (New run's sweep hands its group to Compare) */
  group?: string
}

export interface AppState {
  client: Client
  api: Api
  caps: Capabilities | null
  project: ProjectInfo | null
  datasets: DatasetInfo[]
  runs: RunInfo[]
  live: Record<number, LiveProgress>
  view: View
  params: NavParams
  go(view: View, params?: NavParams): void
  refresh(): void
  notice: string | null
  setNotice(s: string | null): void
}

const Ctx = createContext<AppState | null>(null)

export function useApp(): AppState {
  const s = useContext(Ctx)
  if (!s) throw new Error('useApp outside AppProvider')
  return s
}

export function AppProvider({ client, children }: { client: Client; children: React.ReactNode }): React.JSX.Element {
  const api = client.api
  const [caps, setCaps] = useState<Capabilities | null>(null)
  const [project, setProject] = useState<ProjectInfo | null>(null)
  const [datasets, setDatasets] = useState<DatasetInfo[]>([])
  const [runs, setRuns] = useState<RunInfo[]>([])
  const [live, setLive] = useState<Record<number, LiveProgress>>({})
  const [view, setView] = useState<View>(() => VIEWS.find((v) => `#${v.id}` === location.hash.split('?')[0])?.id ?? 'datasets')
  const [params, setParams] = useState<NavParams>({})
  const [notice, setNotice] = useState<string | null>(null)
  const pending = useRef<number | null>(null)

  const loadAll = useCallback(() => {
    void api
      .invoke('project.info', {})
      .then(setProject)
      .catch((e) => setNotice(String(e.message ?? e)))
    void api
      .invoke('datasets.list', {})
      .then(setDatasets)
      .catch(() => {})
    void api
      .invoke('runs.list', {})
      .then((r) => {
        setRuns(r)
        setLive((prev) => {
          const next: Record<number, LiveProgress> = {}
          for (const run of r) if (run.status === 'running' && (run.live || prev[run.id])) next[run.id] = run.live ?? prev[run.id]
          return next
        })
      })
      .catch(() => {})
  }, [api])

  // coalesce bursts of project.changed into one reload
  const refresh = useCallback(() => {
    if (pending.current !== null) return
    pending.current = window.setTimeout(() => {
      pending.current = null
      loadAll()
    }, 60)
  }, [loadAll])

  useEffect(() => {
    void api
      .invoke('app.capabilities', {})
      .then(setCaps)
      .catch(() => {})
    loadAll()
    const offs = [
      api.on('project.changed', () => refresh()),
      api.on('run.progress', (p) => setLive((l) => ({ ...l, [p.runId]: { phase: p.phase, step: p.step, total: p.total, elapsedMs: p.elapsedMs, etaMs: p.etaMs } }))),
      api.on('run.end', (p) =>
        setLive((l) => {
          const n = { ...l }
          delete n[p.runId]
          return n
        })
      )
    ]
    return () => offs.forEach((o) => o())
  }, [api, loadAll, refresh])

  const go = useCallback((v: View, p: NavParams = {}) => {
    setView(v)
    setParams(p)
    history.replaceState(null, '', `${location.pathname}${location.search}#${v}`)
  }, [])

  const value = useMemo<AppState>(
    () => ({ client, api, caps, project, datasets, runs, live, view, params, go, refresh, notice, setNotice }),
    [client, api, caps, project, datasets, runs, live, view, params, go, refresh, notice]
  )
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>
}
