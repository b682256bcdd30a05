// The contract's handlers (src/shared/contract.ts), in plain Node: no electron here. One Services
// object owns the open project store and the jobs it started. Its two front ends — the local
// server (HTTP + WebSocket, for a browser tab and the desktop window alike) and the `iwsft`
// command line — and the tests all call `call(name, input)`, which validates the input with the
// contract's schema, checks the paths it names against the back end's grants (allowed-paths.ts,
// for the server), and turns whatever a handler throws into the contract's ApiError (errors.ts).
//
// One file per namespace: project.ts (app.*, project.*), datasets.ts (datasets.*, presets.*),
// runs.ts (config.*, runs.*), sweeps.ts (sweeps.*), launch.ts (launch.*, python.*), reports.ts (runs.export, reports.make), backend.ts (backend.*),
// byo.ts (byo.*), models.ts (models.*). They share a ServiceContext (context.ts).
import { dirname } from 'node:path'
import { ApiError, isRequestName, parseInput, type Handlers, type RequestName, type RequestOutput } from '../../shared/contract.ts'
import { createPathPolicy } from './allowed-paths.ts'
import { backendHandlers } from './backend.ts'
import { byoHandlers } from './byo.ts'
import { createContext, type Listener, type ServicesOptions } from './context.ts'
import { datasetHandlers } from './datasets.ts'
import { toApiError } from './errors.ts'
import { openWithBuiltins, projectHandlers } from './project.ts'
import { modelHandlers } from './models.ts'
import { recoverHandlers } from './project-recover.ts'
import { memoryRecentList } from './recent.ts'
import { reportHandlers } from './reports.ts'
import { runHandlers } from './runs.ts'
import { watchRuns } from './run-watcher.ts'
import { sweepHandlers } from './sweeps.ts'
import { launchHandlers } from './launch.ts'

export { IMPORT_FORMATS } from './project.ts'
export { configIssues } from './errors.ts'
export type { ServicesOptions } from './context.ts'

export interface Services {
  /** validate `input` against the contract and run the handler; every failure is an ApiError */
  call<N extends RequestName>(name: N, input: unknown): Promise<RequestOutput<N>>
  call(name: string, input: unknown): Promise<unknown>
  /** subscribe to every event; returns an unsubscribe function */
  subscribe(listener: Listener): () => void
  readonly projectFile: string
  activeRuns(): number[]
  /** cancel every running job and wait (at most `timeoutMs`) for them to end, then close the project */
  shutdown(timeoutMs?: number): Promise<void>
  /** let requests name this folder (and what is under it) or this file; a no-op without `confine` */
  grantPath(path: string, kind: 'dir' | 'file'): void
}

export async function createServices(opts: ServicesOptions): Promise<Services> {
  const recent = opts.recent ?? memoryRecentList()
  const release = opts.claimProject?.(opts.projectFile)
  const first = await openWithBuiltins(opts.projectFile).catch((e: unknown) => {
    release?.()
    throw toApiError(e)
  })
  recent.add(first.file)
  const listeners = new Set<Listener>()
  const emit: Listener = (event, payload) => {
    for (const l of listeners) {
      try {
        l(event, payload)
      } catch {
        // one broken listener must not stop the others
      }
    }
  }
  const ctx = createContext(opts, first, emit, release)
  const confine = opts.confine
  const paths = confine
    ? createPathPolicy({
        roots: () => [dirname(ctx.store.file), ...(opts.uploadDir ? [opts.uploadDir] : []), ...(confine.allowDirs ?? [])],
        knownProjects: () => recent.list(),
        hint: confine.hint
      })
    : null
  const handlers: Handlers = {
    ...projectHandlers(ctx, recent),
    ...recoverHandlers(ctx),
    ...datasetHandlers(ctx),
    ...runHandlers(ctx),
    ...sweepHandlers(ctx),
    ...launchHandlers(ctx),
    ...reportHandlers(ctx),
    ...backendHandlers(ctx),
    ...byoHandlers(ctx),
    ...modelHandlers(ctx)
  }

  const watchMs = opts.watchMs === undefined ? (opts.transport === 'http' ? 1000 : null) : opts.watchMs
  const watcher = watchMs ? watchRuns(ctx, watchMs) : null

  const call = async (name: string, input: unknown): Promise<unknown> => {
    if (!isRequestName(name)) throw new ApiError(`unknown request "${name}"`, 'not_found')
    try {
      const h = handlers[name] as (i: unknown) => Promise<unknown>
      const parsed = parseInput(name, input)
      paths?.check(name, parsed)
      return await h(parsed)
    } catch (e) {
      throw toApiError(e)
    }
  }

  return {
    call: call as Services['call'],
    subscribe: (l) => {
      listeners.add(l)
      return () => listeners.delete(l)
    },
    get projectFile() {
      return ctx.store.file
    },
    activeRuns: () => [...ctx.jobs.keys()],
    shutdown: async (timeoutMs = 3000) => {
      watcher?.stop()
      const pending = [...ctx.jobs.values()].map((j) => {
        j.handle.cancel()
        return j.handle.done.catch(() => {})
      })
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([Promise.all(pending), new Promise((r) => (timer = setTimeout(r, timeoutMs)))])
      clearTimeout(timer)
      await ctx.close()
    },
    grantPath: (path, kind) => paths?.grant(path, kind)
  }
}
