// Entry of a training worker (worker_threads under Node; the same file is bundled for the
// desktop app). It opens the project itself — SQLite in WAL mode lets the UI read while the
// worker writes — runs one job and streams its events to the parent.
import { parentPort, workerData } from 'node:worker_threads'
import { resolveConfig } from '../../shared/config.ts'
import { openProject } from '../store/index.ts'
import { executeRun, resumeRun, scoreDatasetReference } from './execute-run.ts'
import type { RunEvent } from './types.ts'

/** One job: train a run from its config, continue a stopped run, or score a dataset's reference. */
export type WorkerInput =
  | { job: 'run'; projectFile: string; config: unknown }
  | { job: 'resume'; projectFile: string; runId: number }
  | { job: 'score'; projectFile: string; datasetId: number; config: Record<string, unknown> }

export type WorkerMessage = RunEvent | { type: 'error'; message: string }

/** Electron's parent port in a utilityProcess (absent in Node and in worker threads). */
interface UtilityParentPort {
  on(event: 'message', f: (e: { data: unknown }) => void): void
  postMessage(m: unknown): void
}

/** The link to the parent: a worker thread gets its input as workerData; an Electron
 *  utilityProcess gets it as the first message, {type: 'start', input}. */
async function connect(): Promise<{ input: WorkerInput; onMessage(f: (m: { type?: string }) => void): void; post(m: WorkerMessage): void; close(): void }> {
  if (parentPort) {
    const port = parentPort
    return { input: workerData as WorkerInput, onMessage: (f) => port.on('message', f), post: (m) => port.postMessage(m), close: () => port.close() }
  }
  const up = (process as unknown as { parentPort?: UtilityParentPort }).parentPort
  if (!up) throw new Error('worker-entry must run as a worker thread or an Electron utility process')
  const listeners: Array<(m: { type?: string }) => void> = []
  let first: ((input: WorkerInput) => void) | null = null
  up.on('message', (e) => {
    const m = e.data as { type?: string; input?: WorkerInput }
    if (m?.type === 'start' && first) first(m.input as WorkerInput)
    else for (const f of listeners) f(m)
  })
  const input = await new Promise<WorkerInput>((resolve) => (first = resolve))
  return {
    input,
    onMessage: (f) => listeners.push(f),
    post: (m) => up.postMessage(m),
    // let the last message leave before the process ends (the runner resolves on exit)
    close: () => setTimeout(() => process.exit(0), 100)
  }
}

async function main(): Promise<void> {
  const link = await connect()
  const input = link.input
  const abort = new AbortController()
  link.onMessage((m) => {
    if (m?.type === 'cancel') abort.abort()
  })
  const post = (m: WorkerMessage): void => link.post(m)
  let store: ReturnType<typeof openProject> | null = null
  let started = false
  try {
    // a bad config is refused before the project is touched
    const config = input.job === 'run' ? resolveConfig(input.config) : null
    store = openProject(input.projectFile)
    const onEvent = (e: RunEvent): void => {
      if (e.type === 'start') started = true
      post(e)
    }
    if (input.job === 'score') {
      const r = await scoreDatasetReference(store, input.datasetId, input.config, { signal: abort.signal, onEvent: post })
      post({ type: 'end', runId: 0, status: r.status, final: { steps: r.steps } })
    } else if (input.job === 'resume') {
      await resumeRun(store, input.runId, { signal: abort.signal, onEvent })
    } else {
      await executeRun(store, config!, { signal: abort.signal, onEvent })
    }
  } catch (e) {
    // an error before the run row exists is an input error: report it, nothing was written
    if (!started) post({ type: 'error', message: e instanceof Error ? e.message : String(e) })
    else throw e
  } finally {
    store?.close()
    link.close()
  }
}

void main()
