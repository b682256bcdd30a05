// A run's weight diagnostics (runs.diagnostics) for the views: fetched once per run and state
// — for a running run, again after each weight snapshot it saves, since the back end judges the
// last snapshot — through one small queue (the run list may name hundreds of runs, and each
// answer reads a snapshot and the run's dataset).
import { useEffect, useState } from 'react'
import { isImportanceWeighted } from '../../../shared/config.ts'
import type { Api, LiveProgress, RunInfo } from '../../../shared/contract.ts'
import type { RunDiagnostics } from '../../../shared/weight-stats.ts'

const cache = new Map<string, Promise<RunDiagnostics | null>>()
let queue: Promise<unknown> = Promise.resolve()

/** Whether a run's diagnostics can carry a warning: a method with trace weights, not queued. */
export function judgesWeights(run: RunInfo): boolean {
  return isImportanceWeighted(run.method) && run.status !== 'queued'
}

/** Changes when what runs.diagnostics says about the run may change: its state, and for a
 *  running run the snapshots it has saved, counted from its live step (`step`: the app's live
 *  progress; the run list's lastStep is not refreshed every step). */
function diagKey(run: RunInfo, step?: number): string {
  const at = step ?? run.live?.step ?? run.lastStep ?? 0
  const snaps = run.status === 'running' ? Math.floor(at / Math.max(1, run.config.train.snapshot_every)) : ''
  // createdAt tells apart runs of the same id in two projects
  return `${run.id}:${run.status}:${snaps}:${run.createdAt}`
}

export function fetchDiagnostics(api: Api, run: RunInfo, step?: number): Promise<RunDiagnostics | null> {
  const key = diagKey(run, step)
  let p = cache.get(key)
  if (!p) {
    p = queue.then(() => api.invoke('runs.diagnostics', { runId: run.id }))
    queue = p.catch(() => {})
    cache.set(key, p)
    p.catch(() => cache.delete(key))
  }
  return p
}

/** One run's diagnostics: undefined while reading, null for a method without weights. */
export function useRunDiagnostics(api: Api, run: RunInfo | undefined, step?: number): { diag: RunDiagnostics | null | undefined; error: string | null } {
  const [state, setState] = useState<{ key: string; diag: RunDiagnostics | null | undefined; error: string | null }>({ key: '', diag: undefined, error: null })
  const key = run ? diagKey(run, step) : ''
  useEffect(() => {
    if (!run || run.status === 'queued') return
    let alive = true
    fetchDiagnostics(api, run, step)
      .then((d) => alive && setState({ key, diag: d, error: null }))
      .catch((e: Error) => alive && setState({ key, diag: undefined, error: e.message }))
    return () => {
      alive = false
    }
  }, [api, key])
  // a late answer for another run (or an older state of this one, until the new one comes) is kept only for this run
  return state.key.split(':')[0] === String(run?.id) ? { diag: state.diag, error: state.error } : { diag: undefined, error: null }
}

/** The weight warnings of each listed run that can have them (runs.diagnostics), by run id;
 *  `live`: the app's live progress of running runs. */
export function useRunWarnings(api: Api, runs: RunInfo[], live: Record<number, LiveProgress> = {}): Record<number, string[]> {
  const [warn, setWarn] = useState<Record<number, string[]>>({})
  const judged = runs.filter(judgesWeights)
  const keys = judged.map((r) => diagKey(r, live[r.id]?.step)).join(',')
  useEffect(() => {
    let alive = true
    for (const r of judged) {
      fetchDiagnostics(api, r, live[r.id]?.step)
        .then((d) => alive && setWarn((w) => (JSON.stringify(w[r.id]) === JSON.stringify(d?.warnings ?? []) ? w : { ...w, [r.id]: d?.warnings ?? [] })))
        .catch(() => {})
    }
    return () => {
      alive = false
    }
  }, [api, keys])
  return warn
}
