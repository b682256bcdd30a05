// Entry of a training worker (worker_threads, in the back end's Node process). It opens the project itself — SQLite in WAL mode lets the UI read while the
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

/** The link to the parent thread: the job's input is the workerData. */
function connect(): { input: WorkerInput; onMessage(f: (m: { type?: string }) => void): void; post(m: WorkerMessage): void; close(): void } {
  const port = parentPort
  if (!port) throw new Error('worker-entry must run as a worker thread')
  return { input: workerData as WorkerInput, onMessage: (f) => port.on('message', f), post: (m) => port.postMessage(m), close: () => port.close() }
}

async function main(): Promise<void> {
  const link = connect()
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
