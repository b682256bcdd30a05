// What every namespace of the services shares: the open project (project.open swaps it), the
// event bus, the run jobs this back end started, and lookups that fail with the contract's
// not_found. Each namespace file (project.ts, datasets.ts, runs.ts, …) takes a ServiceContext and
// returns its handlers; index.ts composes them.
import { ApiError, type EventName, type EventPayloads, type LiveProgress } from '../../shared/contract.ts'
import type { TraceDataset } from '../common/trace.ts'
import type { RunHandle } from '../jobs/types.ts'
import type { HtmlPrinter } from '../report/index.ts'
import type { DatasetSummary, ProjectStore, RunRow } from '../store/types.ts'
import type { RecentList } from './recent.ts'

export interface ServicesOptions {
  /** the project to open first (created when missing, with the built-in datasets) */
  projectFile: string
  transport: 'http' | 'cli'
  recent?: RecentList
  /** the desktop shell runs this back end (its window has native dialogs) */
  dialogs?: boolean
  /** files under this folder are uploads: their source is recorded as "upload:NAME" */
  uploadDir?: string
  /** what happens to running jobs when the window (or server) closes */
  onClose?: string
  /** turns report HTML into PDF (the desktop shell prints with Electron's printToPDF); default headless Chromium */
  printer?: HtmlPrinter
  /** confine the paths requests name to the project's folder, the upload folder, these folders
   *  and what is granted later (allowed-paths.ts); `hint` tells the user how to grant one. The
   *  command line, which has the user's own rights, leaves this out. */
  confine?: { allowDirs?: string[]; hint: string }
  /** follow the project file for runs of other processes (run-watcher.ts), polling every this
   *  many ms; default 1000 for the server (the app), off for the command line */
  watchMs?: number | null
  /** take a project for this back end before it is opened (project-lock.ts); returns the release */
  claimProject?: (file: string) => () => void
  /** launch.start runs this command line, with the job folder appended, instead of the Python
   *  trainer under torchrun / accelerate launch (tests: a fake trainer; jobs/launch-job.ts) */
  trainerCommand?: string[]
}

export type Listener = <E extends EventName>(event: E, payload: EventPayloads[E]) => void

/** A run job this back end started (runs.start, runs.resume), with its last progress. */
export interface Job {
  handle: RunHandle
  live: LiveProgress | null
}

export interface ServiceContext {
  readonly opts: ServicesOptions
  /** the open project */
  readonly store: ProjectStore
  readonly emit: Listener
  /** running jobs by run id */
  readonly jobs: Map<number, Job>
  /** runs another process is running, with their last progress as the watcher read it */
  readonly followed: Map<number, LiveProgress>
  /** a dataset's traces (the last few are kept in memory) */
  dataset(id: number): TraceDataset
  /** a dataset's summary, or not_found */
  datasetSummary(id: number): DatasetSummary
  forgetDataset(id: number): void
  /** a run, or not_found */
  run(id: number): RunRow
  /** `f` runs before the project closes (another one is opened, or the back end stops) */
  onProjectClose(f: () => Promise<void> | void): void
  /** close the open project (after the onProjectClose hooks, releasing its claim) and work on
   *  `next`, whose claim `release` gives up (project-lock.ts) */
  switchProject(next: ProjectStore, release?: () => void): Promise<void>
  /** close the open project (after the onProjectClose hooks); the back end stops */
  close(): Promise<void>
}

export function createContext(opts: ServicesOptions, first: ProjectStore, emit: Listener, releaseFirst?: () => void): ServiceContext {
  let store = first
  let release = releaseFirst
  const closers: Array<() => Promise<void> | void> = []
  const datasets = new Map<number, TraceDataset>()
  const ctx: ServiceContext = {
    opts,
    get store() {
      return store
    },
    emit,
    jobs: new Map(),
    followed: new Map(),
    dataset(id) {
      let d = datasets.get(id)
      if (!d) {
        ctx.datasetSummary(id)
        d = store.getDataset(id)
        if (datasets.size >= 3) datasets.delete(datasets.keys().next().value!)
        datasets.set(id, d)
      }
      return d
    },
    datasetSummary(id) {
      const s = store.listDatasets().find((x) => x.id === id)
      if (!s) throw new ApiError(`dataset ${id} is not in the project ${store.file}`, 'not_found')
      return s
    },
    forgetDataset: (id) => void datasets.delete(id),
    run(id) {
      const r = store.getRun(id)
      if (!r) throw new ApiError(`run ${id} is not in the project ${store.file}`, 'not_found')
      return r
    },
    onProjectClose: (f) => void closers.push(f),
    async switchProject(next, releaseNext) {
      await ctx.close()
      store = next
      release = releaseNext
    },
    async close() {
      await Promise.all(closers.map(async (f) => f()))
      store.close()
      datasets.clear()
      release?.()
      release = undefined
    }
  }
  return ctx
}
