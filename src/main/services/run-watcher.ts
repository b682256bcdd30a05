// Following the project file (issue 16): runs started by another process (`iwsft run`, a second
// window, a suite) appear and update live in the app. Every `intervalMs` the watcher asks SQLite
// whether anyone else committed (PRAGMA data_version, no table read); only then it reads the runs'
// states (one small query, no configs) and the new metric rows of the runs others are running,
// and emits the events this back end's own jobs emit: run.start, run.metrics, run.progress,
// run.end and project.changed. Runs of this back end's own jobs are left to their job's events.
import type { LiveProgress } from '../../shared/contract.ts'
import type { ProjectStore, RunState } from '../store/types.ts'
import type { ServiceContext } from './context.ts'

export interface RunWatcher {
  /** one poll now (the timer calls it every intervalMs) */
  tick(): void
  stop(): void
}

interface Seen {
  state: RunState
  total: number
  /** the last metrics read, by key (a run.end's final values) */
  last: Record<string, number>
}

export function watchRuns(ctx: ServiceContext, intervalMs = 1000): RunWatcher {
  let store: ProjectStore | null = null
  let version = -1
  let seen = new Map<number, Seen>()
  let datasets = ''

  /** this back end's own run (its job emits the events), or one whose owner is this process */
  const ours = (s: RunState): boolean => ctx.jobs.has(s.id) || s.ownerPid === process.pid

  const follow = (st: RunState, prev: Seen | undefined): Seen => {
    const total = prev?.total ?? store!.getRun(st.id)?.config.train.steps ?? 0
    const entry: Seen = { state: st, total, last: prev?.last ?? {} }
    if (ours(st)) return entry
    const before = prev?.state.lastStep ?? -1
    if (st.lastStep !== null && st.lastStep > before) {
      // the new metric rows, one run.metrics event per step (as a job emits them)
      // only up to the step runStates() saw: rows the run commits between the two reads come
      // with the next tick (read here too, they would be emitted twice)
      const byStep = new Map<number, Record<string, number>>()
      for (const p of store!.getMetricsAfter(st.id, before)) {
        if (p.step <= st.lastStep) (byStep.get(p.step) ?? byStep.set(p.step, {}).get(p.step)!)[p.key] = p.value
      }
      for (const [step, metrics] of byStep) {
        Object.assign(entry.last, metrics)
        ctx.emit('run.metrics', { runId: st.id, step, metrics })
      }
    }
    if (st.status === 'running' && st.lastStep !== null && st.lastStep > before) {
      const elapsedMs = st.startedAt ? Math.max(0, Date.now() - Date.parse(st.startedAt)) : 0
      const step = Math.min(st.lastStep, total)
      const live: LiveProgress = { phase: 'train', step, total, elapsedMs, etaMs: step > 0 ? (elapsedMs / step) * (total - step) : 0 }
      ctx.followed.set(st.id, live)
      ctx.emit('run.progress', { runId: st.id, ...live })
    }
    return entry
  }

  const tick = (): void => {
    const now = ctx.store
    if (now !== store) {
      // a project opened (or switched): what is there now is the baseline, nothing to announce
      store = now
      version = -1
      seen = new Map()
      ctx.followed.clear()
      datasets = ''
    }
    let v: number
    try {
      v = now.dataVersion()
    } catch {
      return // the project is closing
    }
    if (v === version) return
    const first = version === -1
    version = v
    const states = now.runStates()
    const next = new Map<number, Seen>()
    let changed = false
    for (const st of states) {
      const prev = seen.get(st.id)
      if (first) {
        // the baseline: follow runs already going elsewhere from their current step
        next.set(st.id, { state: st, total: now.getRun(st.id)?.config.train.steps ?? 0, last: {} })
        continue
      }
      if (!prev) {
        changed = true
        if (st.status === 'running' && !ours(st)) ctx.emit('run.start', { runId: st.id, backend: now.getRun(st.id)?.backend ?? '', total: now.getRun(st.id)?.config.train.steps ?? 0 })
      } else if (prev.state.status !== st.status || prev.state.name !== st.name || prev.state.group !== st.group) changed = true
      const entry = follow(st, prev)
      next.set(st.id, entry)
      const ended = st.status !== 'running' && st.status !== 'queued'
      if (ended && prev && (prev.state.status === 'running' || prev.state.status === 'queued') && !ours(st)) {
        ctx.followed.delete(st.id)
        const status = st.status === 'completed' ? 'completed' : st.status === 'cancelled' ? 'cancelled' : 'failed'
        ctx.emit('run.end', { runId: st.id, status, ...(st.error ? { error: st.error } : {}), final: entry.last })
      }
    }
    for (const id of seen.keys()) {
      if (next.has(id)) continue
      changed = true // deleted by another process
      ctx.followed.delete(id)
    }
    seen = next
    const ds = now.datasetIds().join(',')
    if (!first && ds !== datasets) ctx.emit('project.changed', { what: 'datasets' })
    datasets = ds
    if (changed) ctx.emit('project.changed', { what: 'runs' })
  }

  const timer = setInterval(tick, intervalMs)
  timer.unref()
  tick()
  return { tick, stop: () => clearInterval(timer) }
}
