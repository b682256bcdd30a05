// The contract's handlers (src/shared/contract.ts), in plain Node: no electron here. One Services
// object owns the open project store and the jobs it started. Its three front ends — Electron IPC,
// `iwsft serve` (HTTP + WebSocket) and the `iwsft` command line — and the tests all call
// `call(name, input)`, which validates the input with the contract's schema before a handler sees
// it, and turns whatever a handler throws into the contract's ApiError (errors.ts).
//
// One file per namespace: project.ts (app.*, project.*), datasets.ts (datasets.*, presets.*),
// runs.ts (config.*, runs.*), reports.ts (runs.export, reports.make), backend.ts (backend.*),
// byo.ts (byo.*), models.ts (models.*). They share a ServiceContext (context.ts).
import { ApiError, isRequestName, parseInput, type Handlers, type RequestName, type RequestOutput } from '../../shared/contract.ts'
import { backendHandlers } from './backend.ts'
import { byoHandlers } from './byo.ts'
import { createContext, type Listener, type ServicesOptions } from './context.ts'
import { datasetHandlers } from './datasets.ts'
import { toApiError } from './errors.ts'
import { openWithBuiltins, projectHandlers } from './project.ts'
import { modelHandlers } from './models.ts'
import { memoryRecentList } from './recent.ts'
import { reportHandlers } from './reports.ts'
import { runHandlers } from './runs.ts'

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
}

export async function createServices(opts: ServicesOptions): Promise<Services> {
  const recent = opts.recent ?? memoryRecentList()
  const first = await openWithBuiltins(opts.projectFile).catch((e: unknown) => {
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
  const ctx = createContext(opts, first, emit)
  const handlers: Handlers = {
    ...projectHandlers(ctx, recent),
    ...datasetHandlers(ctx),
    ...runHandlers(ctx),
    ...reportHandlers(ctx),
    ...backendHandlers(ctx),
    ...byoHandlers(ctx),
    ...modelHandlers(ctx)
  }

  const call = async (name: string, input: unknown): Promise<unknown> => {
    if (!isRequestName(name)) throw new ApiError(`unknown request "${name}"`, 'not_found')
    try {
      const h = handlers[name] as (i: unknown) => Promise<unknown>
      return await h(parseInput(name, input))
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
      const pending = [...ctx.jobs.values()].map((j) => {
        j.handle.cancel()
        return j.handle.done.catch(() => {})
      })
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([Promise.all(pending), new Promise((r) => (timer = setTimeout(r, timeoutMs)))])
      clearTimeout(timer)
      await ctx.close()
    }
  }
}
