// Entry of a training worker (worker_threads under Node; the same file is bundled for the
// desktop app). It opens the project itself — SQLite in WAL mode lets the UI read while the
// worker writes — runs one job and streams its events to the parent.
import { parentPort, workerData } from 'node:worker_threads'
import { resolveConfig } from '../../shared/config.ts'
import { openProject } from '../store/index.ts'
import { executeRun, scoreDatasetReference } from './execute-run.ts'
import type { RunEvent } from './types.ts'

export interface WorkerInput {
  projectFile: string
  config: unknown
  /** "run" (default): train; "score": reference scoring of one dataset */
  job?: 'run' | 'score'
  datasetId?: number
}

export type WorkerMessage = RunEvent | { type: 'error'; message: string }

async function main(): Promise<void> {
  if (!parentPort) throw new Error('worker-entry must run as a worker')
  const port = parentPort
  const input = workerData as WorkerInput
  const abort = new AbortController()
  port.on('message', (m: { type?: string }) => {
    if (m?.type === 'cancel') abort.abort()
  })
  const post = (m: WorkerMessage): void => port.postMessage(m)
  let store: ReturnType<typeof openProject> | null = null
  let started = false
  try {
    if (input.job === 'score') {
      store = openProject(input.projectFile)
      const r = await scoreDatasetReference(store, input.datasetId!, (input.config ?? {}) as Record<string, unknown>, { signal: abort.signal, onEvent: post })
      post({ type: 'end', runId: 0, status: r.status, final: { steps: r.steps } })
      return
    }
    const config = resolveConfig(input.config)
    store = openProject(input.projectFile)
    await executeRun(store, config, {
      signal: abort.signal,
      onEvent: (e) => {
        if (e.type === 'start') started = true
        post(e)
      }
    })
  } catch (e) {
    // an error before the run row exists is an input error: report it, nothing was written
    if (!started) post({ type: 'error', message: e instanceof Error ? e.message : String(e) })
    else throw e
  } finally {
    store?.close()
    port.close()
  }
}

void main()
